// The web chat's calls: one streamed answer from /api/chat/completions (session cookie +
// CSRF token), read as server-sent events, stoppable with an AbortController.
import { ApiError } from "../api.js";

/** Streams one answer. `onDelta(text)` gets each piece of text; resolves to
 * { conversationId, memories: [ids], usage, requestId, stopped, files } (`files`: the
 * result files of the last chunk's `cong_files`, or null). */
export async function streamChat({ csrf, conversationId, body, signal, onDelta }) {
  const headers = { "content-type": "application/json", accept: "text/event-stream" };
  if (csrf) headers["x-csrf-token"] = csrf;
  if (conversationId) headers["x-conversation-id"] = conversationId;
  let response;
  try {
    response = await fetch("/api/chat/completions", {
      method: "POST",
      headers,
      credentials: "same-origin",
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") return { stopped: true, conversationId, memories: [], usage: null };
    throw error;
  }
  if (!response.ok) {
    let message = response.statusText;
    let code = null;
    try {
      const data = await response.json();
      message = data.error?.message || message;
      code = data.error?.code || null;
    } catch {
      // not JSON
    }
    throw new ApiError(response.status, message, code, response.headers.get("x-request-id"));
  }
  const result = {
    conversationId: response.headers.get("x-conversation-id") || conversationId,
    memories: (response.headers.get("x-memories-used") || "").split(",").filter(Boolean).map(Number),
    requestId: response.headers.get("x-request-id"),
    usage: null,
    stopped: false,
    files: null,
  };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (!data || data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new ApiError(502, chunk.error.message, chunk.error.code, result.requestId);
          if (chunk.usage) result.usage = chunk.usage;
          if (Array.isArray(chunk.cong_files)) result.files = chunk.cong_files;
          const text = chunk.choices?.[0]?.delta?.content;
          if (text) onDelta(text);
        }
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") throw error;
    result.stopped = true;
  }
  return result;
}
