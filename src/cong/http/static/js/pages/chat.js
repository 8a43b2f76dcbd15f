// "/chat" — the web chat. Its parts, in chat/: the conversation list (conversations.js),
// the open conversation's messages, sending and streaming, regenerate, edit-and-resend
// (messages.js, stream.js, code.js), the model picker and costs (models.js), the memory
// panel (memories.js), attachments (attachments.js) and the files an answer made
// (result_files.js), sharing the page's state (state.js). This module lays the page out.
import { api } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { Attachments } from "../chat/attachments.js";
import { loadConversations, openConversation, sidebar } from "../chat/conversations.js";
import { loadMemories, memoryPanel } from "../chat/memories.js";
import { drawMessages, submit } from "../chat/messages.js";
import { loadModels, modelPicker } from "../chat/models.js";
import { closePanels, el, hooks, state } from "../chat/state.js";

function toggle(name) {
  const on = !el.root.classList.contains(name);
  closePanels();
  el.root.classList.toggle(name, on);
}

function stylesheet() {
  if (document.getElementById("chat-css")) return;
  const link = h("link", { id: "chat-css", rel: "stylesheet", href: "/static/css/chat.css" });
  document.head.append(link);
}

function composer() {
  el.input = h("textarea", {
    id: "chat-input",
    rows: 2,
    "data-testid": "chat-input",
    placeholder: t("chat.placeholder"),
    onkeydown: (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    },
  });
  el.send = h("button", { type: "submit", class: "primary", "data-testid": "chat-send" }, t("chat.send"));
  el.stop = h("button", { type: "button", "data-testid": "chat-stop", hidden: true, onclick: () => state.controller?.abort() }, t("chat.stop"));
  const form = h(
    "form",
    {
      class: "chat-composer",
      onsubmit: (event) => {
        event.preventDefault();
        submit();
      },
    },
    h("label", { for: "chat-input", class: "sr-only" }, t("chat.placeholder")),
    el.attach.button,
    el.input,
    el.send,
    el.stop,
  );
  return form;
}

export async function render(main) {
  stylesheet();
  const session = await api("GET", "/api/session");
  state.csrf = session.csrf_token;
  await loadModels();
  hooks.answered = () => Promise.all([loadConversations(), loadMemories()]);
  el.attach = new Attachments({ csrf: state.csrf, model: () => state.model });
  const conversations = sidebar();
  el.messages = h("div", { class: "chat-messages", "data-testid": "chat-messages", "aria-live": "polite" });
  const form = composer();
  const memories = memoryPanel();
  const bar = h(
    "div",
    { class: "chat-bar" },
    h("button", { type: "button", class: "chat-toggle", onclick: () => toggle("show-sidebar") }, t("chat.conversations")),
    state.models.length ? modelPicker() : h("p", { class: "error" }, t("chat.no_models")),
    h("button", { type: "button", class: "chat-toggle", onclick: () => toggle("show-memory") }, t("chat.memory")),
  );
  const chatMain = h("section", { class: "chat-main" }, bar, el.messages, el.attach.node, form);
  el.attach.bind(chatMain, el.input);
  el.root = h("div", { class: "chat", "data-testid": "chat" }, conversations, chatMain, memories);
  main.replaceChildren(h("h1", { class: "sr-only" }, t("title.chat")), el.root);
  drawMessages();
  await Promise.all([loadConversations(), loadMemories()]);
  const wanted = new URLSearchParams(window.location.search).get("c");
  if (wanted) await openConversation(wanted);
}
