// Admin: groups — models, price multiplier, rate limits.
import { get, patch, post } from "../api.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";
import { listValue, messageArea, section, table } from "../widgets.js";

export async function render(root) {
  const groups = await get("/api/groups");
  const message = messageArea();
  const reload = async () => {
    root.replaceChildren();
    await render(root);
  };
  const name = h("input", { name: "name", maxlength: "64", required: true });
  const models = h("input", { name: "models" });
  const multiplier = h("input", { name: "multiplier", type: "number", min: "0", step: "0.01", value: "1" });
  const rpm = h("input", { name: "rpm", type: "number", min: "1" });
  const tpm = h("input", { name: "tpm", type: "number", min: "1" });
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const body = { name: name.value.trim(), models: listValue(models.value), multiplier: multiplier.value || "1" };
          if (rpm.value) body.rpm = Number(rpm.value);
          if (tpm.value) body.tpm = Number(tpm.value);
          await post("/api/groups", body);
          await reload();
        } catch (error) {
          message.fail(error);
        }
      },
    },
    h("div", { class: "grid three" },
      field(t("groups.name"), name),
      field(t("groups.models"), models, t("keys.models_hint")),
      field(t("groups.multiplier"), multiplier),
      field(t("keys.rpm"), rpm),
      field(t("keys.tpm"), tpm),
    ),
    h("button", { type: "submit" }, t("groups.create")),
    message,
  );
  const editor = (g) => {
    const m = h("input", { value: (g.models || []).join(", ") });
    const x = h("input", { type: "number", min: "0", step: "0.01", value: g.multiplier });
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
              await patch(`/api/groups/${encodeURIComponent(g.name)}`, { models: listValue(m.value), multiplier: x.value });
              await reload();
            } catch (error) {
              rowMessage.fail(error);
            }
          },
        },
        field(t("groups.models"), m),
        field(t("groups.multiplier"), x),
        h("button", { type: "submit", class: "small" }, t("action.save")),
        rowMessage,
      ),
    );
  };
  root.append(
    section("groups.new", form),
    section(
      "groups.list",
      table(
        [
          { label: t("groups.name"), cell: (g) => g.name },
          { label: t("groups.models"), cell: (g) => (g.models ? g.models.join(", ") : t("keys.all_models")) },
          { label: t("groups.multiplier"), cell: (g) => g.multiplier },
          { label: t("keys.rpm"), cell: (g) => g.rpm ?? "—" },
          { label: t("keys.tpm"), cell: (g) => g.tpm ?? "—" },
          { label: t("groups.members"), cell: (g) => String(g.members ?? g.member_count ?? "—") },
          { label: t("table.actions"), cell: editor },
        ],
        groups,
      ),
    ),
  );
}
