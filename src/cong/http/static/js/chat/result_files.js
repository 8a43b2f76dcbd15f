// Result files of an answer (docs/files.md, "Result files"): a download button per file
// the model made, and one for the ZIP of them all. They come with the answer's last
// stream chunk (`cong_files`); for a stored conversation they are read back from the
// answer's line of links to /api/files/<id>/content.
import { h } from "../dom.js";
import { t } from "../i18n.js";

const LINK = /\[([^\]\n]+)\]\((\/api\/files\/(file-[0-9a-f]{24})\/content)\)/g;

/** The files of message `m`: [{id, filename, download_url, kind}]. */
export function resultFilesOf(m) {
  if (Array.isArray(m.resultFiles)) return m.resultFiles;
  if (m.role !== "assistant" || typeof m.content !== "string") return [];
  return [...m.content.matchAll(LINK)].map(([, filename, url, id]) => ({
    id,
    filename,
    download_url: url,
    kind: filename.toLowerCase().endsWith(".zip") ? "zip" : "file",
  }));
}

/** The buttons for `files` (null when there are none). */
export function resultFileButtons(files) {
  if (!files.length) return null;
  const buttons = files.map((f) =>
    h(
      "a",
      {
        class: `button chat-file${f.kind === "zip" ? " chat-file-zip" : ""}`,
        href: f.download_url,
        download: f.filename,
        "data-testid": f.kind === "zip" ? "chat-file-zip" : "chat-file",
      },
      f.kind === "zip" ? t("chat.download_all", { name: f.filename }) : t("chat.download_file", { name: f.filename }),
    ),
  );
  return h("div", { class: "chat-files", role: "group", "aria-label": t("chat.result_files") }, ...buttons);
}
