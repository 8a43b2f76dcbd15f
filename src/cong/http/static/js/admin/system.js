// Admin: system status — the same report as /api/status, in full.
import { get, put } from "../api.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";
import { badge, messageArea, section, table } from "../widgets.js";

export async function render(root) {
  const [report, groups] = await Promise.all([get("/api/status"), get("/api/groups")]);
  const ms = report.model_server;
  root.append(
    await registrationSection(groups),
    section(
      "system.gateway",
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("system.version")),
        h("dd", {}, report.version),
        h("dt", {}, t("system.uptime")),
        h("dd", {}, `${Math.round(report.uptime_seconds)} s`),
        h("dt", {}, t("status.model_server")),
        h("dd", {}, badge(ms.state, ms.state === "ready" ? "ok" : ""), " ", (ms.models || []).join(", ")),
        h("dt", {}, t("status.rate_limits")),
        h("dd", {}, badge(`${report.rate_limits.backend}: ${report.rate_limits.state || "—"}`, report.rate_limits.state === "healthy" ? "ok" : "warn"), " ", report.rate_limits.reason || ""),
      ),
    ),
    section(
      "system.upstreams",
      table(
        [
          { label: t("status.upstream"), cell: (u) => u.name },
          { label: t("status.state"), cell: (u) => badge(u.state, u.state === "up" ? "ok" : "bad") },
          { label: t("status.circuit"), cell: (u) => badge(u.circuit, u.circuit === "closed" ? "ok" : "warn") },
          { label: t("system.cooldown"), cell: (u) => `${Math.round(u.cooldown_remaining)} s` },
          { label: t("status.models"), cell: (u) => u.models.join(", ") },
        ],
        report.upstreams,
      ),
    ),
  );
}

/** Self-registration: off (default), open, or with a redemption code. */
export async function registrationSection(groups) {
  const setting = await get("/api/settings/registration");
  const mode = h("select", { name: "mode" }, ["off", "open", "code"].map((m) => h("option", { value: m, selected: m === setting.mode }, t(`registration.${m}`))));
  const group = h("select", { name: "group" }, h("option", { value: "" }, t("registration.default_group")), groups.map((g) => h("option", { value: g.name, selected: g.name === setting.group }, g.name)));
  const message = messageArea();
  return section(
    "registration.title",
    h(
      "form",
      {
        class: "card",
        "data-testid": "registration",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await put("/api/settings/registration", { mode: mode.value, group: group.value || null });
            message.ok(t("registration.saved"));
          } catch (error) {
            message.fail(error);
          }
        },
      },
      h("div", { class: "grid two" }, field(t("registration.mode"), mode), field(t("registration.group"), group)),
      h("button", { type: "submit" }, t("action.save")),
      message,
    ),
  );
}
