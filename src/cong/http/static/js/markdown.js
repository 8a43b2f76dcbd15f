// Model answers are Markdown from outside: parsed by marked, then sanitised by DOMPurify
// before they reach the page (no scripts, handlers, forms, frames or styles).
import DOMPurify from "../vendor/dompurify/purify.es.js";
import { marked } from "../vendor/marked/marked.esm.js";

const ALLOWED = {
  ALLOWED_TAGS: ["p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "a", "hr", "del"],
  ALLOWED_ATTR: ["href", "title"],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

/** A <div> holding `text` rendered as sanitised Markdown. */
export function renderMarkdown(text) {
  const html = marked.parse(String(text), { async: false, gfm: true });
  const fragment = DOMPurify.sanitize(html, { ...ALLOWED, RETURN_DOM_FRAGMENT: true });
  for (const link of fragment.querySelectorAll("a")) {
    link.setAttribute("rel", "noopener noreferrer nofollow");
    link.setAttribute("target", "_blank");
  }
  const box = document.createElement("div");
  box.className = "markdown";
  box.append(fragment);
  return box;
}
