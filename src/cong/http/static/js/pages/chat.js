// "/chat" — the web chat: conversations (sidebar with search, rename, delete), a model
// picker with capabilities, streamed answers with a stop button, safe Markdown with
// highlighted, copyable code, regenerate and edit-and-resend, usage and cost per answer,
// attachments (picker, drag-and-drop, paste: chat/attachments.js), the memory panel (what
// is remembered, which memories an answer used, edit, delete), and download buttons for
// the files an answer made (chat/result_files.js).
// Conversations and memories are the user's own, shared with their keys (docs/memory.md).
import { api, del, get, patch, post, query } from "../api.js";
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { renderMarkdown } from "../markdown.js";
import { decorateCode } from "../chat/code.js";
import { streamChat } from "../chat/stream.js";
import { Attachments, filesOf, partsOf, sentFiles } from "../chat/attachments.js";
import { resultFileButtons, resultFilesOf } from "../chat/result_files.js";

const state = {
  models: [],
  model: null,
  conversation: null, // id
  messages: [], // {id, role, content, memories, usage, cost}
  conversations: [],
  memories: [],
  used: new Set(),
  search: "",
  controller: null,
  submitting: false,
  csrf: null,
};
const el = {};

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => p.text || "").join("\n");
  return "";
}

function costOf(model, usage) {
  const price = model?.price;
  if (!price || !usage) return null;
  const micros =
    ((usage.prompt_tokens || 0) * price.input_per_m_micros) / 1e6 +
    ((usage.completion_tokens || 0) * price.output_per_m_micros) / 1e6 +
    (price.per_call_micros || 0);
  return (micros / 1e6).toFixed(6);
}

// --- models -------------------------------------------------------------------------

async function loadModels() {
  const body = await get("/api/models");
  state.models = (body.data || body).filter((m) => m.kind === "chat" && m.state !== "down");
  const saved = localStorage.getItem("cong_chat_model");
  state.model = state.models.find((m) => m.id === saved) || state.models[0] || null;
}

function modelPicker() {
  const select = h("select", {
    id: "chat-model",
    "data-testid": "chat-model",
    onchange: () => {
      state.model = state.models.find((m) => m.id === select.value) || null;
      localStorage.setItem("cong_chat_model", select.value);
      caps.replaceChildren(...capBadges(state.model));
      el.attach?.refresh();
    },
  });
  for (const m of state.models) {
    select.append(h("option", { value: m.id, selected: m.id === state.model?.id }, m.id));
  }
  const caps = h("span", { class: "chat-caps", "aria-live": "polite" }, capBadges(state.model));
  return h("div", { class: "chat-model" }, h("label", { for: "chat-model" }, t("chat.model")), select, caps);
}

function capBadges(model) {
  if (!model) return [];
  return (model.capabilities || []).map((c) => h("span", { class: "badge" }, t(`cap.${c}`)));
}

// --- conversations ------------------------------------------------------------------

