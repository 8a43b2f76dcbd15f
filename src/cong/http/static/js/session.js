// Signing in and out. The session token itself only ever lives in the HttpOnly cookie
// the server sets; a key typed into the sign-in form is sent once and forgotten.
import { api, setCsrf } from "./api.js";

export async function signInWithPassword(name, password) {
  const session = await api("POST", "/api/session", { username: name, password });
  setCsrf(session.csrf_token);
  return session;
}

export async function signInWithKey(key) {
  const session = await api("POST", "/api/session", { api_key: key });
  setCsrf(session.csrf_token);
  return session;
}

export async function signOut() {
  try {
    await api("DELETE", "/api/session");
  } finally {
    window.location.assign("/login");
  }
}

/** Only same-site paths are followed after sign-in (no open redirect). */
export function safeNext(value) {
  if (typeof value === "string" && /^\/(?![/\\])[\w\-/]*$/.test(value)) return value;
  return "/keys";
}
