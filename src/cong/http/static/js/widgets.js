// Small building blocks shared by the pages: code blocks with a copy button, tables,
// messages, tab groups. All text goes in as text.
import { copyText, h, uid } from "./dom.js";
import { t } from "./i18n.js";

export function codeBlock(text, label) {
  const code = h("code", {}, text);
  const status = h("span", { class: "copy-status", role: "status", "aria-live": "polite" });
  const button = h(
    "button",
    {
      type: "button",
      class: "copy",
      "aria-label": label ? `${t("action.copy")}: ${label}` : t("action.copy"),
      onclick: async () => {
        status.textContent = (await copyText(code.textContent)) ? t("action.copied") : t("action.copy_failed");
        setTimeout(() => {
          status.textContent = "";
        }, 2000);
      },
    },
    t("action.copy"),
  );
  const block = h("div", { class: "code" }, h("pre", { tabindex: "0" }, code), h("div", { class: "code-tools" }, button, status));
  block.setText = (value) => {
    code.textContent = value;
  };
  return block;
}

/** A table: columns [{label, cell: row => node|string}], rows. */
export function table(columns, rows, { caption, empty } = {}) {
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)));
  const body = h("tbody", {});
  for (const row of rows) {
    body.append(h("tr", {}, columns.map((c) => h("td", { "data-label": c.label }, c.cell(row)))));
  }
  if (!rows.length) {
    body.append(h("tr", {}, h("td", { colspan: String(columns.length), class: "empty" }, empty || t("table.empty"))));
  }
  return h(
    "div",
    { class: "table-wrap" },
    h("table", {}, caption ? h("caption", {}, caption) : null, h("thead", {}, head), body),
  );
}

/** A live message area for a form's result or error. */
export function messageArea() {
  const area = h("div", { class: "message", role: "status", "aria-live": "polite" });
  area.ok = (text) => {
    area.className = "message ok";
    area.setAttribute("role", "status");
    area.textContent = text;
  };
  area.fail = (error) => {
    area.className = "message error";
    area.setAttribute("role", "alert");
    const requestId = error && error.requestId ? ` (${t("error.request_id")}: ${error.requestId})` : "";
    area.textContent = `${(error && error.message) || error}${requestId}`;
  };
  area.clear = () => {
    area.className = "message";
    area.textContent = "";
  };
  return area;
}

/** A row of toggle buttons (aria-pressed); onChange(value) when one is chosen. */
export function choiceGroup(label, options, selected, onChange) {
  const group = h("div", { class: "choices", role: "group", "aria-label": label });
  const buttons = options.map((option) =>
    h(
      "button",
      {
        type: "button",
        class: "chip",
        "data-value": option.value,
        "aria-pressed": String(option.value === selected),
        onclick: (e) => {
          for (const b of buttons) b.setAttribute("aria-pressed", String(b === e.currentTarget));
          onChange(option.value);
        },
      },
      option.label,
    ),
  );
  group.append(...buttons);
  return group;
}

export function section(titleKey, ...children) {
  const id = uid("sec");
  return h("section", { "aria-labelledby": id }, h("h2", { id }, t(titleKey)), children);
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}` }, text);
}

/** Split "a, b\nc" into ["a", "b", "c"]; empty → null. */
export function listValue(text) {
  const items = text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length ? items : null;
}
