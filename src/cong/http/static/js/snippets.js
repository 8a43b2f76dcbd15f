// Code snippets generated for this server, a model and (optionally) a key. The text is
// shown with textContent, so nothing here is ever parsed as HTML.

export const LANGS = ["curl", "python", "browser", "node"];
export const KINDS = ["chat", "stream", "embeddings", "images"];
export const KEY_PLACEHOLDER = "$CONG_API_KEY";

const PATHS = {
  chat: "/chat/completions",
  stream: "/chat/completions",
  embeddings: "/embeddings",
  images: "/images/generations",
};

function body(kind, model, prompt) {
  if (kind === "embeddings") return { model, input: prompt };
  if (kind === "images") return { model, prompt, n: 1, size: "1024x1024" };
  const request = { model, messages: [{ role: "user", content: prompt }] };
  if (kind === "stream") request.stream = true;
  return request;
}

function json(value, indent) {
  return JSON.stringify(value, null, indent);
}

function curl(base, key, kind, model, prompt) {
  const keyRef = key === KEY_PLACEHOLDER ? "$CONG_API_KEY" : key;
  const stream = kind === "stream" ? "-N " : "";
  return [
    `curl ${stream}${base}/v1${PATHS[kind]} \\`,
    `  -H "Authorization: Bearer ${keyRef}" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d '${json(body(kind, model, prompt)).replace(/'/g, "'\\''")}'`,
  ].join("\n");
}

function python(base, key, kind, model, prompt) {
  const keyArg = key === KEY_PLACEHOLDER ? 'os.environ["CONG_API_KEY"]' : json(key);
  const head = [
    "import os",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${json(`${base}/v1`)}, api_key=${keyArg})`,
    "",
  ];
  const m = json(model);
  const p = json(prompt);
  const tails = {
    chat: [
      "reply = client.chat.completions.create(",
      `    model=${m},`,
      `    messages=[{"role": "user", "content": ${p}}],`,
      ")",
      "print(reply.choices[0].message.content)",
    ],
    stream: [
      "stream = client.chat.completions.create(",
      `    model=${m},`,
      `    messages=[{"role": "user", "content": ${p}}],`,
      "    stream=True,",
      ")",
      "for chunk in stream:",
      "    if chunk.choices:",
      '        print(chunk.choices[0].delta.content or "", end="", flush=True)',
    ],
    embeddings: [
      `result = client.embeddings.create(model=${m}, input=${p})`,
      "print(len(result.data[0].embedding))",
    ],
    images: [
      `image = client.images.generate(model=${m}, prompt=${p}, n=1)`,
      "print(image.data[0].url or image.data[0].b64_json[:40])",
    ],
  };
  return [...head, ...tails[kind]].join("\n");
}

function fetchCall(base, keyExpr, kind, model, prompt) {
  return [
    `const response = await fetch(${json(`${base}/v1${PATHS[kind]}`)}, {`,
    '  method: "POST",',
    "  headers: {",
    `    Authorization: \`Bearer \${${keyExpr}}\`,`,
    '    "Content-Type": "application/json",',
    "  },",
    `  body: JSON.stringify(${json(body(kind, model, prompt))}),`,
    "});",
    'if (!response.ok) throw new Error(`${response.status} ${response.headers.get("x-request-id")}`);',
  ];
}

function jsResult(kind) {
  if (kind === "stream") {
    return [
      "const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();",
      "for (;;) {",
      "  const { value, done } = await reader.read();",
      "  if (done) break;",
      "  for (const line of value.split(\"\\n\")) {",
      '    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;',
      "    const delta = JSON.parse(line.slice(6)).choices[0]?.delta?.content;",
      "    if (delta) console.log(delta);",
      "  }",
      "}",
    ];
  }
  const pick = {
    chat: "data.choices[0].message.content",
    embeddings: "data.data[0].embedding.length",
    images: "data.data[0].url ?? data.data[0].b64_json.slice(0, 40)",
  }[kind];
  return ["const data = await response.json();", `console.log(${pick});`];
}

function browser(base, key, kind, model, prompt) {
  const keyLine =
    key === KEY_PLACEHOLDER
      ? "// Never ship a real key in a public web page: use a server-side proxy or a short-lived, capped key."
      : "// This key is yours: keep this page private.";
  const value = key === KEY_PLACEHOLDER ? "YOUR_CONG_API_KEY" : key;
  return [keyLine, `const apiKey = ${json(value)};`, ...fetchCall(base, "apiKey", kind, model, prompt), ...jsResult(kind)].join("\n");
}

function node(base, key, kind, model, prompt) {
  const keyExpr = key === KEY_PLACEHOLDER ? "process.env.CONG_API_KEY" : json(key);
  const m = json(model);
  const p = json(prompt);
  const head = [
    'import OpenAI from "openai";',
    "",
    `const client = new OpenAI({ baseURL: ${json(`${base}/v1`)}, apiKey: ${keyExpr} });`,
    "",
  ];
  const tails = {
    chat: [
      "const reply = await client.chat.completions.create({",
      `  model: ${m},`,
      `  messages: [{ role: "user", content: ${p} }],`,
      "});",
      "console.log(reply.choices[0].message.content);",
    ],
    stream: [
      "const stream = await client.chat.completions.create({",
      `  model: ${m},`,
      `  messages: [{ role: "user", content: ${p} }],`,
      "  stream: true,",
      "});",
      "for await (const chunk of stream) {",
      '  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");',
      "}",
    ],
    embeddings: [
      `const result = await client.embeddings.create({ model: ${m}, input: ${p} });`,
      "console.log(result.data[0].embedding.length);",
    ],
    images: [
      `const image = await client.images.generate({ model: ${m}, prompt: ${p}, n: 1 });`,
      "console.log(image.data[0].url ?? image.data[0].b64_json.slice(0, 40));",
    ],
  };
  return [...head, ...tails[kind]].join("\n");
}

const BUILDERS = { curl, python, browser, node };

export function snippet(lang, kind, { base, key = KEY_PLACEHOLDER, model, prompt }) {
  return BUILDERS[lang](base, key, kind, model, prompt);
}
