// "/keys" — create a key (name, models, expiry, caps, limits, IP allow-list), shown once
// with a copy button and a try-it box; the list (masked, last used) with revoke. An admin
// manages another user's keys on /keys?user=NAME (from the admin page's user list).
import { callWithKey, get, post, query } from "../api.js";
import { field, fmtDate, h } from "../dom.js";
import { t } from "../i18n.js";
import { renderMarkdown } from "../markdown.js";
import { badge, codeBlock, listValue, messageArea, section, table } from "../widgets.js";

function number(input) {
  return input.value.trim() === "" ? undefined : Number(input.value);
}

/** Whose keys the page shows: the caller's, or for an admin the user named in ?user=. */
function ownerOf(ctx) {
  const asked = new URLSearchParams(window.location.search).get("user");
  return ctx.me.role === "admin" && asked ? asked : ctx.me.name;
}

function createForm(ctx, onCreated) {
  const name = h("input", { name: "name", maxlength: "128", required: true });
  const models = h("input", { name: "models", placeholder: "gpt-4o, fake-model" });
  const expires = h("input", { name: "expires", type: "date" });
  const spendCap = h("input", { name: "spend_cap", type: "number", min: "0", step: "0.000001" });
  const periodCap = h("input", { name: "period_cap", type: "number", min: "0", step: "0.000001" });
  const period = h("select", { name: "period" }, h("option", { value: "day" }, t("keys.per_day")), h("option", { value: "month" }, t("keys.per_month")));
  const rpm = h("input", { name: "rpm", type: "number", min: "1", step: "1" });
  const tpm = h("input", { name: "tpm", type: "number", min: "1", step: "1" });
  const ips = h("input", { name: "ip_allow", placeholder: "203.0.113.0/24" });
  const message = messageArea();
  const form = h(
    "form",
    {
      class: "card",
      "data-testid": "create-key",
      onsubmit: async (event) => {
        event.preventDefault();
        message.clear();
        const body = { name: name.value.trim() };
        if (ownerOf(ctx) !== ctx.me.name) body.user = ownerOf(ctx);
        const modelList = listValue(models.value);
        if (modelList) body.models = modelList;
        if (expires.value) {
          body.expires_at = `${expires.value}T23:59:59Z`;
          if (new Date(body.expires_at) <= new Date()) {
            message.fail(t("keys.expires_past"));
            return;
          }
        }
        if (number(spendCap) !== undefined) body.spend_cap = spendCap.value;
        if (number(periodCap) !== undefined) {
          body.period_cap = periodCap.value;
          body.period = period.value;
        }
        if (number(rpm) !== undefined) body.rpm = number(rpm);
        if (number(tpm) !== undefined) body.tpm = number(tpm);
        const ipList = listValue(ips.value);
        if (ipList) body.ip_allow = ipList;
        try {
          const created = await post("/api/keys", body);
          form.reset();
          message.ok(t("keys.created"));
          onCreated(created);
        } catch (error) {
          message.fail(error);
        }
      },
    },
    h("div", { class: "grid three" },
      field(t("keys.name"), name),
      field(t("keys.models"), models, t("keys.models_hint")),
      field(t("keys.expires"), expires, t("keys.expires_hint")),
      field(t("keys.spend_cap"), spendCap),
      field(t("keys.period_cap"), periodCap),
      field(t("keys.period"), period),
      field(t("keys.rpm"), rpm),
      field(t("keys.tpm"), tpm),
      field(t("keys.ip_allow"), ips, t("keys.ip_hint")),
    ),
    h("button", { type: "submit" }, t("keys.create")),
    message,
  );
  return form;
}

