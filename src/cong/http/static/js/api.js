// The pages talk to the same management API as the CLI (/api/...), signed in with the
// session cookie (HttpOnly: scripts never see it). Requests that change something carry
// the CSRF token from GET /api/session in X-CSRF-Token. Keys are never stored anywhere.

export class ApiError extends Error {
  constructor(status, message, code, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

const state = { csrf: null };

export function setCsrf(token) {
  state.csrf = token || null;
}

async function errorOf(response) {
  let message = response.statusText || `HTTP ${response.status}`;
  let code = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      code = body.error.code || null;
    }
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(response.status, message, code, response.headers.get("x-request-id"));
}

/** The session ended elsewhere (signed out, expired, its key revoked): back to the
 * sign-in page, which returns here afterwards. */
export function signedOut() {
  if (window.location.pathname === "/login") return;
  window.location.replace(`/login?next=${encodeURIComponent(window.location.pathname)}`);
}

/** One JSON call; resolves to the parsed body (null for 204), throws ApiError. */
export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && state.csrf) headers["x-csrf-token"] = state.csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && !path.startsWith("/api/session")) signedOut();
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") search.set(k, v);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** A /v1 call made with an API key held only in this page's memory. */
export async function callWithKey(key, path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    credentials: "omit",
    body: JSON.stringify(body),
  });
  const requestId = response.headers.get("x-request-id");
  if (!response.ok) throw await errorOf(response);
  return { body: await response.json(), requestId };
}
