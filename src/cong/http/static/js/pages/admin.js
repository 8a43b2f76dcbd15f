// "/admin" — the admin console: users, groups, channels, prices, redemption codes, system
// status. The server refuses every one of these calls to non-admins (403); the page is
// also redirected away for them.
import { h } from "../dom.js";
import { t } from "../i18n.js";

const TABS = [
  { id: "users", load: () => import("../admin/users.js") },
  { id: "groups", load: () => import("../admin/groups.js") },
  { id: "channels", load: () => import("../admin/channels.js") },
  { id: "prices", load: () => import("../admin/prices.js") },
  { id: "codes", load: () => import("../admin/codes.js") },
  { id: "system", load: () => import("../admin/system.js") },
];

export async function render(main, ctx) {
  const wanted = window.location.hash.slice(1);
  let current = TABS.find((tab) => tab.id === wanted) || TABS[0];
  const panel = h("div", { id: "admin-panel", role: "tabpanel", tabindex: "0" });
  const buttons = TABS.map((tab) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${tab.id}`,
        "aria-controls": "admin-panel",
        "aria-selected": String(tab === current),
        tabindex: tab === current ? "0" : "-1",
        onclick: () => {
          // the open tab stays as it is: a second render would drop what was typed in it
          if (tab !== current) show(tab);
        },
        onkeydown: (event) => {
          const i = TABS.indexOf(tab);
          const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
          if (!step) return;
          event.preventDefault();
          const next = TABS[(i + step + TABS.length) % TABS.length];
          show(next);
          buttons[TABS.indexOf(next)].focus();
        },
      },
      t(`admin.tab.${tab.id}`),
    ),
  );
  let shown = 0;
  async function show(tab) {
    current = tab;
    const mine = ++shown;
    for (const [i, button] of buttons.entries()) {
      button.setAttribute("aria-selected", String(TABS[i] === tab));
      button.setAttribute("tabindex", TABS[i] === tab ? "0" : "-1");
    }
    panel.setAttribute("aria-labelledby", `tab-${tab.id}`);
    history.replaceState(null, "", `#${tab.id}`);
    panel.replaceChildren(h("p", { class: "muted" }, t("admin.loading")));
    const module = await tab.load();
    const content = h("div", {});
    try {
      await module.render(content, ctx);
    } catch (error) {
      content.append(h("p", { class: "message error", role: "alert" }, error.message));
    }
    if (mine === shown) panel.replaceChildren(content);
  }
  main.append(
    h("h1", {}, t("admin.title")),
    h("div", { class: "tabs", role: "tablist", "aria-label": t("admin.title") }, buttons),
    panel,
  );
  window.addEventListener("hashchange", () => {
    const tab = TABS.find((candidate) => candidate.id === window.location.hash.slice(1));
    if (tab && tab !== current && document.body.contains(panel)) show(tab);
  });
  await show(current);
}
