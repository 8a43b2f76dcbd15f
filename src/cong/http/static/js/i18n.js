// Translations come from the catalog files /static/i18n/<lang>.json; nothing user-visible
// is written in the scripts themselves.

export const LANGUAGES = ["vi", "en"];
const COOKIE = "cong_lang";
const state = { lang: "en", catalog: {} };

export function currentLang() {
  return state.lang;
}

/** The language to start with: the cookie (set by the switch), else the browser's. */
export function initialLanguage() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith(`${COOKIE}=`));
  const saved = cookie ? cookie.slice(COOKIE.length + 1) : "";
  if (LANGUAGES.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = tag.toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export function rememberLanguage(lang) {
  document.cookie = `${COOKIE}=${lang}; path=/; max-age=31536000; samesite=lax`;
}

export async function loadLanguage(lang) {
  const chosen = LANGUAGES.includes(lang) ? lang : "en";
  const response = await fetch(`/static/i18n/${chosen}.json`, { credentials: "same-origin" });
  state.catalog = await response.json();
  state.lang = chosen;
  document.documentElement.lang = chosen;
}

/** The text for `key`, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = state.catalog[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(vars, name) ? String(vars[name]) : whole,
  );
}
