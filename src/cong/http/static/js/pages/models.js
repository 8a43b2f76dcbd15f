// "/models" — a searchable catalogue of the models this user may call: id, aliases, owner,
// context length, capabilities, the price for the user's group, live state.
import { get } from "../api.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";
import { badge, section, table } from "../widgets.js";

const CAPABILITIES = ["chat", "tools", "vision", "json", "reasoning", "embeddings", "images"];

function price(model) {
  const p = model.pricing || model.price;
  if (!p) return "—";
  if (p.free) return t("models.free");
  const parts = [];
  if (p.input !== undefined) parts.push(`${t("models.in")} ${p.input}`);
  if (p.output !== undefined) parts.push(`${t("models.out")} ${p.output}`);
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
      if (!models.has(id)) models.set(id, { id, owned_by: upstream.name, state: upstream.state, pricing: priced.get(id) });
    }
  }
  for (const id of report.model_server.models || []) {
    models.set(id, { id, owned_by: "cong", state: report.model_server.state, pricing: priced.get(id) });
  }
  return [...models.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export async function render(main) {
  const models = await catalogue();
  const holder = h("div", { "data-testid": "model-list" });
  const search = h("input", { type: "search", name: "q", autocomplete: "off" });
  const draw = () => {
    holder.replaceChildren(
      table(
        [
          { label: t("models.id"), cell: (m) => h("code", {}, m.id) },
          { label: t("models.aliases"), cell: (m) => (m.aliases || []).join(", ") || "—" },
          { label: t("models.owner"), cell: (m) => m.owned_by || "—" },
          { label: t("models.context"), cell: (m) => (m.context_length ? m.context_length.toLocaleString() : "—") },
          { label: t("models.capabilities"), cell: capabilities },
          { label: t("models.price"), cell: price },
          { label: t("models.state"), cell: (m) => (m.state ? badge(m.state, ["up", "ready", "closed"].includes(m.state) ? "ok" : "bad") : "—") },
        ],
        models.filter((m) => matches(m, search.value.trim())),
        { caption: t("models.caption"), empty: t("models.none") },
      ),
    );
  };
  search.addEventListener("input", draw);
  main.append(
    h("h1", {}, t("models.title")),
    h("p", { class: "lead" }, t("models.lead")),
    section("models.catalogue", h("div", { class: "card" }, field(t("models.search"), search)), holder),
  );
  draw();
}
