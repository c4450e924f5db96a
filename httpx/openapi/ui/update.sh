#!/bin/sh
# Updates the embedded Swagger UI (swagger-ui-dist, Apache-2.0) from npm:
#   ./update.sh 5.35.0
# then run the package's tests (go test ./httpx/openapi/) and commit.
set -eu
v=${1:?usage: update.sh VERSION}
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$v" >/dev/null && tar xzf "swagger-ui-dist-$v.tgz")
for f in swagger-ui-bundle.js swagger-ui.css; do
	gzip -9 -n -c "$tmp/package/$f" >"$f.gz"
done
cp "$tmp/package/LICENSE" LICENSE
cp "$tmp/package/NOTICE" NOTICE
cp "$tmp/package/swagger-ui-bundle.js.LICENSE.txt" THIRD-PARTY-NOTICES.txt
printf '%s\n' "$v" >VERSION
