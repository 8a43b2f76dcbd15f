// The web chat's conversation list: search, open, start a new one, rename, delete.
// Conversations are the user's own, shared with their keys (docs/memory.md).
import { del, get, patch, query } from "../api.js";
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { filesOf } from "./attachments.js";
import { drawMemories } from "./memories.js";
import { drawMessages } from "./messages.js";
import { closePanels, el, state, textOf } from "./state.js";

export async function loadConversations() {
  const body = await get(`/api/conversations${query({ q: state.search, limit: 100 })}`);
  state.conversations = body.data;
  drawSidebar();
}

function drawSidebar() {
  const list = clear(el.list);
  for (const c of state.conversations) {
    const current = c.id === state.conversation;
    list.append(
      h(
        "li",
        { class: current ? "current" : null, "data-id": c.id },
        h("button", { type: "button", class: "link chat-open", "aria-current": current ? "page" : null, onclick: () => openConversation(c.id) }, c.title || c.id),
        h("button", { type: "button", class: "link small", "aria-label": t("chat.rename"), title: t("chat.rename"), onclick: () => rename(c) }, "✎"),
        h("button", { type: "button", class: "link small danger", "aria-label": t("chat.delete"), title: t("chat.delete"), onclick: () => removeConversation(c) }, "✕"),
      ),
    );
  }
  if (!state.conversations.length) list.append(h("li", { class: "muted" }, t("chat.no_conversations")));
}

async function rename(c) {
  const title = window.prompt(t("chat.rename_prompt"), c.title);
  if (!title) return;
  await patch(`/api/conversations/${c.id}`, { title });
  await loadConversations();
}

async function removeConversation(c) {
  if (!window.confirm(t("chat.delete_confirm", { title: c.title || c.id }))) return;
  await del(`/api/conversations/${c.id}`);
  if (state.conversation === c.id) newConversation();
  await loadConversations();
}

export async function openConversation(id) {
  const body = await get(`/api/conversations/${id}`);
  state.conversation = id;
  state.messages = body.messages.map((m) => ({ ...m, content: textOf(m.content), files: filesOf(m.content) }));
  state.used = new Set(state.messages.at(-1)?.memories || []);
  drawMessages();
  drawSidebar();
  drawMemories();
  closePanels();
}

function newConversation() {
  state.conversation = null;
  state.messages = [];
  state.used = new Set();
  drawMessages();
  drawSidebar();
  drawMemories();
  el.input.focus();
}

/** The sidebar: a new-conversation button, the search box and the list (`el.list`). */
export function sidebar() {
  el.list = h("ul", { class: "chat-list", "data-testid": "chat-list" });
  const search = h("input", {
    type: "search",
    placeholder: t("chat.search"),
    "aria-label": t("chat.search"),
    oninput: () => {
      state.search = search.value;
      clearTimeout(search.timer);
      search.timer = setTimeout(loadConversations, 250);
    },
  });
  return h(
    "aside",
    { class: "chat-sidebar", "aria-label": t("chat.conversations") },
    h("button", { type: "button", class: "primary", "data-testid": "chat-new", onclick: newConversation }, t("chat.new")),
    search,
    el.list,
  );
}
