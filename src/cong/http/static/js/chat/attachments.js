// The web chat's attachments: files added with the picker, dropped on the chat or pasted
// into the message box are uploaded at once to /api/files (the Files API of /v1/files,
// with the session cookie and its CSRF token), each with a progress bar, a chip (name,
// size, type), a preview (an image's thumbnail, a text's first lines) and a remove
// button. The message then carries OpenAI `file` parts with their file ids. Names and
// contents are only ever inserted as text.
import { get } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const TEXT_EXTENSIONS = new Set(
  ("txt md markdown csv tsv json yaml yml xml html htm log ini toml cfg conf sql py js mjs ts " +
    "tsx jsx java c h cpp hpp cs go rs rb php sh bash ps1 kt swift r lua pl css scss")
    .split(" "),
);
const PREVIEW_BYTES = 2048;
const PREVIEW_LINES = 6;

/** "12.3 KB"-style size. */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

function isImage(file) {
  return IMAGE_TYPES.has(file.type) || ["png", "jpg", "jpeg", "gif", "webp"].includes(extensionOf(file.name));
}

function isText(file) {
  return file.type.startsWith("text/") || file.type === "application/json" || TEXT_EXTENSIONS.has(extensionOf(file.name));
}

/** What to tell the user about a refused upload (the server's code decides the text). */
function problemText(status, error, limits) {
  const texts = {
    storage_quota_exceeded: () => t("attach.quota"),
    empty_file: () => t("attach.empty"),
    invalid_file_name: () => t("attach.bad_name"),
    unsafe_archive: () => t("attach.unsafe_archive"),
    invalid_file_content: () => t("attach.unreadable"),
    file_unreadable: () => t("attach.unreadable"),
  };
  const code = error?.code;
  if (texts[code]) return texts[code]();
  if (status === 413 && limits?.max_file_bytes) return t("attach.too_large", { limit: formatBytes(limits.max_file_bytes) });
  if (status === 413) return t("attach.too_large_here");
  if (status === 0) return t("attach.network");
  if (status === 401) return t("attach.signed_out");
  return t("attach.failed", { message: error?.message || String(status) });
}

/** The `file` parts of a stored message's content: [{id, name}]. */
export function filesOf(content) {
  if (!Array.isArray(content)) return [];
  return content
    .filter((part) => part && part.type === "file" && part.file)
    .map((part) => ({ id: part.file.file_id || null, name: part.file.filename || part.file.file_id || "file" }));
}

/** The `file` parts for files [{id, name}] (to send a message again with its files). */
export function partsOf(files) {
  return (files || []).filter((f) => f.id).map((f) => ({ type: "file", file: { file_id: f.id, filename: f.name } }));
}

/** The list of files a sent message carried (names only). */
export function sentFiles(files) {
  if (!files?.length) return null;
  return h(
    "ul",
    { class: "attach-sent", "aria-label": t("attach.sent_files"), "data-testid": "attach-sent" },
    files.map((f) => h("li", { class: "attach-sent-file" }, f.name)),
  );
}

export class Attachments {
  /** `csrf`: the session's token; `model()`: the model picked now (its capabilities). */
  constructor({ csrf, model }) {
    this.csrf = csrf;
    this.model = model;
    this.items = [];
    this.limits = null;
    this.input = h("input", {
      type: "file",
      multiple: true,
      class: "offscreen",
      tabindex: "-1",
      "aria-hidden": "true",
      "aria-label": t("attach.add"),
      "data-testid": "attach-input",
      onchange: () => {
        this.add([...this.input.files]);
        this.input.value = "";
      },
    });
    this.button = h(
      "button",
      { type: "button", class: "attach-button", "aria-label": t("attach.add"), title: t("attach.add"), "data-testid": "attach-button", onclick: () => this.input.click() },
      h("img", { src: "/static/img/paperclip.svg", alt: "", width: "20", height: "20" }),
    );
    this.list = h("ul", { class: "attach-list", "data-testid": "attach-list" });
    this.status = h("p", { class: "attach-status", "aria-live": "polite", "data-testid": "attach-status" });
    this.node = h("div", { class: "attach-tray" }, this.list, this.status, this.input);
    this.node.hidden = true;
    this.loading = get("/api/me/storage").then((limits) => (this.limits = limits), () => null);
    stylesheet();
  }

