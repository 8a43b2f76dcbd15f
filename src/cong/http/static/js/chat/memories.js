// The web chat's memory panel: what is remembered about the user (docs/memory.md), which
// memories the last answer used, and adding, editing, pinning and deleting them.
import { del, get, patch, post, query } from "../api.js";
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { el, state } from "./state.js";

export async function loadMemories() {
  const body = await get(`/api/memories${query({ limit: 200 })}`);
  state.memories = body.data;
  drawMemories();
}

export function drawMemories() {
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

/** The panel (its list and input are `el.memoryList`, `el.memoryInput`). */
export function memoryPanel() {
  el.memoryList = h("ul", { class: "chat-memories", "data-testid": "chat-memories" });
  el.memoryInput = h("input", { type: "text", placeholder: t("chat.memory_add"), "aria-label": t("chat.memory_add") });
  return h(
    "aside",
    { class: "chat-memory", "aria-label": t("chat.memory") },
    h("h2", {}, t("chat.memory")),
    h("p", { class: "hint" }, t("chat.memory_hint")),
    h("form", { class: "chat-memory-add", onsubmit: addMemory }, el.memoryInput, h("button", { type: "submit" }, t("chat.remember"))),
    el.memoryList,
  );
}
