// "/models" — a searchable catalogue of the models this user may call: id, aliases, owner,
// context length, capabilities, the price for the user's group, live state.
import { get } from "../api.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";
import { badge, section, table } from "../widgets.js";

const CAPABILITIES = ["chat", "tools", "vision", "json", "reasoning", "embeddings", "images"];

function price(model) {
  const p = model.price || model.pricing;
  if (!p) return t("models.no_price");
  const input = p.input_per_m ?? p.input;
  const output = p.output_per_m ?? p.output;
  if (![input, output, p.per_call, p.per_image].some((v) => v !== undefined && Number(v))) return t("models.free");
  const parts = [];
  if (input !== undefined) parts.push(`${t("models.in")} ${input}`);
  if (output !== undefined) parts.push(`${t("models.out")} ${output}`);
  if (p.per_image && Number(p.per_image)) parts.push(`${t("models.image")} ${p.per_image}`);
  if (p.per_call && Number(p.per_call)) parts.push(`${t("models.call")} ${p.per_call}`);
  return parts.join(" · ") || "—";
}

function capabilities(model) {
  const caps = model.capabilities || {};
  const names = Array.isArray(caps) ? caps : CAPABILITIES.filter((c) => caps[c]);
  return h("span", { class: "caps" }, names.map((c) => badge(t(`cap.${c}`), "")));
}

function matches(model, text) {
  if (!text) return true;
  const haystack = [model.id, model.owned_by, ...(model.aliases || [])].join(" ").toLowerCase();
  return haystack.includes(text.toLowerCase());
}

/** The catalogue: /api/models, or (on a gateway without it) status + prices. */
async function catalogue() {
  try {
    const body = await get("/api/models");
    return body.data || body;
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const [report, prices] = await Promise.all([get("/api/status"), get("/api/prices")]);
  const priced = new Map(prices.map((p) => [p.model, p]));
  const models = new Map();
  for (const upstream of report.upstreams) {
    for (const id of upstream.models) {
      if (!models.has(id)) models.set(id, { id, owned_by: upstream.name || "", state: upstream.state === "up" ? "up" : "down", price: priced.get(id) });
    }
  }
  for (const id of report.model_server.models || []) {
    models.set(id, { id, owned_by: "cong", state: report.model_server.state === "ready" ? "up" : "down", price: priced.get(id) });
  }
  return [...models.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export async function render(main, ctx) {
  const models = await catalogue();
  const holder = h("div", { "data-testid": "model-list" });
  const search = h("input", { type: "search", name: "q", autocomplete: "off" });
  const draw = () => {
    holder.replaceChildren(
      table(
        [
          { label: t("models.id"), cell: (m) => h("code", {}, m.id) },
          { label: t("models.kind"), cell: (m) => (m.kind ? t(`model_kind.${m.kind}`) : "—") },
          { label: t("models.aliases"), cell: (m) => (m.aliases || []).join(", ") || "—" },
          { label: t("models.owner"), cell: (m) => m.owned_by || "—" },
          { label: t("models.context"), cell: (m) => (m.context_length ? m.context_length.toLocaleString() : "—") },
          { label: t("models.capabilities"), cell: capabilities },
          { label: t("models.price"), cell: price },
          { label: t("models.state"), cell: (m) => (m.state ? badge(t(`model_state.${m.state}`), m.state === "up" ? "ok" : m.state === "degraded" ? "warn" : "bad") : "—") },
        ],
        models.filter((m) => matches(m, search.value.trim())),
        { caption: t("models.caption"), empty: t("models.none") },
      ),
    );
  };
  search.addEventListener("input", draw);
  main.append(
    h("h1", {}, t("models.title")),
    h("p", { class: "lead" }, t("models.lead"), ctx?.currency ? ` ${t("models.prices_in", { currency: ctx.currency })}` : ""),
    section("models.catalogue", h("div", { class: "card" }, field(t("models.search"), search)), holder),
  );
  draw();
}
