#!/usr/bin/env bash
# The arm64 check that fits in CI: an arm64 Debian trixie tree made without emulating its
# maintainer scripts (mmdebstrap --mode=chrootless --variant=essential), the project staged exactly
# as the arm64 image gets it (cross-compiled native modules), and the tree's own arm64 node run
# through qemu-aarch64-static for the gateway's self-test and `otgw config check` of the site config.
# Usage: arm64-tree.sh OUT-DIR [SITE-CONFIG]     (the full arm64 image: docs/image.md)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: arm64-tree.sh OUT-DIR [SITE-CONFIG]}
site=${2:-$repo/image/site-config.example.yaml}
log() { echo "otgw image: $*" >&2; }
[ "$(id -u)" = 0 ] || { echo "otgw image: ERROR: run as root (mmdebstrap)" >&2; exit 1; }
bash "$repo/image/setup-host.sh"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}
mkdir -p "$out"; out=$(cd "$out" && pwd)
tree="$out/tree"
rm -rf "$tree"
t=$SECONDS
bash "$repo/image/lib/stage-project.sh" "$repo" arm64 "$out/otgw"
t_stage=$((SECONDS - t)); t=$SECONDS
cache=/var/cache/otgw-image/apt-arm64
mkdir -p "$cache"
mmdebstrap --mode=chrootless --variant=essential --arch=arm64 \
  --include=nodejs \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in '$cache' /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives '$cache'" \
  trixie "$tree" http://deb.debian.org/debian >&2
t_tree=$((SECONDS - t))
mv "$out/otgw" "$tree/opt/otgw"
install -D -m 0644 "$site" "$tree/etc/otgw/config.yaml"
machine=$(od -An -j18 -N2 -tu2 "$tree/usr/bin/node" | tr -d ' ')
[ "$machine" = 183 ] || { echo "otgw image: ERROR: the tree's node is ELF machine $machine, not aarch64 (183)" >&2; exit 1; }
t=$SECONDS
run() { qemu-aarch64-static -L "$tree" "$tree/usr/bin/node" "$@"; }
status=0
run "$tree/opt/otgw/selftest.mjs" --config "$tree/etc/otgw/config.yaml" || status=1
run "$tree/opt/otgw/dist/bin/otgw.js" config check "$tree/etc/otgw/config.yaml" || status=1
t_run=$((SECONDS - t))
echo "arm64-tree: seconds_stage_project=$t_stage seconds_tree=$t_tree seconds_selftest=$t_run tree=$(du -sxh "$tree" | cut -f1)"
exit $status
