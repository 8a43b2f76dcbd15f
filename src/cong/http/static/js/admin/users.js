// Admin: users — create, change group/role/credit limit, enable/disable, reset password,
// top up, manage their keys (on /keys?user=…), delete.
import { del, get, patch, post, put } from "../api.js";
import { field, fmtDate, h } from "../dom.js";
import { t } from "../i18n.js";
import { badge, messageArea, section, table } from "../widgets.js";

/** `notice`: what the last change did, shown above the list (the page is drawn anew). */
export async function render(root, notice = "") {
  const [users, groups] = await Promise.all([get("/api/users"), get("/api/groups")]);
  const message = messageArea();
  const saved = messageArea();
  if (notice) saved.ok(notice);
  const reload = async (text = "") => {
    root.replaceChildren();
    await render(root, text);
  };
  const groupSelect = (value) => h("select", {}, groups.map((g) => h("option", { value: g.name, selected: g.name === value }, g.name)));

  const name = h("input", { name: "name", maxlength: "64", required: true });
  const role = h("select", { name: "role" }, h("option", { value: "user" }, t("role.user")), h("option", { value: "admin" }, t("role.admin")));
  const group = groupSelect("default");
  const credit = h("input", { name: "credit_limit", type: "number", min: "0", step: "0.000001", value: "0" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password" });
  const create = h(
    "form",
    {
      class: "card",
      "data-testid": "create-user",
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        try {
          // One request: a password the server refuses creates no user.
          const body = { name: name.value.trim(), role: role.value, group: group.value, credit_limit: credit.value || "0" };
          if (password.value) body.password = password.value;
          await post("/api/users", body);
          await reload();
        } catch (error) {
          message.fail(error);
        }
      },
    },
    h("div", { class: "grid three" },
      field(t("users.name"), name),
      field(t("users.role"), role),
      field(t("users.group"), group),
      field(t("users.credit_limit"), credit),
      field(t("users.password"), password, t("users.password_hint")),
    ),
    h("button", { type: "submit" }, t("users.create")),
  );

  const editor = (user) => {
    const g = groupSelect(user.group);
    const r = h("select", {}, ["user", "admin"].map((v) => h("option", { value: v, selected: v === user.role }, t(`role.${v}`))));
    const c = h("input", { type: "number", min: "0", step: "0.000001", value: user.credit_limit });
    const pw = h("input", { type: "password", autocomplete: "new-password" });
    const topup = h("input", { type: "number", min: "0", step: "0.000001" });
    const rowMessage = messageArea();
    return h(
      "details",
      {},
      h("summary", {}, t("users.edit")),
      h(
        "form",
        {
          class: "inline",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              await patch(`/api/users/${encodeURIComponent(user.id)}`, { group: g.value, role: r.value, credit_limit: c.value || "0" });
              if (pw.value) await put(`/api/users/${encodeURIComponent(user.id)}/password`, { password: pw.value });
              const amount = topup.value && Number(topup.value) > 0 ? topup.value : null;
              if (amount) await post(`/api/wallets/${encodeURIComponent(user.id)}/topup`, { amount, note: "web" });
              await reload(amount ? t("users.saved_topup", { name: user.name, amount }) : t("users.saved", { name: user.name }));
            } catch (error) {
              rowMessage.fail(error);
            }
          },
        },
        field(t("users.group"), g),
        field(t("users.role"), r),
        field(t("users.credit_limit"), c),
        field(t("users.reset_password"), pw),
        field(t("users.topup"), topup, t("users.topup_hint")),
        h("button", { type: "submit", class: "small" }, t("action.save")),
        h(
          "button",
          {
            type: "button",
            class: "small secondary",
            onclick: async () => {
              try {
                await patch(`/api/users/${encodeURIComponent(user.id)}`, { enabled: !user.enabled });
                await reload();
              } catch (error) {
                rowMessage.fail(error);
              }
            },
          },
          user.enabled ? t("action.disable") : t("action.enable"),
        ),
        h("a", { class: "button small secondary", href: `/keys?user=${encodeURIComponent(user.name)}` }, t("users.keys")),
        h(
          "button",
          {
            type: "button",
            class: "small danger",
            onclick: async () => {
              if (!window.confirm(t("users.delete_confirm", { name: user.name }))) return;
              try {
                await del(`/api/users/${encodeURIComponent(user.id)}`);
                await reload(t("users.deleted", { name: user.name }));
              } catch (error) {
                rowMessage.fail(error);
              }
            },
          },
          t("users.delete"),
        ),
        rowMessage,
      ),
    );
  };

  root.append(
    section("users.new", create, message),
    section(
      "users.list",
      saved,
      table(
        [
          { label: t("users.name"), cell: (u) => u.name },
          { label: t("users.role"), cell: (u) => t(`role.${u.role}`) },
          { label: t("users.group"), cell: (u) => u.group },
          { label: t("users.state"), cell: (u) => badge(u.enabled ? t("state.active") : t("state.disabled"), u.enabled ? "ok" : "bad") },
          { label: t("wallet.balance"), cell: (u) => u.balance },
          { label: t("users.credit_limit"), cell: (u) => u.credit_limit },
          { label: t("users.created"), cell: (u) => fmtDate(u.created_at) },
          { label: t("table.actions"), cell: editor },
        ],
        users,
      ),
    ),
  );
}
