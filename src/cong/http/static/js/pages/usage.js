// "/usage" — daily charts (requests, tokens, cost) from the daily-series API, and the
// request log with filters, lookup by request id, paging and CSV export.
import { get, query } from "../api.js";
import { field, fmtDate, h } from "../dom.js";
import { t } from "../i18n.js";
import { barChart } from "../chart.js";
import { badge, choiceGroup, messageArea, section, table } from "../widgets.js";

/** Charts of requests, tokens and cost per day (from the daily roll-ups), and the
 * same split by model or by key. */
async function drawCharts(holder, filters, by) {
  let daily;
  try {
    daily = await get(`/api/usage/daily${query({ by, model: filters.model, key: filters.key, since: filters.since, until: filters.until })}`);
    // (the daily roll-ups have no per-status split: the status filter applies to the log)
  } catch (error) {
    holder.replaceChildren(h("p", { class: "muted" }, t("usage.no_series"), " ", error.message));
    return;
  }
  const points = (values) => daily.days.map((day, i) => ({ label: day, value: values[i] }));
  const totals = daily.totals;
  holder.replaceChildren(
    h(
      "div",
      { class: "grid three charts" },
      h("figure", {}, h("figcaption", {}, t("usage.requests")), barChart(t("usage.requests"), points(totals.requests))),
      h("figure", {}, h("figcaption", {}, t("usage.tokens")), barChart(t("usage.tokens"), points(totals.tokens))),
      h("figure", {}, h("figcaption", {}, t("usage.cost")), barChart(t("usage.cost"), points(totals.cost_micros.map((c) => c / 1e6)), (v) => v.toFixed(4))),
    ),
    table(
      [
        { label: t(by === "key" ? "usage.key" : "usage.model"), cell: (s) => s.name },
        { label: t("usage.requests"), cell: (s) => String(s.total_requests) },
        { label: t("usage.tokens"), cell: (s) => String(s.total_tokens) },
        { label: t("usage.cost"), cell: (s) => (s.total_cost_micros / 1e6).toFixed(6) },
      ],
      daily.series,
      { caption: t("usage.range", { since: daily.since, until: daily.until }), empty: t("usage.none") },
    ),
  );
}

function logTable(rows) {
  return table(
    [
      { label: t("usage.when"), cell: (r) => fmtDate(r.created_at) },
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
  const filters = { model: "", key: "", since: "", until: "", request_id: "", status: "" };
  let by = "model";
  const charts = h("div", { "data-testid": "charts" });
  const log = h("div", { "data-testid": "usage-log" });
  const message = messageArea();
  const inputs = {
    request_id: h("input", { name: "request_id", placeholder: "req_…", spellcheck: "false" }),
    model: h("input", { name: "model" }),
    key: h("input", { name: "key", spellcheck: "false" }),
    since: h("input", { name: "since", type: "date" }),
    until: h("input", { name: "until", type: "date" }),
    status: h(
      "select",
      { name: "status" },
      h("option", { value: "" }, t("usage.status_any")),
      h("option", { value: "ok" }, t("usage.status_ok")),
      h("option", { value: "error" }, t("usage.status_error")),
    ),
  };
  const exportLink = h("a", { class: "button secondary", href: "/api/usage/export.csv", download: "usage.csv" }, t("usage.export"));

  const load = async (cursor) => {
    message.clear();
    const params = { ...filters, cursor, limit: 50 };
    delete params.request_id;
    try {
      const page = await get(`/api/usage${query({ ...params, request_id: filters.request_id })}`);
      const rows = page.data;
      const next = page.next_cursor;
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
        await Promise.all([load(null), drawCharts(charts, filters, by)]);
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
      field(t("usage.status"), inputs.status),
    ),
    h("div", { class: "row" }, h("button", { type: "submit" }, t("usage.apply")), exportLink),
    message,
  );
  const split = choiceGroup(
    t("usage.split"),
    [
      { value: "model", label: t("usage.by_model") },
      { value: "key", label: t("usage.by_key") },
    ],
    by,
    (value) => {
      by = value;
      drawCharts(charts, filters, by);
    },
  );
  main.append(h("h1", {}, t("usage.title")), section("usage.per_day", split, charts), section("usage.log", form, log));
  await Promise.all([load(null), drawCharts(charts, filters, by)]);
}
