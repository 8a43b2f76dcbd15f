// The page shell: loads the language catalog and the session, draws the header (navigation,
// language switch, account) and hands <main> to the page's module.
import { ApiError, get, put, setCsrf, signedOut } from "./api.js";
import { clear, h } from "./dom.js";
import { currentLang, initialLanguage, LANGUAGES, loadLanguage, rememberLanguage, t } from "./i18n.js";
import { signOut } from "./session.js";

const root = document.documentElement;
const PAGE = root.dataset.page;
const NAV = [
  { page: "docs", href: "/", key: "nav.docs" },
  { page: "chat", href: "/chat", key: "nav.chat", auth: true },
  { page: "models", href: "/models", key: "nav.models", auth: true },
  { page: "keys", href: "/keys", key: "nav.keys", auth: true },
  { page: "usage", href: "/usage", key: "nav.usage", auth: true },
  { page: "wallet", href: "/wallet", key: "nav.wallet", auth: true },
  { page: "guides", href: "/guides", key: "nav.guides" },
  { page: "admin", href: "/admin", key: "nav.admin", admin: true },
];
const AUTH_PAGES = new Set(["models", "keys", "usage", "wallet", "admin", "chat"]);

const loaders = {
  docs: () => import("./pages/docs.js"),
  login: () => import("./pages/login.js"),
  keys: () => import("./pages/keys.js"),
  models: () => import("./pages/models.js"),
  usage: () => import("./pages/usage.js"),
  wallet: () => import("./pages/wallet.js"),
  guides: () => import("./pages/guides.js"),
  admin: () => import("./pages/admin.js"),
  chat: () => import("./pages/chat.js"),
};

/** GET /api/session: who is signed in (me: null when nobody), the CSRF token, whether
 * the sign-in page may offer self-registration, and the currency amounts are in. */
async function loadSession() {
  try {
    const session = await get("/api/session");
    setCsrf(session.csrf_token);
    const me = session.signed_in && session.user ? { ...session.user, language: session.language, via: session.via, has_password: session.has_password } : null;
    return { me, registration: session.registration || "off", currency: session.currency || "" };
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 404)) return { me: null, registration: "off", currency: "" };
    throw error;
  }
}

function header(ctx) {
  const nav = h("nav", { id: "site-nav", "aria-label": t("nav.label") });
  const list = h("ul", {});
  for (const item of NAV) {
    if (item.admin && !(ctx.me && ctx.me.role === "admin")) continue;
    if (item.auth && !ctx.me) continue;
    const current = item.page === PAGE ? "page" : null;
    list.append(h("li", {}, h("a", { href: item.href, "aria-current": current }, t(item.key))));
  }
  nav.append(list);
  const toggle = h(
    "button",
    {
      type: "button",
      class: "nav-toggle",
      "aria-controls": "site-nav",
      "aria-expanded": "false",
      onclick: () => {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", String(open));
        nav.classList.toggle("open", open);
      },
    },
    t("nav.menu"),
  );
  const select = h("select", { id: "lang-switch", onchange: () => switchLanguage(ctx, select.value) });
  for (const lang of LANGUAGES) {
    select.append(h("option", { value: lang, selected: lang === currentLang() }, t(`lang.${lang}`)));
  }
  const account = ctx.me
    ? h(
        "div",
        { class: "account" },
        h("span", { class: "who", "data-testid": "who" }, ctx.me.name),
        h("button", { type: "button", class: "link", onclick: () => signOut() }, t("nav.sign_out")),
      )
    : h("div", { class: "account" }, h("a", { href: "/login" }, t("nav.sign_in")));
  return [
    h("a", { class: "skip", href: "#main" }, t("nav.skip")),
    h(
      "div",
      { class: "bar" },
      h("a", { class: "brand", href: "/" }, "Cổng"),
      toggle,
      nav,
      h(
        "div",
        { class: "tools" },
        h("label", { for: "lang-switch", class: "sr-only" }, t("lang.label")),
        select,
        account,
      ),
    ),
  ];
}

async function switchLanguage(ctx, lang) {
  rememberLanguage(lang);
  if (ctx.me) {
    try {
      await put("/api/me/language", { language: lang });
    } catch {
      // the cookie still remembers it on this browser
    }
  }
  await loadLanguage(lang);
  await render(ctx);
  document.getElementById("lang-switch").focus();
}

async function render(ctx) {
  const top = clear(document.getElementById("top"));
  top.append(...header(ctx));
  document.title = `${t(`title.${PAGE}`)} · Cổng`;
  const main = clear(document.getElementById("main"));
  main.setAttribute("aria-busy", "true");
  try {
    const module = await loaders[PAGE]();
    await module.render(main, ctx);
  } catch (error) {
    main.replaceChildren(
      h("h1", {}, t(`title.${PAGE}`)),
      h("p", { class: "error", role: "alert" }, t("error.page"), " ", error.message || ""),
    );
  } finally {
    main.removeAttribute("aria-busy");
  }
  const foot = clear(document.getElementById("foot"));
  foot.append(
    h("a", { href: "/api/docs" }, t("foot.api_docs")),
    " · ",
    h("a", { href: "/api/status" }, t("foot.status")),
  );
}

async function start() {
  const { me, registration, currency } = await loadSession();
  const preferred = me && LANGUAGES.includes(me.language) ? me.language : initialLanguage();
  await loadLanguage(preferred);
  if (AUTH_PAGES.has(PAGE) && !me) {
    signedOut();
    return;
  }
  if (PAGE === "admin" && me.role !== "admin") {
    window.location.replace("/");
    return;
  }
  const ctx = { me, registration, currency, base: root.dataset.baseUrl, page: PAGE, rerender: () => render(ctx) };
  await render(ctx);
}

start();
