// "/" — public docs and quick start: the base URL and auth header, a live status widget,
// three steps, model tags that rewrite every snippet, the error table, best practices.
import { get } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { defaultModel, modelsByKind } from "../model_choice.js";
import { KINDS, LANGS, snippet } from "../snippets.js";
import { badge, choiceGroup, codeBlock, section, table } from "../widgets.js";

const POLL_MS = 10000;
const ERRORS = ["400", "401", "402", "403", "404", "413", "429", "500", "502", "503", "504"];
const HEADERS = ["x-request-id", "retry-after", "x-should-retry", "x-ratelimit"];
const PRACTICES = ["key", "retry", "request_id", "stream", "caps", "timeouts"];
let timer = null;

function statusWidget() {
  const box = h("div", { class: "status-widget", "aria-live": "polite", "data-testid": "status" });
  const draw = (report, failed) => {
    box.replaceChildren();
    if (failed || !report) {
      box.append(h("p", {}, t("status.gateway"), " ", badge(t("status.down"), "bad")));
      return;
    }
    const up = (state) => ["up", "ready", "closed", "ok"].includes(state);
    box.append(
      h(
        "p",
        {},
        t("status.gateway"),
        " ",
        badge(t("status.up"), "ok"),
        " ",
        h("small", {}, t("status.version", { version: report.version, uptime: Math.round(report.uptime_seconds) })),
      ),
      h(
        "p",
        {},
        t("status.model_server"),
        " ",
        badge(report.model_server.state, up(report.model_server.state) ? "ok" : report.model_server.state === "disabled" ? "" : "bad"),
      ),
      h(
        "p",
        {},
        t("status.rate_limits"),
        " ",
        badge(`${report.rate_limits.backend || "memory"}: ${report.rate_limits.state || "healthy"}`, (report.rate_limits.state || "healthy") === "healthy" ? "ok" : "bad"),
      ),
    );
    box.append(
      table(
        [
          // Upstream names are shown to admins only: nobody else gets a column of dashes.
          ...(report.upstreams.some((u) => u.name) ? [{ label: t("status.upstream"), cell: (u) => u.name }] : []),
          { label: t("status.state"), cell: (u) => badge(u.state, up(u.state) ? "ok" : "bad") },
          { label: t("status.circuit"), cell: (u) => badge(u.circuit, up(u.circuit) ? "ok" : "warn") },
          { label: t("status.models"), cell: (u) => u.models.join(", ") },
        ],
        report.upstreams,
        { empty: t("status.no_upstreams") },
      ),
    );
  };
  return { box, draw };
}

export async function render(main, ctx) {
  if (timer) clearInterval(timer);
  const base = ctx.base;
  let report = null;
  try {
    report = await get("/api/status");
  } catch {
    report = null;
  }
  const kinds = await modelsByKind(ctx);
  const models = kinds.chat;
  const choice = { model: defaultModel(kinds, "chat"), lang: "curl", kind: "chat" };
  // An embeddings or images snippet names a model of its kind (the chosen one if it is).
  const modelFor = (kind) => {
    const wanted = { embeddings: "embedding", images: "image" }[kind] || "chat";
    return wanted === "chat" || (kinds[wanted] || []).includes(choice.model) ? choice.model : defaultModel(kinds, wanted);
  };
  const prompt = t("docs.sample_prompt");

  const widget = statusWidget();
  widget.draw(report, report === null);
  timer = setInterval(async () => {
    if (document.hidden) return;
    try {
      widget.draw(await get("/api/status"), false);
    } catch {
      widget.draw(null, true);
    }
  }, POLL_MS);

  const quick = codeBlock("", t("docs.step3"));
  const main_snippet = codeBlock("", t("docs.snippets"));
  const rewrite = () => {
    quick.setText(snippet("curl", "chat", { base, model: choice.model, prompt }));
    main_snippet.setText(snippet(choice.lang, choice.kind, { base, model: modelFor(choice.kind), prompt }));
    for (const el of main.querySelectorAll("[data-model-name]")) el.textContent = choice.model;
  };

  const tags = choiceGroup(
    t("docs.model_tags"),
    (models.length ? models : [choice.model]).map((m) => ({ value: m, label: m })),
    choice.model,
    (value) => {
      choice.model = value;
      rewrite();
    },
  );
  tags.classList.add("model-tags");

  main.append(
    h(
      "div",
      { class: "hero" },
      h("h1", {}, t("docs.title")),
      h("p", { class: "lead" }, t("docs.lead")),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("docs.base_url")),
        h("dd", {}, h("code", { "data-testid": "base-url" }, `${base}/v1`)),
        h("dt", {}, t("docs.auth_header")),
        h("dd", {}, h("code", {}, "Authorization: Bearer <API key>")),
        h("dt", {}, t("docs.model")),
        h("dd", {}, h("code", { "data-model-name": "" }, choice.model)),
      ),
    ),
    section("status.title", widget.box),
    section(
      "docs.quick_start",
      h(
        "ol",
        { class: "steps" },
        h("li", {}, h("strong", {}, t("docs.step1")), " ", t("docs.step1_text"), " ", h("a", { href: ctx.me ? "/keys" : "/login" }, t(ctx.me ? "docs.step1_link" : "nav.sign_in"))),
        h("li", {}, h("strong", {}, t("docs.step2")), " ", t("docs.step2_text"), tags),
        h("li", {}, h("strong", {}, t("docs.step3")), " ", t("docs.step3_text"), quick),
      ),
    ),
    section(
      "docs.snippets",
      h("p", {}, t("docs.snippets_text")),
      choiceGroup(t("docs.kind"), KINDS.map((k) => ({ value: k, label: t(`kind.${k}`) })), choice.kind, (v) => {
        choice.kind = v;
        rewrite();
      }),
      choiceGroup(t("docs.language"), LANGS.map((l) => ({ value: l, label: t(`lang_code.${l}`) })), choice.lang, (v) => {
        choice.lang = v;
        rewrite();
      }),
      main_snippet,
      h("p", { class: "muted" }, t("docs.snippets_verified")),
    ),
    section(
      "docs.errors",
      h("p", {}, t("docs.errors_text")),
      table(
        [
          { label: t("docs.error_status"), cell: (s) => h("code", {}, s) },
          { label: t("docs.error_meaning"), cell: (s) => t(`err.${s}.meaning`) },
          { label: t("docs.error_fix"), cell: (s) => t(`err.${s}.fix`) },
        ],
        ERRORS,
      ),
      h("h3", {}, t("docs.headers")),
      h("dl", { class: "headers" }, HEADERS.flatMap((name) => [h("dt", {}, h("code", {}, name)), h("dd", {}, t(`hdr.${name}`))])),
    ),
    section("docs.practices", h("ul", {}, PRACTICES.map((p) => h("li", {}, t(`practice.${p}`))))),
    section(
      "docs.more",
      h(
        "ul",
        {},
        h("li", {}, h("a", { href: "/api/docs" }, t("foot.api_docs"))),
        h("li", {}, h("a", { href: "/guides" }, t("nav.guides"))),
      ),
    ),
  );
  rewrite();
}
