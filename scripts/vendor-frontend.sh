#!/usr/bin/env bash
# Refresh the vendored front-end libraries in src/cong/http/static/vendor/ from the
# pinned versions in frontend/package-lock.json (npm ci checks every integrity hash).
# The vendored files are committed: running the gateway never needs Node. Run this only
# after changing frontend/package.json (then `npm install --package-lock-only` there).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/frontend/package.json" "$root/frontend/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --omit=optional >/dev/null)
dest="$root/src/cong/http/static/vendor"
mkdir -p "$dest/dompurify" "$dest/marked"
modules="$work/node_modules"
cp "$modules/dompurify/dist/purify.es.mjs" "$dest/dompurify/purify.es.js"
cp "$modules/dompurify/LICENSE" "$dest/dompurify/LICENSE"
cp "$modules/marked/lib/marked.esm.js" "$dest/marked/marked.esm.js"
cp "$modules/marked/LICENSE" "$dest/marked/LICENSE"
# No source maps are shipped: drop the references to them.
sed -i '/^\/\/# sourceMappingURL=/d' "$dest/dompurify/purify.es.js" "$dest/marked/marked.esm.js"
node -e '
const lock = require(process.argv[1]);
const lines = ["# Vendored front-end libraries", "",
  "Copied by scripts/vendor-frontend.sh from the npm registry at the versions pinned in",
  "frontend/package-lock.json (integrity-checked). Do not edit by hand.", "",
  "| package | version | license | file |", "|---|---|---|---|"];
const files = {dompurify: "dompurify/purify.es.js", marked: "marked/marked.esm.js"};
for (const [name, file] of Object.entries(files)) {
  const p = lock.packages["node_modules/" + name];
  lines.push(`| ${name} | ${p.version} | ${p.license} | ${file} |`);
}
require("fs").writeFileSync(process.argv[2], lines.join("\n") + "\n");
' "$work/package-lock.json" "$dest/README.md"
echo "vendored into $dest"
