// "/guides" — IDE and tool set-up generated for this server and the chosen key and model.
import { get } from "../api.js";
import { defaultModel, modelsByKind } from "../model_choice.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";
import { TOOLS } from "../guides.js";
import { KEY_PLACEHOLDER } from "../snippets.js";
import { badge, codeBlock, section } from "../widgets.js";

export async function render(main, ctx) {
  const kinds = await modelsByKind(ctx);
  const models = kinds.chat; // an IDE or agent is configured with a chat model
  const model = h("select", { name: "model" }, (models.length ? models : ["gpt-4o"]).map((m) => h("option", { value: m }, m)));
  model.value = defaultModel(kinds, "chat");
  const keyChoice = h("select", { name: "key" }, h("option", { value: "" }, t("guides.key_env")));
  const known = new Map();
  if (ctx.me) {
    try {
      const keys = await get("/api/keys");
      for (const k of keys.filter((k) => k.state === "active")) {
        known.set(k.id, k);
        keyChoice.append(h("option", { value: k.id }, `${k.name} (${k.masked})`));
      }
    } catch {
      // the list is optional
    }
  }
  const secret = h("input", { name: "secret", type: "password", autocomplete: "off", spellcheck: "false" });
  const blocks = h("div", { class: "guides" });
  const draw = () => {
    const values = {
      base: ctx.base,
      key: secret.value.trim() || KEY_PLACEHOLDER,
      model: model.value,
      prompt: t("docs.sample_prompt"),
    };
    const chosen = known.get(keyChoice.value);
    const which = chosen
      ? t("guides.using_key", { name: chosen.name, masked: chosen.masked })
      : t("guides.using_env");
    blocks.replaceChildren(
      h("p", { class: "card", role: "status", "data-testid": "key-note" }, which),
      ...TOOLS.map((tool) =>
        h(
          "article",
          { class: "card guide", id: `guide-${tool.id}`, "data-testid": `guide-${tool.id}` },
          h("h3", {}, t(`guide.${tool.id}.name`), " ", tool.verified ? badge(t("guides.verified"), "ok") : badge(t("guides.not_verified"), "")),
          h("p", {}, t(`guide.${tool.id}.steps`)),
          h("p", { class: "muted" }, h("code", {}, tool.file)),
          codeBlock(tool.config(values), t(`guide.${tool.id}.name`)),
          tool.verified ? h("p", { class: "muted" }, t("guides.verified_by", { test: tool.verified })) : null,
        ),
      ),
    );
  };
  for (const control of [model, keyChoice, secret]) control.addEventListener("input", draw);
  main.append(
    h("h1", {}, t("guides.title")),
    h("p", { class: "lead" }, t("guides.lead")),
    section(
      "guides.choose",
      h(
        "div",
        { class: "card grid three" },
        field(t("docs.model"), model),
        field(t("guides.key"), keyChoice, t("guides.key_hint")),
        field(t("guides.secret"), secret, t("guides.secret_hint")),
      ),
    ),
    h("nav", { class: "toc", "aria-label": t("guides.tools") }, h("ul", {}, TOOLS.map((tool) => h("li", {}, h("a", { href: `#guide-${tool.id}` }, t(`guide.${tool.id}.name`)))))),
    blocks,
  );
  draw();
}
