// "/login" — sign in with a user name and password, or with a personal API key (the same
// key used by apps and IDEs). The key is sent once; the session lives in an HttpOnly cookie.
import { api, setCsrf } from "../api.js";
import { h, field } from "../dom.js";
import { t } from "../i18n.js";
import { safeNext, signInWithKey, signInWithPassword } from "../session.js";
import { messageArea, section } from "../widgets.js";

function next() {
  return safeNext(new URLSearchParams(window.location.search).get("next"));
}

export async function render(main, ctx) {
  main.append(h("h1", {}, t("login.title")));
  if (ctx.me) {
    main.append(h("p", {}, t("login.already", { name: ctx.me.name }), " ", h("a", { href: "/keys" }, t("nav.keys"))));
  }

  const name = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const passwordMessage = messageArea();
  const passwordForm = h(
    "form",
    {
      class: "card",
      "data-testid": "password-form",
      onsubmit: async (event) => {
        event.preventDefault();
        passwordMessage.clear();
        keyMessage.clear(); // one attempt's answer at a time, whichever form it came from
        try {
          await signInWithPassword(name.value.trim(), password.value);
          window.location.assign(next());
        } catch (error) {
          password.value = "";
          passwordMessage.fail(error);
        }
      },
    },
    field(t("login.name"), name),
    field(t("login.password"), password),
    h("button", { type: "submit" }, t("login.submit")),
    passwordMessage,
  );

  const key = h("input", { name: "api-key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const keyMessage = messageArea();
  const keyForm = h(
    "form",
    {
      class: "card",
      "data-testid": "key-form",
      onsubmit: async (event) => {
        event.preventDefault();
        keyMessage.clear();
        passwordMessage.clear();
        const value = key.value.trim();
        key.value = "";
        try {
          await signInWithKey(value);
          window.location.assign(next());
        } catch (error) {
          keyMessage.fail(error);
        }
      },
    },
    field(t("login.key"), key, t("login.key_hint")),
    h("button", { type: "submit" }, t("login.submit_key")),
    keyMessage,
  );

  main.append(
    h("div", { class: "grid two" }, section("login.with_password", passwordForm), section("login.with_key", keyForm)),
  );
  if (ctx.registration && ctx.registration !== "off") main.append(section("login.register", registerForm(ctx.registration)));
}

/** Self-registration, when an admin turned it on ("open", or "code": a redemption code is needed). */
function registerForm(mode) {
  const name = h("input", { name: "new-username", autocomplete: "username", required: true, maxlength: "64" });
  const password = h("input", { name: "new-password", type: "password", autocomplete: "new-password", required: true });
  const code = mode === "code" ? h("input", { name: "code", required: true, autocomplete: "off" }) : null;
  const message = messageArea();
  return h(
    "form",
    {
      class: "card",
      "data-testid": "register-form",
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        const body = { username: name.value.trim(), password: password.value };
        if (code) body.code = code.value.trim();
        try {
          const session = await api("POST", "/api/session/register", body);
          setCsrf(session.csrf_token);
          window.location.assign("/keys");
        } catch (error) {
          message.fail(error);
        }
      },
    },
    h("p", { class: "muted" }, t(mode === "code" ? "login.register_code" : "login.register_open")),
    field(t("login.name"), name),
    field(t("login.new_password"), password, t("login.password_rules")),
    code ? field(t("wallet.code"), code) : null,
    h("button", { type: "submit" }, t("login.register_submit")),
    message,
  );
}
