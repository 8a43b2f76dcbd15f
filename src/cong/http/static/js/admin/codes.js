// Admin: redemption codes — create a batch (shown once, with a CSV download), list masked.
import { get, post, query } from "../api.js";
import { download, field, fmtDate, h } from "../dom.js";
import { t } from "../i18n.js";
import { badge, codeBlock, messageArea, section, table } from "../widgets.js";

function csvCell(value) {
  const text = String(value ?? "");
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export async function render(root) {
  const page = await get(`/api/codes${query({ limit: 100 })}`);
  const amount = h("input", { name: "amount", type: "number", min: "0.000001", step: "0.000001", required: true });
  const count = h("input", { name: "count", type: "number", min: "1", max: "1000", value: "1", required: true });
  const batch = h("input", { name: "batch", maxlength: "64" });
  const days = h("input", { name: "expires_in_days", type: "number", min: "1", max: "3650" });
  const once = h("div", { "data-testid": "new-codes" });
  const message = messageArea();
  const list = h("div", {});
  const drawList = (codes) =>
    list.replaceChildren(
      table(
        [
          { label: t("codes.batch"), cell: (c) => c.batch },
          { label: t("codes.code"), cell: (c) => h("code", {}, c.masked) },
          { label: t("codes.amount"), cell: (c) => c.amount },
          { label: t("codes.state"), cell: (c) => badge(t(`code_state.${c.state}`), c.state === "active" ? "ok" : "") },
          { label: t("codes.redeemed_by"), cell: (c) => c.redeemed_by || "—" },
          { label: t("codes.expires"), cell: (c) => fmtDate(c.expires_at) },
        ],
        codes,
        { caption: t("codes.caption") },
      ),
    );
  const form = h(
    "form",
    {
      class: "card",
      "data-testid": "create-codes",
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        const body = { amount: amount.value, count: Number(count.value) };
        if (batch.value.trim()) body.batch = batch.value.trim();
        if (days.value) body.expires_in_days = Number(days.value);
        try {
          const created = await post("/api/codes", body);
          const csv = ["code,amount,batch,expires_at", ...created.codes.map((c) => [c, created.amount, created.batch, created.expires_at || ""].map(csvCell).join(","))].join("\n");
          once.replaceChildren(
            h(
              "div",
              { class: "card once" },
              h("h3", {}, t("codes.once_title", { count: created.codes.length, batch: created.batch })),
              h("p", { class: "warn" }, t("codes.once_text")),
              codeBlock(created.codes.join("\n"), t("codes.code")),
              h("button", { type: "button", class: "secondary", onclick: () => download(`codes-${created.batch}.csv`, `${csv}\n`) }, t("codes.csv")),
            ),
          );
          drawList((await get(`/api/codes${query({ limit: 100 })}`)).data);
        } catch (error) {
          message.fail(error);
        }
      },
    },
    h("div", { class: "grid three" },
      field(t("codes.amount"), amount),
      field(t("codes.count"), count),
      field(t("codes.batch"), batch),
      field(t("codes.expires_in_days"), days),
    ),
    h("button", { type: "submit" }, t("codes.create")),
    message,
  );
  root.append(section("codes.new", form, once), section("codes.list", list));
  drawList(page.data);
}
