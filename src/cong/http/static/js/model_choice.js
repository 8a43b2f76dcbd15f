// The models a page offers, by kind (chat, embedding, image): the caller's own (their
// key's or group's models, aliases included) when signed in, else the public status
// report's. A chat snippet never names an embedding model.
import { get } from "./api.js";

const KINDS = ["chat", "embedding", "image"];
// The names the README and most clients use, when this server serves them.
const PREFERRED = { chat: "gpt-4o", embedding: "text-embedding-3-small", image: "dall-e-3" };

export async function modelsByKind(ctx) {
  const kinds = Object.fromEntries(KINDS.map((k) => [k, []]));
  try {
    if (ctx.me) {
      const body = await get("/api/models");
      for (const m of body.data || body) if (kinds[m.kind]) kinds[m.kind].push(m.id);
      for (const k of KINDS) kinds[k].sort();
      return kinds;
    }
  } catch {
    // fall back to the public status report
  }
  try {
    const report = await get("/api/status");
    for (const k of KINDS) kinds[k] = (report.models && report.models[k]) || [];
  } catch {
    // no models known: the snippets show the README's names
  }
  return kinds;
}

// The model a snippet of ``kind`` names: the preferred name when served, else the first.
export function defaultModel(kinds, kind) {
  const models = kinds[kind] || [];
  return models.includes(PREFERRED[kind]) ? PREFERRED[kind] : models[0] || PREFERRED[kind];
}