  /** Drop files on `zone` (it shows a hint while they are dragged over it); paste files
   * or images into `box`. */
  bind(zone, box) {
    let depth = 0;
    const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
    zone.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth += 1;
      zone.classList.add("attach-dragging");
    });
    zone.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("attach-dragging");
    });
    zone.addEventListener("drop", (event) => {
      depth = 0;
      zone.classList.remove("attach-dragging");
      if (!carriesFiles(event)) return;
      event.preventDefault();
      this.add([...event.dataTransfer.files]);
    });
    zone.setAttribute("data-drop-hint", t("attach.drop"));
    box.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (!files.length) return; // plain text pastes as usual
      event.preventDefault();
      this.add(files.map((file, i) => (file.name ? file : new File([file], `pasted-${Date.now()}-${i}`, { type: file.type }))));
    });
  }

  add(files) {
    for (const file of files) {
      const item = { file, id: null, state: "uploading", error: null, xhr: null, url: null };
      item.node = this.chip(item);
      this.items.push(item);
      this.list.append(item.node);
      item.done = this.loading.then(() => this.start(item));
    }
    this.refresh();
  }

  /** Refuses what cannot be stored (empty, over the limit) before sending it. */
  start(item) {
    const limit = this.limits?.max_file_bytes;
    if (!this.items.includes(item)) return null; // removed meanwhile
    if (item.file.size === 0) return this.fail(item, t("attach.empty"));
    if (limit && item.file.size > limit) return this.fail(item, t("attach.too_large", { limit: formatBytes(limit) }));
    return this.upload(item);
  }

  chip(item) {
    const { file } = item;
    const image = isImage(file);
    item.progress = h("progress", { max: "1", value: "0", "aria-label": t("attach.uploading", { name: file.name }), "data-testid": "attach-progress" });
    item.message = h("span", { class: "attach-message", "data-testid": "attach-error", role: "alert", hidden: true });
    const preview = h("div", { class: "attach-preview", "data-testid": "attach-preview", "aria-label": t("attach.preview", { name: file.name }) });
    if (image) {
      item.url = URL.createObjectURL(file);
      preview.append(h("img", { src: item.url, alt: file.name, class: "attach-thumb" }));
    } else if (isText(file)) {
      readHead(file).then((text) => preview.append(h("pre", { class: "attach-text" }, text)));
    } else {
      preview.hidden = true;
    }
    const remove = h(
      "button",
      { type: "button", class: "link small attach-remove", "aria-label": t("attach.remove", { name: file.name }), title: t("attach.remove", { name: file.name }), "data-testid": "attach-remove", onclick: () => this.remove(item) },
      "✕",
    );
    const kind = file.type || extensionOf(file.name).toUpperCase() || "?";
    return h(
      "li",
      { class: "attach-chip", "data-testid": "attach-chip", "data-state": "uploading" },
      preview,
      h(
        "div",
        { class: "attach-info" },
        h("span", { class: "attach-name", "data-testid": "attach-name" }, file.name),
        h("span", { class: "attach-meta" }, h("span", { "data-testid": "attach-size" }, formatBytes(file.size)), " · ", h("span", { "data-testid": "attach-type" }, kind)),
        item.progress,
        item.message,
      ),
      remove,
    );
  }

  upload(item) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      item.xhr = xhr;
      xhr.open("POST", "/api/files");
      xhr.responseType = "json";
      if (this.csrf) xhr.setRequestHeader("x-csrf-token", this.csrf);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) item.progress.value = event.loaded / event.total;
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 200 && xhr.response?.id) {
          item.id = xhr.response.id;
          item.state = "ready";
          item.progress.value = 1;
          item.progress.hidden = true;
        } else {
          this.fail(item, problemText(xhr.status, xhr.response?.error, this.limits), xhr.response?.error?.message);
        }
        this.refresh();
        resolve();
      });
      xhr.addEventListener("error", () => {
        this.fail(item, problemText(0, null, this.limits));
        resolve();
      });
      xhr.addEventListener("abort", () => resolve());
      const form = new FormData();
      form.append("purpose", "user_data");
      form.append("file", item.file, item.file.name);
      xhr.send(form);
    });
  }

  fail(item, text, detail) {
    item.state = "error";
    item.error = text;
    item.progress.hidden = true;
    item.message.hidden = false;
    item.message.textContent = text;
    if (detail) item.message.title = detail;
    this.refresh();
  }

  remove(item) {
    this.items = this.items.filter((other) => other !== item);
    if (item.state === "uploading") item.xhr?.abort();
    if (item.id) {
      // not sent: the stored copy goes too (it would only take quota)
      fetch(`/api/files/${item.id}`, { method: "DELETE", credentials: "same-origin", headers: this.csrf ? { "x-csrf-token": this.csrf } : {} }).catch(() => null);
    }
    if (item.url) URL.revokeObjectURL(item.url);
    item.node.remove();
    this.refresh();
  }

  /** Marks images the picked model cannot read, and shows or hides the tray. */
  refresh() {
    const vision = (this.model()?.capabilities || []).includes("vision");
    for (const item of this.items) {
      item.node.dataset.state = item.state;
      const refused = item.state !== "error" && isImage(item.file) && !vision;
      item.node.classList.toggle("attach-refused", refused);
      if (item.state !== "error") {
        item.message.hidden = !refused;
        item.message.textContent = refused ? t("attach.no_vision") : "";
      }
    }
    this.node.hidden = this.items.length === 0;
    this.status.textContent = "";
  }

  /** Waits for the uploads, then the message's file parts; null (and a message) when
   * an attachment cannot be sent. */
  async ready() {
    await Promise.all(this.items.map((item) => item.done));
    this.refresh();
    const vision = (this.model()?.capabilities || []).includes("vision");
    if (this.items.some((item) => item.state !== "ready" || (isImage(item.file) && !vision))) {
      this.status.textContent = t("attach.fix_first");
      return null;
    }
    return this.items.map((item) => ({ type: "file", file: { file_id: item.id, filename: item.file.name } }));
  }

  /** After sending: the chips go, the files stay (the message refers to them). */
  clear() {
    for (const item of this.items) {
      if (item.url) URL.revokeObjectURL(item.url);
    }
    this.items = [];
    this.list.replaceChildren();
    this.refresh();
  }
}

async function readHead(file) {
  const bytes = await file.slice(0, PREVIEW_BYTES).arrayBuffer();
  const text = new TextDecoder("utf-8").decode(bytes);
  const lines = text.split(/\r?\n/);
  const head = lines.slice(0, PREVIEW_LINES).join("\n");
  return lines.length > PREVIEW_LINES || file.size > PREVIEW_BYTES ? `${head}\n…` : head;
}

function stylesheet() {
  if (document.getElementById("attach-css")) return;
  document.head.append(h("link", { id: "attach-css", rel: "stylesheet", href: "/static/css/attachments.css" }));
}
