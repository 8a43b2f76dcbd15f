// Code blocks of a rendered answer: a small keyword/string/comment highlighter (it only
// wraps text nodes it creates itself, never parses HTML) and a copy button per block.
import { copyText, h } from "../dom.js";
import { t } from "../i18n.js";

const KEYWORDS = new Set(
  ("async await break case catch class const continue def default del elif else export " +
    "extends false finally fn for from func function if impl import in interface let " +
    "match new nil None null package pass private public raise return self static " +
    "struct switch this throw true True False try type use var while with yield")
    .split(" "),
);
const TOKEN = /("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(\/\/[^\n]*|#[^\n]*|--[^\n]*)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_]\w*)/g;

function highlight(code) {
  const text = code.textContent;
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    const [whole, string, comment, number, word] = match;
    let kind = null;
    if (string) kind = "str";
    else if (comment) kind = "com";
    else if (number) kind = "num";
    else if (word && KEYWORDS.has(word)) kind = "kw";
    if (!kind) continue;
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(h("span", { class: `tok-${kind}` }, whole));
    last = match.index + whole.length;
  }
  if (last < text.length) parts.push(text.slice(last));
  code.replaceChildren(...parts);
}

/** Highlights every <pre><code> in `box` and gives it a copy button. */
export function decorateCode(box) {
  for (const pre of box.querySelectorAll("pre")) {
    const code = pre.querySelector("code") || pre;
    const source = code.textContent;
    highlight(code);
    const button = h(
      "button",
      {
        type: "button",
        class: "chat-copy",
        onclick: async () => {
          button.textContent = (await copyText(source)) ? t("chat.copied") : t("chat.copy_failed");
          setTimeout(() => (button.textContent = t("chat.copy")), 1500);
        },
      },
      t("chat.copy"),
    );
    pre.classList.add("chat-code");
    pre.prepend(button);
  }
}