/** The new key, shown this once, with a box to try it on /v1/chat/completions. */
function shownOnce(created) {
  const secret = created.key;
  const box = h("div", { class: "card once", "data-testid": "new-key" });
  const model = h("select", { name: "model" });
  const prompt = h("textarea", { name: "prompt", rows: "2" });
  prompt.value = t("docs.sample_prompt");
  const answer = h("div", { class: "answer", "aria-live": "polite", "data-testid": "answer" });
  const message = messageArea();
  callWithKeyModels(secret, model);
  box.append(
    h("h3", {}, t("keys.once_title", { name: created.name })),
    h("p", { class: "warn" }, t("keys.once_text")),
    codeBlock(secret, t("keys.the_key")),
    h(
      "form",
      {
        class: "try",
        onsubmit: async (event) => {
          event.preventDefault();
          message.clear();
          answer.replaceChildren(h("p", {}, t("keys.try_waiting")));
          try {
            const { body, requestId } = await callWithKey(secret, "/v1/chat/completions", {
              model: model.value,
              messages: [{ role: "user", content: prompt.value }],
            });
            answer.replaceChildren(
              renderMarkdown(body.choices[0].message.content || ""),
              h("p", { class: "meta" }, t("error.request_id"), ": ", h("code", { "data-testid": "request-id" }, requestId || "")),
            );
          } catch (error) {
            answer.replaceChildren();
            message.fail(error);
          }
        },
      },
      h("h4", {}, t("keys.try_title")),
      h("div", { class: "grid two" }, field(t("docs.model"), model), field(t("keys.prompt"), prompt)),
      h("button", { type: "submit" }, t("keys.try_send")),
      message,
      answer,
    ),
  );
  return box;
}

async function callWithKeyModels(secret, select) {
  try {
    const response = await fetch("/v1/models", { headers: { authorization: `Bearer ${secret}` }, credentials: "omit" });
    const body = await response.json();
    for (const m of body.data || []) select.append(h("option", { value: m.id }, m.id));
  } catch {
    select.append(h("option", { value: "gpt-4o" }, "gpt-4o"));
  }
}

async function keyList(ctx, holder) {
  const keys = await get(`/api/keys${query({ user: ctx.me.role === "admin" ? ownerOf(ctx) : null })}`);
  const message = messageArea();
  const revoke = (key) =>
    h(
      "button",
      {
        type: "button",
        class: "danger small",
        disabled: key.state === "revoked",
        "aria-label": `${t("keys.revoke")}: ${key.name}`,
        onclick: async () => {
          if (!window.confirm(t("keys.revoke_confirm", { name: key.name }))) return;
          try {
            await post(`/api/keys/${encodeURIComponent(key.id)}/revoke`);
            await keyList(ctx, holder);
          } catch (error) {
            message.fail(error);
          }
        },
      },
      t("keys.revoke"),
    );
  holder.replaceChildren(
    table(
      [
        { label: t("keys.name"), cell: (k) => k.name },
        { label: t("keys.key"), cell: (k) => h("code", {}, k.masked) },
        { label: t("keys.state"), cell: (k) => badge(t(`state.${k.state}`), k.state === "active" ? "ok" : "bad") },
        { label: t("keys.models"), cell: (k) => (k.models ? k.models.join(", ") : t("keys.all_models")) },
        { label: t("keys.spent"), cell: (k) => (k.spend_cap ? `${k.spent} / ${k.spend_cap}` : k.spent) },
        { label: t("keys.last_used"), cell: (k) => fmtDate(k.last_used_at) },
        { label: t("keys.expires"), cell: (k) => fmtDate(k.expires_at) },
        { label: t("table.actions"), cell: (k) => revoke(k) },
      ],
      keys,
      { caption: t("keys.list_caption"), empty: t("keys.none") },
    ),
    message,
  );
}

export async function render(main, ctx) {
  const once = h("div", {});
  const list = h("div", { "data-testid": "key-list" });
  const owner = ownerOf(ctx);
  const other = owner !== ctx.me.name;
  main.append(
    h("h1", {}, other ? t("keys.title_of", { name: owner }) : t("keys.title")),
    other
      ? h("p", { class: "lead" }, t("keys.lead_of", { name: owner }), " ", h("a", { href: "/admin" }, t("nav.admin")))
      : h("p", { class: "lead" }, t("keys.lead")),
    section(
      "keys.new",
      createForm(ctx, async (created) => {
        once.replaceChildren(shownOnce(created));
        await keyList(ctx, list);
        once.querySelector("h3").scrollIntoView({ block: "nearest" });
      }),
      once,
    ),
    other ? h("section", {}, h("h2", {}, t("keys.of_user", { name: owner })), list) : section("keys.yours", list),
  );
  await keyList(ctx, list);
}
