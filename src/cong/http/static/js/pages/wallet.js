// "/wallet" — balance, credit limit, holds, the ledger, and redeeming a code.
import { get, post, put, query } from "../api.js";
import { field, fmtDate, h } from "../dom.js";
import { t } from "../i18n.js";
import { messageArea, section, table } from "../widgets.js";

async function drawWallet(ctx, holder) {
  const wallet = await get(`/api/wallets/${encodeURIComponent(ctx.me.id)}`);
  holder.replaceChildren(
    h(
      "dl",
      { class: "facts big", "data-testid": "wallet" },
      h("dt", {}, t("wallet.balance")),
      h("dd", { "data-testid": "balance" }, wallet.balance, " ", h("span", { class: "unit" }, ctx.currency)),
      h("dt", {}, t("wallet.credit_limit")),
      h("dd", {}, wallet.credit_limit, " ", h("span", { class: "unit" }, ctx.currency)),
      h("dt", {}, t("wallet.available")),
      h("dd", {}, wallet.available, " ", h("span", { class: "unit" }, ctx.currency)),
      h("dt", {}, t("wallet.holds")),
      h("dd", {}, String(wallet.open_reservations)),
    ),
  );
}

async function drawLedger(holder, cursor) {
  const page = await get(`/api/ledger${query({ limit: 25, cursor })}`);
  const rows = table(
    [
      { label: t("ledger.when"), cell: (e) => fmtDate(e.created_at) },
      { label: t("ledger.kind"), cell: (e) => t(`ledger.kind.${e.kind}`) },
      { label: t("ledger.amount"), cell: (e) => e.amount },
      { label: t("ledger.request"), cell: (e) => (e.request_id ? h("code", {}, e.request_id) : "—") },
      { label: t("ledger.note"), cell: (e) => e.note || "" },
    ],
    page.data,
    { caption: t("wallet.ledger"), empty: t("ledger.none") },
  );
  holder.replaceChildren(rows);
  if (page.next_cursor) {
    holder.append(h("button", { type: "button", class: "secondary", onclick: () => drawLedger(holder, page.next_cursor) }, t("table.next")));
  }
}

export async function render(main, ctx) {
  const summary = h("div", {});
  const ledger = h("div", { "data-testid": "ledger" });
  const code = h("input", { name: "code", autocomplete: "off", required: true, spellcheck: "false" });
  const message = messageArea();
  const redeem = h(
    "form",
    {
      class: "card",
      "data-testid": "redeem",
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        try {
          const result = await post("/api/codes/redeem", { code: code.value.trim() });
          code.value = "";
          message.ok(t("wallet.redeemed", { amount: result.amount, balance: result.balance }));
          await Promise.all([drawWallet(ctx, summary), drawLedger(ledger)]);
        } catch (error) {
          message.fail(error);
        }
      },
    },
    field(t("wallet.code"), code),
    h("button", { type: "submit" }, t("wallet.redeem")),
    message,
  );
  main.append(
    h("h1", {}, t("wallet.title")),
    section("wallet.summary", summary),
    section("wallet.redeem_title", redeem),
    section("wallet.ledger", ledger),
    section("account.title", passwordForm(ctx)),
  );
  await Promise.all([drawWallet(ctx, summary), drawLedger(ledger)]);
}

/** Change your own password (a key sign-in without a password sets a first one). */
function passwordForm(ctx) {
  const current = h("input", { name: "current-password", type: "password", autocomplete: "current-password" });
  const next = h("input", { name: "new-password", type: "password", autocomplete: "new-password", required: true });
  const message = messageArea();
  return h(
    "form",
    {
      class: "card",
      "data-testid": "change-password",
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        const body = { new_password: next.value };
        if (current.value) body.current_password = current.value;
        try {
          await put("/api/me/password", body);
          current.value = "";
          next.value = "";
          message.ok(t("account.password_changed"));
        } catch (error) {
          message.fail(error);
        }
      },
    },
    h("p", { class: "muted" }, t("account.signed_in_via", { name: ctx.me.name, via: t(`account.via.${ctx.me.via || "password"}`) })),
    ctx.me.has_password ? field(t("account.current_password"), current) : null,
    field(t("login.new_password"), next, t("login.password_rules")),
    h("button", { type: "submit" }, t("account.change_password")),
    message,
  );
}
