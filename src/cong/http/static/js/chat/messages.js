// The open conversation of the web chat: its messages (safe Markdown with highlighted,
// copyable code, tool calls, usage and cost, the files sent and made), sending a message
// and streaming its answer with a stop button, regenerate, and edit-and-resend.
import { get, post, signedOut } from "../api.js";
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { renderMarkdown } from "../markdown.js";
import { filesOf, partsOf, sentFiles } from "./attachments.js";
import { decorateCode } from "./code.js";
import { resultFileButtons, resultFilesOf } from "./result_files.js";
import { el, hooks, state, textOf } from "./state.js";
import { streamChat } from "./stream.js";

export function drawMessages() {
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
    tools.append(h("span", { class: "chat-usage", "data-testid": "chat-usage" }, usageText(m)));
  }
  if (m.memories?.length) {
    tools.append(h("span", { class: "chat-used" }, t("chat.used_memories", { count: m.memories.length })));
  }
  const files = m.role === "user" ? sentFiles(m.files) : resultFileButtons(resultFilesOf(m));
  return h("article", { class: `chat-msg chat-${m.role}`, "data-role": m.role, "data-request-id": m.requestId }, body, files, tools);
}

function usageText(m) {
  const cost = m.cost ? ` · ${t("chat.cost")} ${m.cost}` : "";
  return t("chat.usage", { prompt: m.usage.prompt_tokens, completion: m.usage.completion_tokens }) + cost;
}

/** The composer's message: waits for its attachments' uploads; keeps the text and the
 * chips when one of them cannot be sent. */
export async function submit() {
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
  let failed = false;
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
    answer.requestId = result.requestId;
    answer.memories = result.memories;
    if (result.files) answer.resultFiles = result.files;
    state.used = new Set(result.memories);
    if (result.conversationId && result.conversationId !== state.conversation) {
      state.conversation = result.conversationId;
    }
    if (result.requestId && state.model?.price) showCharge(result.requestId);
  } catch (error) {
    answer.content = `⚠ ${errorText(error)}`;
    failed = true;
  }
  try {
    await refreshIds(failed ? 0 : STORED_WAIT_MS);
    await hooks.answered();
  } finally {
    state.controller = null;
    drawMessages();
    setBusy(false);
  }
}

/** Shows under its answer what request `requestId` was charged, from the usage log
 * (written within about a second of the answer): the price the server applied, rounded
 * as it rounds, never an estimate made here. */
async function showCharge(requestId) {
  for (let attempt = 0; attempt < 10; attempt++) {
    await sleep(attempt ? 400 : 200);
    let row;
    try {
      row = await get(`/api/usage/requests/${encodeURIComponent(requestId)}`);
    } catch (error) {
      if (error.status === 404) continue; // not written yet
      return;
    }
    const message = state.messages.find((m) => m.requestId === requestId);
    if (!message) return;
    message.cost = row.cost;
    // Only its usage line changes: a redraw would replace the buttons under the pointer.
    for (const node of el.messages.querySelectorAll("article[data-request-id]")) {
      if (node.dataset.requestId !== requestId || !message.usage) continue;
      const line = node.querySelector(".chat-usage");
      if (line) line.textContent = usageText(message);
    }
    return;
  }
}

/** What the chat shows for an answer that failed: what a user can act on, in the page's
 * language (a web chat user sets no max_tokens and may not top up themselves). */
function errorText(error) {
  if (error.status === 401) signedOut();
  if (error.status === 402) return t("chat.error_funds");
  return error.message;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// How long the page waits for an answer's turn to be stored: it is written just behind
// the answer, and a stopped one once the server has seen the stop.
const STORED_WAIT_MS = 4000;

/** Message ids come from the stored conversation (for regenerate and edit). Waits up to
 * `waitMs` until it holds every message shown (else keeps what is shown). */
async function refreshIds(waitMs = STORED_WAIT_MS) {
  if (!state.conversation) return;
  const deadline = Date.now() + waitMs;
  for (;;) {
    let body = null;
    try {
      body = await get(`/api/conversations/${state.conversation}`);
    } catch {
      // not stored yet (404), or away: try again until the deadline
    }
    if (body && body.messages.length >= state.messages.length) {
      const extras = state.messages;
      state.messages = body.messages.map((m, i) => ({
        ...m,
        content: textOf(m.content),
        files: filesOf(m.content),
        usage: extras[i]?.usage,
        cost: extras[i]?.cost,
        requestId: extras[i]?.requestId,
        resultFiles: extras[i]?.resultFiles,
      }));
      return;
    }
    if (Date.now() >= deadline) return;
    await sleep(150);
  }
}

async function cutFrom(index) {
  if (state.conversation && !state.messages[index]?.id) await refreshIds();
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
