// Configuration for IDEs and tools, generated for this server, a model and a key.
// `verified` names the test that runs that configuration against a real gateway.
import { KEY_PLACEHOLDER, snippet } from "./snippets.js";

function keyOr(key, envRef) {
  return key === KEY_PLACEHOLDER ? envRef : key;
}

export const TOOLS = [
  {
    id: "claude_code",
    file: "shell",
    verified: "tests/web/browser/test_snippets.py (the anthropic SDK with these variables)",
    config: ({ base, key, model }) =>
      [
        `export ANTHROPIC_BASE_URL=${base}`,
        `export ANTHROPIC_AUTH_TOKEN=${keyOr(key, "$CONG_API_KEY")}`,
        `export ANTHROPIC_MODEL=${JSON.stringify(model)}`,
        `export ANTHROPIC_DEFAULT_HAIKU_MODEL=${JSON.stringify(model)}`,
        "claude",
      ].join("\n"),
  },
  {
    id: "codex",
    file: "~/.codex/config.toml",
    verified: "tests/web/browser/test_snippets.py (the openai SDK's Responses client with this provider)",
    config: ({ base, key, model }) =>
      [
        `# In your shell: export CONG_API_KEY=${keyOr(key, "<your Cổng key>")}`,
        `model = ${JSON.stringify(model)}`,
        'model_provider = "cong"',
        "",
        "[model_providers.cong]",
        'name = "Cổng"',
        `base_url = ${JSON.stringify(`${base}/v1`)}`,
        'env_key = "CONG_API_KEY"',
        'wire_api = "responses"',
      ].join("\n"),
  },
  {
    id: "cursor",
    file: "Cursor → Settings → Models",
    config: ({ base, key, model }) =>
      [`OpenAI API Key:          ${keyOr(key, "<your Cổng key>")}`, `Override OpenAI Base URL: ${base}/v1`, `Add model:               ${model}`].join("\n"),
  },
  {
    id: "continue",
    file: "~/.continue/config.yaml",
    config: ({ base, key, model }) =>
      [
        "name: Cong",
        "version: 1.0.0",
        "schema: v1",
        "models:",
        `  - name: Cổng ${model}`,
        "    provider: openai",
        `    model: ${model}`,
        `    apiBase: ${base}/v1`,
        `    apiKey: ${keyOr(key, "${{ secrets.CONG_API_KEY }}")}`,
        "    roles: [chat, edit, apply]",
      ].join("\n"),
  },
  {
    id: "aider",
    file: "shell",
    config: ({ base, key, model }) =>
      [`export OPENAI_API_BASE=${base}/v1`, `export OPENAI_API_KEY=${keyOr(key, "$CONG_API_KEY")}`, `aider --model openai/${model}`].join("\n"),
  },
  {
    id: "cline",
    file: "Cline → Settings → API Provider: OpenAI Compatible",
    config: ({ base, key, model }) =>
      [`Base URL: ${base}/v1`, `API Key:  ${keyOr(key, "<your Cổng key>")}`, `Model ID: ${model}`].join("\n"),
  },
  {
    id: "roo",
    file: "Roo Code → Settings → Providers: OpenAI Compatible",
    config: ({ base, key, model }) =>
      [`Base URL: ${base}/v1`, `API Key:  ${keyOr(key, "<your Cổng key>")}`, `Model:    ${model}`].join("\n"),
  },
  {
    id: "openclaw",
    file: "~/.openclaw/openclaw.json",
    config: ({ base, key, model }) =>
      JSON.stringify(
        {
          models: {
            mode: "merge",
            providers: {
              cong: {
                baseUrl: `${base}/v1`,
                apiKey: keyOr(key, "${CONG_API_KEY}"),
                api: "openai-completions",
                models: [{ id: model, name: model }],
              },
            },
          },
          agents: { defaults: { model: { primary: `cong/${model}` } } },
        },
        null,
        2,
      ),
  },
  {
    id: "opencode",
    file: "opencode.json",
    config: ({ base, key, model }) =>
      JSON.stringify(
        {
          $schema: "https://opencode.ai/config.json",
          provider: {
            cong: {
              npm: "@ai-sdk/openai-compatible",
              name: "Cổng",
              options: { baseURL: `${base}/v1`, apiKey: keyOr(key, "{env:CONG_API_KEY}") },
              models: { [model]: { name: model } },
            },
          },
          model: `cong/${model}`,
        },
        null,
        2,
      ),
  },
  {
    id: "openai_python",
    file: "app.py",
    verified: "tests/web/browser/test_snippets.py, tests/http/test_openai_sdk.py",
    config: ({ base, key, model, prompt }) => snippet("python", "chat", { base, key, model, prompt }),
  },
  {
    id: "openai_node",
    file: "app.mjs",
    config: ({ base, key, model, prompt }) => snippet("node", "chat", { base, key, model, prompt }),
  },
  {
    id: "langchain",
    file: "app.py",
    config: ({ base, key, model, prompt }) =>
      [
        "import os",
        "from langchain_openai import ChatOpenAI",
        "",
        "llm = ChatOpenAI(",
        `    base_url=${JSON.stringify(`${base}/v1`)},`,
        `    api_key=${key === KEY_PLACEHOLDER ? 'os.environ["CONG_API_KEY"]' : JSON.stringify(key)},`,
        `    model=${JSON.stringify(model)},`,
        ")",
        `print(llm.invoke(${JSON.stringify(prompt)}).content)`,
      ].join("\n"),
  },
];
