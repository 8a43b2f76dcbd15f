// The web chat's model picker: the chat models the user may call (the last one chosen is
// remembered in the browser) and their capabilities.
import { get } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { el, state } from "./state.js";

export async function loadModels() {
  const body = await get("/api/models");
  state.models = (body.data || body).filter((m) => m.kind === "chat" && m.state !== "down");
  const saved = localStorage.getItem("cong_chat_model");
  state.model = state.models.find((m) => m.id === saved) || state.models[0] || null;
}

export function modelPicker() {
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
