// "/usage" — daily charts (requests, tokens, cost) from the daily-series API, and the
// request log with filters, lookup by request id, paging and CSV export.
import { get, query } from "../api.js";
import { field, fmtDate, h } from "../dom.js";
import { currentLang, t } from "../i18n.js";
import { barChart } from "../chart.js";
import { badge, messageArea, section, table } from "../widgets.js";

async function drawCharts(holder, filters) {
  let series;
  try {
    series = await get(`/api/usage/daily${query({ model: filters.model, key: filters.key, since: filters.since, until: filters.until })}`);
  } catch (error) {
    holder.replaceChildren(h("p", { class: "muted" }, t("usage.no_series"), " ", error.message));
    return;
  }
  const days = series.data || series.days || [];
  const points = (pick) => days.map((d) => ({ label: d.day || d.date, value: pick(d) }));
  holder.replaceChildren(
    h(
      "div",
      { class: "grid three charts" },
      h("figure", {}, h("figcaption", {}, t("usage.requests")), barChart(t("usage.requests"), points((d) => d.requests))),
      h("figure", {}, h("figcaption", {}, t("usage.tokens")), barChart(t("usage.tokens"), points((d) => (d.prompt_tokens || 0) + (d.completion_tokens || 0)))),
      h("figure", {}, h("figcaption", {}, t("usage.cost")), barChart(t("usage.cost"), points((d) => Number(d.cost_micros || 0) / 1e6), (v) => v.toFixed(4))),
    ),
  );
}

function logTable(rows) {
  return table(
    [
      { label: t("usage.when"), cell: (r) => fmtDate(r.created_at, currentLang()) },
      { label: t("usage.request_id"), cell: (r) => h("code", {}, r.request_id) },
      { label: t("usage.model"), cell: (r) => r.model },
      { label: t("usage.key"), cell: (r) => r.key_id },
      { label: t("usage.status"), cell: (r) => badge(String(r.status), r.status < 400 ? "ok" : "bad") },
      { label: t("usage.tokens"), cell: (r) => `${r.prompt_tokens} → ${r.completion_tokens}` },
      { label: t("usage.cost"), cell: (r) => r.cost },
      { label: t("usage.latency"), cell: (r) => `${r.latency_ms} ms` },
    ],
    rows,
    { caption: t("usage.log"), empty: t("usage.none") },
  );
}

export async function render(main, ctx) {
  const filters = { model: "", key: "", since: "", until: "", request_id: "" };
  const charts = h("div", { "data-testid": "charts" });
  const log = h("div", { "data-testid": "usage-log" });
  const message = messageArea();
  const inputs = {
    request_id: h("input", { name: "request_id", placeholder: "req_…", spellcheck: "false" }),
    model: h("input", { name: "model" }),
    key: h("input", { name: "key", spellcheck: "false" }),
    since: h("input", { name: "since", type: "date" }),
    until: h("input", { name: "until", type: "date" }),
  };
  const exportLink = h("a", { class: "button secondary", href: "/api/usage/export.csv", download: "usage.csv" }, t("usage.export"));

  const load = async (cursor) => {
    message.clear();
    const params = { ...filters, cursor, limit: 50 };
    delete params.request_id;
    try {
      let rows;
      let next = null;
      if (filters.request_id) {
        // lookup by request id: scan pages of the filtered log until it is found
        rows = [];
        let page = { next_cursor: null };
        let pages = 0;
        do {
          page = await get(`/api/usage${query({ ...params, cursor: page.next_cursor, limit: 500 })}`);
          rows = page.data.filter((r) => r.request_id === filters.request_id);
          pages += 1;
        } while (!rows.length && page.next_cursor && pages < 20);
      } else {
        const page = await get(`/api/usage${query(params)}`);
        rows = page.data;
        next = page.next_cursor;
      }
      log.replaceChildren(logTable(rows));
      if (next) log.append(h("button", { type: "button", class: "secondary", onclick: () => load(next) }, t("table.next")));
      const csv = { ...filters };
      delete csv.request_id;
      exportLink.setAttribute("href", `/api/usage/export.csv${query(csv)}`);
    } catch (error) {
      message.fail(error);
    }
  };

  const form = h(
    "form",
    {
      class: "card filters",
      "data-testid": "usage-filters",
      onsubmit: async (event) => {
        event.preventDefault();
        for (const [name, input] of Object.entries(inputs)) filters[name] = input.value.trim();
        await Promise.all([load(null), drawCharts(charts, filters)]);
      },
    },
    h(
      "div",
      { class: "grid three" },
      field(t("usage.request_id"), inputs.request_id),
      field(t("usage.model"), inputs.model),
      field(t("usage.key"), inputs.key),
      field(t("usage.since"), inputs.since),
      field(t("usage.until"), inputs.until),
    ),
    h("div", { class: "row" }, h("button", { type: "submit" }, t("usage.apply")), exportLink),
    message,
  );
  main.append(h("h1", {}, t("usage.title")), section("usage.per_day", charts), section("usage.log", form, log));
  await Promise.all([load(null), drawCharts(charts, filters)]);
}
