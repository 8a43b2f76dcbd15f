// Admin: system status — the same report as /api/status, in full.
import { get } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { badge, section, table } from "../widgets.js";

export async function render(root) {
  const report = await get("/api/status");
  const ms = report.model_server;
  root.append(
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
        h("dd", {}, JSON.stringify(report.rate_limits)),
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
