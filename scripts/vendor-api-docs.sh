#!/usr/bin/env bash
# Refresh the vendored Swagger UI and ReDoc (served at /api/docs and /api/redoc) in
# src/cong/http/static/vendor/ from the versions pinned in frontend/api-docs/
# package-lock.json (npm ci checks every integrity hash). The copies are committed:
# running the gateway never needs Node, and nothing comes from a CDN. Run this only after
# changing frontend/api-docs/package.json (then `npm install --package-lock-only` there).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/frontend/api-docs/package.json" "$root/frontend/api-docs/package-lock.json" \
   "$root/frontend/api-docs/.npmrc" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
dest="$root/src/cong/http/static/vendor"
modules="$work/node_modules"
rm -rf "$dest/swagger-ui" "$dest/redoc"
mkdir -p "$dest/swagger-ui" "$dest/redoc"
for file in swagger-ui-bundle.js swagger-ui.css LICENSE; do
  cp "$modules/swagger-ui-dist/$file" "$dest/swagger-ui/$file"
done
cp "$modules/swagger-ui-dist/NOTICE" "$dest/swagger-ui/NOTICE" 2>/dev/null || true
cp "$modules/redoc/bundles/redoc.standalone.js" "$dest/redoc/redoc.standalone.js"
cp "$modules/redoc/LICENSE" "$dest/redoc/LICENSE"
if [ -f "$modules/redoc/bundles/redoc.standalone.js.LICENSE.txt" ]; then
  cp "$modules/redoc/bundles/redoc.standalone.js.LICENSE.txt" "$dest/redoc/THIRD-PARTY-LICENSES.txt"
fi
# No source maps are shipped: drop the references to them.
sed -i '/^\/\/# sourceMappingURL=/d; s#//\# sourceMappingURL=[^ ]*\.map##' \
  "$dest/swagger-ui/swagger-ui-bundle.js" "$dest/redoc/redoc.standalone.js"
sed -i '/^\/\*# sourceMappingURL=/d' "$dest/swagger-ui/swagger-ui.css"
node -e '
const lock = require(process.argv[1]);
for (const [name, dir] of [["swagger-ui-dist", "swagger-ui"], ["redoc", "redoc"]]) {
  const p = lock.packages["node_modules/" + name];
  const text = [`${name} ${p.version} (${p.license})`, "from: the npm registry",
    `integrity: ${p.integrity}`, "Copied by scripts/vendor-api-docs.sh; do not edit by hand.", ""];
  require("fs").writeFileSync(`${process.argv[2]}/${dir}/VERSION`, text.join("\n"));
}
' "$work/package-lock.json" "$dest"
echo "vendored Swagger UI and ReDoc into $dest"