async function loadConversations() {
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

async function openConversation(id) {
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

// --- messages -----------------------------------------------------------------------

function drawMessages() {
  const box = clear(el.messages);
  if (!state.messages.length) box.append(h("p", { class: "muted chat-empty" }, t("chat.empty")));
  state.messages.forEach((m, index) => box.append(messageNode(m, index)));
  box.scrollTop = box.scrollHeight;
}

function messageNode(m, index) {
  const body = m.role === "assistant" ? renderMarkdown(m.content) : h("div", { class: "chat-plain" }, m.content);
  if (m.role === "assistant") decorateCode(body);
  for (const call of m.tool_calls || []) {
    body.append(h("div", { class: "chat-plain chat-call" },
      t("chat.tool_call", { name: call.function.name, arguments: call.function.arguments })));
  }
  if (m.role === "tool") body.prepend(h("div", { class: "muted small" }, t("chat.tool_result")));
  const tools = h("div", { class: "chat-tools" });
  const busy = Boolean(state.controller);
  if (m.role === "user" && !busy) {
    tools.append(h("button", { type: "button", class: "link small", onclick: () => editMessage(index) }, t("chat.edit")));
  }
  if (m.role === "assistant" && index === state.messages.length - 1 && !busy) {
    tools.append(h("button", { type: "button", class: "link small", "data-testid": "chat-regenerate", onclick: regenerate }, t("chat.regenerate")));
  }
  if (m.usage) {
    const cost = m.cost ? ` · ${t("chat.cost")} ${m.cost}` : "";
    tools.append(
      h("span", { class: "chat-usage", "data-testid": "chat-usage" },
        t("chat.usage", { prompt: m.usage.prompt_tokens, completion: m.usage.completion_tokens }) + cost),
    );
  }
  if (m.memories?.length) {
    tools.append(h("span", { class: "chat-used" }, t("chat.used_memories", { count: m.memories.length })));
  }
  const files = m.role === "user" ? sentFiles(m.files) : resultFileButtons(resultFilesOf(m));
  return h("article", { class: `chat-msg chat-${m.role}`, "data-role": m.role }, body, files, tools);
}

/** The composer's message: waits for its attachments' uploads; keeps the text and the
 * chips when one of them cannot be sent. */
async function submit() {
  if (state.controller || state.submitting || !state.model) return;
  state.submitting = true;
  try {
    const parts = el.attach.items.length ? await el.attach.ready() : [];
    const text = el.input.value;
    if (parts === null || (!text.trim() && !parts.length)) return;
    el.input.value = "";
    el.attach.clear();
    await send(text, parts);
  } finally {
    state.submitting = false;
  }
}

/** Sends `text` with `parts` (file content parts) as the next user message. */
async function send(text, parts = []) {
  if ((!text.trim() && !parts.length) || state.controller || !state.model) return;
  const content = parts.length ? [...(text.trim() ? [{ type: "text", text }] : []), ...parts] : text;
  const user = { role: "user", content: text, files: filesOf(parts) };
  const answer = { role: "assistant", content: "" };
  state.messages.push(user, answer);
  drawMessages();
  const node = el.messages.lastElementChild;
  state.controller = new AbortController();
  setBusy(true);
  let pending = "";
  let frame = null;
  const paint = () => {
    frame = null;
    answer.content += pending;
    pending = "";
    const fresh = messageNode(answer, state.messages.length - 1);
    node.replaceChildren(...fresh.childNodes);
    el.messages.scrollTop = el.messages.scrollHeight;
  };
  try {
    const result = await streamChat({
      csrf: state.csrf,
      conversationId: state.conversation,
      body: { model: state.model.id, messages: [{ role: "user", content }] },
      signal: state.controller.signal,
      onDelta: (piece) => {
        pending += piece;
        if (!frame) frame = requestAnimationFrame(paint);
      },
    });
    if (frame) cancelAnimationFrame(frame);
    answer.content += pending;
    answer.usage = result.usage;
    answer.cost = costOf(state.model, result.usage);
    answer.memories = result.memories;
    if (result.files) answer.resultFiles = result.files;
    state.used = new Set(result.memories);
    if (result.conversationId && result.conversationId !== state.conversation) {
      state.conversation = result.conversationId;
    }
  } catch (error) {
    answer.content = `⚠ ${error.message}`;
  }
  try {
    await refreshIds();
    await Promise.all([loadConversations(), loadMemories()]);
  } finally {
    state.controller = null;
    drawMessages();
    setBusy(false);
  }
}

/** Message ids come from the stored conversation (for regenerate and edit). */
async function refreshIds() {
  if (!state.conversation) return;
  try {
    const body = await get(`/api/conversations/${state.conversation}`);
    const extras = state.messages;
    state.messages = body.messages.map((m, i) => ({
      ...m,
      content: textOf(m.content),
      files: filesOf(m.content),
      usage: extras[i]?.usage,
      cost: extras[i]?.cost,
      resultFiles: extras[i]?.resultFiles,
    }));
  } catch {
    // keep what is shown
  }
}

async function cutFrom(index) {
  const message = state.messages[index];
  if (state.conversation && message?.id) {
    await post(`/api/conversations/${state.conversation}/cut`, { from_message_id: message.id });
  }
  state.messages = state.messages.slice(0, index);
}

/** Drops message `index` and everything after it, then sends `text` (with the files the
 * message had) in its place. */
async function resendFrom(index, text) {
  const parts = partsOf(state.messages[index]?.files);
  if (state.controller) return;
  setBusy(true); // nothing else may start while the cut is on its way
  try {
    await cutFrom(index);
  } catch (error) {
    setBusy(false);
    throw error;
  }
  await send(text, parts);
}

async function regenerate() {
  const index = state.messages.findLastIndex((m) => m.role === "user");
  if (index >= 0) await resendFrom(index, state.messages[index].content);
}

async function editMessage(index) {
  const node = el.messages.children[index];
  const area = h("textarea", { class: "chat-edit", rows: 3 });
  area.value = state.messages[index].content;
  const save = h("button", { type: "button", onclick: () => resendFrom(index, area.value) }, t("chat.resend"));
  const cancel = h("button", { type: "button", class: "link", onclick: drawMessages }, t("chat.cancel"));
  node.replaceChildren(area, h("div", { class: "chat-tools" }, save, cancel));
  area.focus();
}

function setBusy(busy) {
  el.send.hidden = busy;
  el.stop.hidden = !busy;
  el.input.disabled = busy;
  if (!busy) el.input.focus();
}

// --- memories -----------------------------------------------------------------------

async function loadMemories() {
  const body = await get(`/api/memories${query({ limit: 200 })}`);
  state.memories = body.data;
  drawMemories();
}

function drawMemories() {
  const list = clear(el.memoryList);
  for (const m of state.memories) {
    const used = state.used.has(m.id);
    list.append(
      h(
        "li",
        { class: used ? "used" : null, "data-id": m.id },
        h("span", { class: "chat-memory-text" }, m.text),
        used ? h("span", { class: "badge", "data-testid": "memory-used" }, t("chat.used_here")) : null,
        m.pinned ? h("span", { class: "badge" }, t("chat.pinned")) : null,
        h("button", { type: "button", class: "link small", onclick: () => editMemory(m) }, t("chat.edit")),
        h("button", { type: "button", class: "link small", onclick: () => pinMemory(m) }, m.pinned ? t("chat.unpin") : t("chat.pin")),
        h("button", { type: "button", class: "link small danger", onclick: () => removeMemory(m) }, t("chat.delete")),
      ),
    );
  }
  if (!state.memories.length) list.append(h("li", { class: "muted" }, t("chat.no_memories")));
}

async function editMemory(m) {
  const text = window.prompt(t("chat.memory_edit_prompt"), m.text);
  if (!text) return;
  await patch(`/api/memories/${m.id}`, { text });
  await loadMemories();
}

async function pinMemory(m) {
  await patch(`/api/memories/${m.id}`, { pinned: !m.pinned });
  await loadMemories();
}

async function removeMemory(m) {
  if (!window.confirm(t("chat.memory_delete_confirm"))) return;
  await del(`/api/memories/${m.id}`);
  await loadMemories();
}

async function addMemory(event) {
  event.preventDefault();
  const text = el.memoryInput.value.trim();
  if (!text) return;
  await post("/api/memories", { text });
  el.memoryInput.value = "";
  await loadMemories();
}

// --- layout -------------------------------------------------------------------------

function closePanels() {
  el.root.classList.remove("show-sidebar", "show-memory");
}

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

export async function render(main) {
  stylesheet();
  const session = await api("GET", "/api/session");
  state.csrf = session.csrf_token;
  await loadModels();
  el.attach = new Attachments({ csrf: state.csrf, model: () => state.model });
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
  const sidebar = h(
    "aside",
    { class: "chat-sidebar", "aria-label": t("chat.conversations") },
    h("button", { type: "button", class: "primary", "data-testid": "chat-new", onclick: newConversation }, t("chat.new")),
    search,
    el.list,
  );
  el.messages = h("div", { class: "chat-messages", "data-testid": "chat-messages", "aria-live": "polite" });
  el.input = h("textarea", {
    id: "chat-input",
    rows: 2,
    "data-testid": "chat-input",
    placeholder: t("chat.placeholder"),
    onkeydown: (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        composer.requestSubmit();
      }
    },
  });
  el.send = h("button", { type: "submit", class: "primary", "data-testid": "chat-send" }, t("chat.send"));
  el.stop = h("button", { type: "button", "data-testid": "chat-stop", hidden: true, onclick: () => state.controller?.abort() }, t("chat.stop"));
  const composer = h(
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
  el.memoryList = h("ul", { class: "chat-memories", "data-testid": "chat-memories" });
  el.memoryInput = h("input", { type: "text", placeholder: t("chat.memory_add"), "aria-label": t("chat.memory_add") });
  const memoryPanel = h(
    "aside",
    { class: "chat-memory", "aria-label": t("chat.memory") },
    h("h2", {}, t("chat.memory")),
    h("p", { class: "hint" }, t("chat.memory_hint")),
    h("form", { class: "chat-memory-add", onsubmit: addMemory }, el.memoryInput, h("button", { type: "submit" }, t("chat.remember"))),
    el.memoryList,
  );
  const bar = h(
    "div",
    { class: "chat-bar" },
    h("button", { type: "button", class: "chat-toggle", onclick: () => toggle("show-sidebar") }, t("chat.conversations")),
    state.models.length ? modelPicker() : h("p", { class: "error" }, t("chat.no_models")),
    h("button", { type: "button", class: "chat-toggle", onclick: () => toggle("show-memory") }, t("chat.memory")),
  );
  const chatMain = h("section", { class: "chat-main" }, bar, el.messages, el.attach.node, composer);
  el.attach.bind(chatMain, el.input);
  el.root = h("div", { class: "chat", "data-testid": "chat" }, sidebar, chatMain, memoryPanel);
  main.replaceChildren(h("h1", { class: "sr-only" }, t("title.chat")), el.root);
  drawMessages();
  await Promise.all([loadConversations(), loadMemories()]);
  const wanted = new URLSearchParams(window.location.search).get("c");
  if (wanted) await openConversation(wanted);
}
