// Admin: channels — add/edit (keys are write-only: typed in, never shown back), test
// button, live circuit state from /api/status, enable/disable.
import { get, patch, post } from "../api.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";
import { badge, listValue, messageArea, section, table } from "../widgets.js";

const TYPES = ["openai", "anthropic", "gemini", "azure"];

function channelForm(onSaved) {
  const name = h("input", { name: "name", maxlength: "64", required: true, pattern: "[A-Za-z0-9_.\\-]+" });
  const type = h("select", { name: "type" }, TYPES.map((v) => h("option", { value: v }, v)));
  const base = h("input", { name: "base_url", type: "url", required: true, placeholder: "https://api.example.com/v1" });
  const keys = h("input", { name: "api_keys", type: "password", autocomplete: "off" });
  const models = h("input", { name: "models", placeholder: "gpt-4o-mini, gpt-4o" });
  const embeddings = h("input", { name: "embedding_models" });
  const priority = h("input", { name: "priority", type: "number", value: "0" });
  const weight = h("input", { name: "weight", type: "number", min: "1", value: "1" });
  const message = messageArea();
  return h(
    "form",
    {
      class: "card",
      "data-testid": "add-channel",
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        try {
          await post("/api/channels", {
            name: name.value.trim(),
            type: type.value,
            base_url: base.value.trim(),
            api_keys: listValue(keys.value) || [],
            models: listValue(models.value) || [],
            embedding_models: listValue(embeddings.value) || [],
            priority: Number(priority.value || 0),
            weight: Number(weight.value || 1),
          });
          keys.value = "";
          await onSaved();
        } catch (error) {
          message.fail(error);
        }
      },
    },
    h("div", { class: "grid three" },
      field(t("channels.name"), name, t("channels.name_hint")),
      field(t("channels.type"), type),
      field(t("channels.base_url"), base),
      field(t("channels.keys"), keys, t("channels.keys_hint")),
      field(t("channels.models"), models),
      field(t("channels.embedding_models"), embeddings),
      field(t("channels.priority"), priority),
      field(t("channels.weight"), weight),
    ),
    h("button", { type: "submit" }, t("channels.add")),
    message,
  );
}

/** Edit a channel; keys are write-only: left empty, they stay as they are. */
function editor(c, reload, message) {
  const base = h("input", { type: "url", value: c.base_url, required: true });
  const keys = h("input", { type: "password", autocomplete: "off" });
  const models = h("input", { value: c.models.join(", ") });
  const embeddings = h("input", { value: c.embedding_models.join(", ") });
  const priority = h("input", { type: "number", value: String(c.priority) });
  const weight = h("input", { type: "number", min: "1", value: String(c.weight) });
  return h(
    "details",
    {},
    h("summary", { "aria-label": `${t("users.edit")}: ${c.name}` }, t("users.edit")),
    h(
      "form",
      {
        class: "inline",
        "data-testid": `edit-channel-${c.name}`,
        onsubmit: async (event) => {
          event.preventDefault();
          const body = {
            base_url: base.value.trim(),
            models: listValue(models.value) || [],
            embedding_models: listValue(embeddings.value) || [],
            priority: Number(priority.value || 0),
            weight: Number(weight.value || 1),
          };
          const newKeys = listValue(keys.value);
          if (newKeys) body.api_keys = newKeys;
          try {
            await patch(`/api/channels/${encodeURIComponent(c.name)}`, body);
            keys.value = "";
            await reload();
          } catch (error) {
            message.fail(error);
          }
        },
      },
      field(t("channels.base_url"), base),
      field(t("channels.replace_keys"), keys, t("channels.keys_keep")),
      field(t("channels.models"), models),
      field(t("channels.embedding_models"), embeddings),
      field(t("channels.priority"), priority),
      field(t("channels.weight"), weight),
      h("button", { type: "submit", class: "small" }, t("action.save")),
    ),
  );
}

export async function render(root) {
  const [channels, status] = await Promise.all([get("/api/channels"), get("/api/status").catch(() => ({ upstreams: [] }))]);
  const live = new Map(status.upstreams.map((u) => [u.name, u]));
  const message = messageArea();
  const reload = async () => {
    root.replaceChildren();
    await render(root);
  };
  const actions = (c) => {
    const result = h("span", { class: "test-result", role: "status", "aria-live": "polite" });
    const editable = c.source !== "config";
    return h(
      "div",
      { class: "row" },
      h(
        "button",
        {
          type: "button",
          class: "small",
          "aria-label": `${t("channels.test")}: ${c.name}`,
          onclick: async () => {
            result.textContent = t("channels.testing");
            try {
              const r = await post(`/api/channels/${encodeURIComponent(c.name)}/test`);
              result.textContent = r.ok ? t("channels.test_ok", { model: r.model, ms: Math.round(r.latency_ms) }) : t("channels.test_failed", { error: r.error || "" });
              result.className = r.ok ? "test-result ok" : "test-result bad";
            } catch (error) {
              result.textContent = error.message;
            }
          },
        },
        t("channels.test"),
      ),
      editable
        ? h(
            "button",
            {
              type: "button",
              class: "small secondary",
              onclick: async () => {
                try {
                  await patch(`/api/channels/${encodeURIComponent(c.name)}`, { enabled: !c.enabled });
                  await reload();
                } catch (error) {
                  message.fail(error);
                }
              },
            },
            c.enabled ? t("action.disable") : t("action.enable"),
          )
        : h("small", { class: "muted" }, t("channels.from_config")),
      editable ? editor(c, reload, message) : null,
      result,
    );
  };
  const circuit = (c) => {
    const state = live.get(c.name);
    if (!state) return badge(c.enabled ? "—" : t("state.disabled"), "");
    return h("span", {}, badge(state.state, state.state === "up" ? "ok" : "bad"), " ", badge(state.circuit, state.circuit === "closed" ? "ok" : "warn"));
  };
  root.append(
    section("channels.new", channelForm(reload), message),
    section(
      "channels.list",
      table(
        [
          { label: t("channels.name"), cell: (c) => c.name },
          { label: t("channels.type"), cell: (c) => c.type },
          { label: t("channels.base_url"), cell: (c) => h("code", {}, c.base_url) },
          { label: t("channels.keys"), cell: (c) => c.keys.join(" ") },
          { label: t("channels.models"), cell: (c) => [...c.models, ...c.embedding_models, ...c.image_models].join(", ") },
          { label: t("channels.enabled"), cell: (c) => badge(c.enabled ? t("state.active") : t("state.disabled"), c.enabled ? "ok" : "bad") },
          { label: t("channels.live"), cell: circuit },
          { label: t("table.actions"), cell: actions },
        ],
        channels,
      ),
    ),
  );
}
