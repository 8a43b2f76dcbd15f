// Admin: prices per model (per 1M tokens, per call, per image).
import { get, put } from "../api.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";
import { messageArea, section, table } from "../widgets.js";

const FIELDS = ["input", "cached_input", "output", "per_call", "per_image"];

export async function render(root) {
  const prices = await get("/api/prices");
  const message = messageArea();
  const model = h("input", { name: "model", required: true, list: "price-models" });
  const inputs = Object.fromEntries(FIELDS.map((f) => [f, h("input", { name: f, type: "number", min: "0", step: "0.000001" })]));
  const fill = () => {
    const found = prices.find((p) => p.model === model.value.trim());
    for (const f of FIELDS) inputs[f].value = found ? found[f] : "";
  };
  model.addEventListener("change", fill);
  const form = h(
    "form",
    {
      class: "card",
      "data-testid": "edit-price",
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        const body = {};
        for (const f of FIELDS) if (inputs[f].value !== "") body[f] = inputs[f].value;
        try {
          await put(`/api/prices/${encodeURIComponent(model.value.trim())}`, body);
          root.replaceChildren();
          await render(root);
          root.querySelector(".message").textContent = t("prices.saved");
        } catch (error) {
          message.fail(error);
        }
      },
    },
    h("datalist", { id: "price-models" }, prices.map((p) => h("option", { value: p.model }))),
    h("div", { class: "grid three" }, field(t("prices.model"), model), FIELDS.map((f) => field(t(`prices.${f}`), inputs[f]))),
    h("button", { type: "submit" }, t("action.save")),
    message,
  );
  const editButton = (p) =>
    h(
      "button",
      {
        type: "button",
        class: "small secondary",
        "aria-label": `${t("users.edit")}: ${p.model}`,
        onclick: () => {
          model.value = p.model;
          fill();
          model.focus();
        },
      },
      t("users.edit"),
    );
  root.append(
    section("prices.edit", h("p", { class: "muted" }, t("prices.help")), form),
    section(
      "prices.list",
      table(
        [
          { label: t("prices.model"), cell: (p) => h("code", {}, p.model) },
          ...FIELDS.map((f) => ({ label: t(`prices.${f}`), cell: (p) => p[f] })),
          { label: t("table.actions"), cell: editButton },
        ],
        prices,
        { caption: t("prices.caption") },
      ),
    ),
  );
}
