// The web chat's shared state and page elements (pages/chat.js builds the elements), and
// what every part of the page uses: a message's text, closing the side panels.
export const state = {
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
export const el = {};
// Set by the page: what to reload once an answer is in (the conversation list, memories).
export const hooks = { answered: async () => {} };

/** A message content's text (the text parts of a list of parts). */
export function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => p.text || "").join("\n");
  return "";
}

/** Closes the conversation list and the memory panel (phone layout). */
export function closePanels() {
  el.root.classList.remove("show-sidebar", "show-memory");
}
