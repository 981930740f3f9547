#!/usr/bin/env bash
# Stages the project as it is installed at /opt/otgw: the gateway's part of dist/ (listed in SHIPPED), docs/, package.json,
# and production node_modules whose native modules are built for the target architecture.
#   amd64: the host's own node_modules (native modules built by the host's Node 20), pruned to
#          production dependencies. Same NODE_MODULE_VERSION (115) as trixie's nodejs 20.19.
#   arm64: `npm ci --omit=dev --cpu=arm64` (no install scripts), then better-sqlite3 and epoll are
#          cross-compiled with g++-aarch64-linux-gnu against the host's Node 20 headers; koffi and
#          @serialport/bindings-cpp ship arm64 binaries in their packages. Results are cached under
#          /var/cache/otgw-image/native keyed on module version, host Node version and arch.
# Usage: stage-project.sh REPO ARCH DEST
set -euo pipefail
repo=$1 arch=$2 dst=$3
log() { echo "otgw image: $*" >&2; }
fail() { echo "otgw image: ERROR: $*" >&2; exit 1; }

[ -f "$repo/dist/bin/otgw.js" ] || fail "$repo/dist is missing: run \`npm run build\` first (npm run image does it)"
rm -rf "$dst"; mkdir -p "$dst"
bash "$repo/image/lib/stage-dist.sh" "$repo/dist" "$dst"
cp "$repo/package.json" "$repo/package-lock.json" "$dst/"
cp "$repo/image/lib/selftest.mjs" "$dst/selftest.mjs"
cp -a "$repo/docs" "$dst/docs"   # the units' Documentation= links point here

case "$arch" in
  amd64)
    node_arch=x64 elf_machine=62
    [ -d "$repo/node_modules/better-sqlite3/build/Release" ] || fail "host node_modules lacks a built better-sqlite3: run scripts/setup.sh"
    # Hard links: pruning removes links only, never touches the host's files.
    cp -al "$repo/node_modules" "$dst/node_modules"
    (cd "$dst" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    ;;
  arm64)
    node_arch=arm64 elf_machine=183
    (cd "$dst" && npm ci --omit=dev --ignore-scripts --cpu=arm64 --os=linux --libc=glibc --no-audit --no-fund --loglevel=error >&2)
    gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
    [ -f "$gyp" ] || fail "npm's node-gyp not found at $gyp"
    hostnode=$(node -p process.version)
    for mod in better-sqlite3 epoll; do
      dir="$dst/node_modules/$mod"
      ver=$(node -p "require('$dir/package.json').version")
      cache="/var/cache/otgw-image/native/$mod-$ver-node$hostnode-$arch"
      if [ ! -f "$cache/ok" ]; then
        log "cross-compiling $mod $ver for $arch (a few minutes for better-sqlite3)"
        (cd "$dir" && CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
          node "$gyp" rebuild --release --arch=arm64 --nodedir=/usr --jobs=2 > "$dst.$mod-gyp.log" 2>&1) \
          || { tail -40 "$dst.$mod-gyp.log" >&2; fail "cross-compiling $mod failed (log: $dst.$mod-gyp.log)"; }
        rm -rf "$cache"; mkdir -p "$cache"
        find "$dir/build/Release" -maxdepth 1 -name '*.node' -exec cp {} "$cache/" \;
        touch "$cache/ok"
      else
        log "using cached $arch build of $mod $ver ($cache)"
      fi
      mkdir -p "$dir/build/Release"
      find "$cache" -name '*.node' -exec cp {} "$dir/build/Release/" \;
    done
    ;;
  *) fail "unknown arch $arch (amd64 or arm64)" ;;
esac

# Slim: sources, object files and other platforms' binaries are never loaded on the gateway.
nm="$dst/node_modules"
rm -rf "$nm/.otgw-setup-stamp" "$nm/better-sqlite3/deps" "$nm/better-sqlite3/src" \
  "$nm/better-sqlite3/build/Release/obj" "$nm/better-sqlite3/build/Release/obj.target" \
  "$nm/better-sqlite3/build/Release/.deps" "$nm/better-sqlite3/build/Release/sqlite3.a" \
  "$nm/better-sqlite3/build/Release/test_extension.node" "$nm/better-sqlite3/build/deps" \
  "$nm/epoll/build/Release/obj.target" "$nm/epoll/build/Release/.deps"
find "$nm/better-sqlite3/build" "$nm/epoll/build" -maxdepth 1 -type f \( -name 'Makefile' -o -name '*.mk' -o -name 'config.gypi' \) -delete 2>/dev/null || true
find "$nm/better-sqlite3/build" "$nm/epoll/build" -name '*.d' -delete 2>/dev/null || true
for p in "$nm/@serialport/bindings-cpp/prebuilds"/*; do
  [ "$(basename "$p")" = "linux-$node_arch" ] || rm -rf "$p"
done
rm -rf "$nm/@serialport/bindings-cpp/prebuilds/linux-$node_arch/"*musl*
for p in "$nm"/@koromix/*/musl_*; do rm -rf "$p"; done

# Every native module left must be an ELF for the target: a host binary in an arm64 image (or the
# reverse) would only fail on the device.
bad=0
while IFS= read -r -d '' f; do
  m=$(od -An -j18 -N2 -tu2 "$f" | tr -d ' ')
  [ "$m" = "$elf_machine" ] || { echo "otgw image: $f is for ELF machine $m, not $arch ($elf_machine)" >&2; bad=1; }
done < <(find "$nm" -name '*.node' -print0)
[ "$bad" = 0 ] || fail "native modules for the wrong architecture (above)"
for mod in better-sqlite3/build/Release/better_sqlite3.node epoll/build/Release/epoll.node; do
  [ -f "$nm/$mod" ] || fail "$mod missing from the staged project"
done
ls "$nm"/@koromix/koffi-linux-"$node_arch"/linux_"$node_arch"/koffi.node >/dev/null || fail "koffi's linux-$node_arch binary is missing"
log "staged the project for $arch: $(du -sh "$dst" | cut -f1)"
