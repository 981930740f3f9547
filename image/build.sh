#!/usr/bin/env bash
# Builds the gateway's OS image: `npm run image -- --arch amd64|arm64 --out DIR [--config FILE] [--locked]`
# (npm run image compiles the project first). Layout, reproducibility and the SBOM: docs/image.md.
# Output in DIR: otgw-<arch>.img.zst, its .sha256, .bmap, the SBOM (.cdx.json), the package lock and
# the build log summary. The raw image is kept with --keep-raw (the boot test uses it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
arch="" out="" config="$repo/image/build-config.example.yaml" locked=0 keep_raw=0
usage() { echo "usage: npm run image -- --arch amd64|arm64 --out DIR [--config BUILD-CONFIG] [--locked] [--keep-raw]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --config) config=${2:-}; shift 2 ;;
    --locked) locked=1; shift ;;
    --keep-raw) keep_raw=1; shift ;;
    *) usage ;;
  esac
done
[ "$arch" = amd64 ] || [ "$arch" = arm64 ] || usage
[ -n "$out" ] || usage
log() { echo "otgw image: $*" >&2; }
fail() { echo "otgw image: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "the image build runs as root (mmdebstrap --mode=root, device nodes, ownership)"
t_start=$SECONDS

bash "$repo/image/setup-host.sh"
eval "$(node "$repo/image/lib/config.mjs" "$config")"
[ -f "$repo/dist/bin/otgw.js" ] || fail "dist/ is missing: run \`npm run build\` (npm run image does it)"
if [ "$arch" = arm64 ] && [ "$(dpkg --print-architecture)" != arm64 ]; then
  # mmdebstrap runs the arm64 maintainer scripts through qemu-user: binfmt must be on.
  [ -d /proc/sys/fs/binfmt_misc ] && { mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; }
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    # qemu-user-static ships a systemd-binfmt entry; register it (what systemd-binfmt would do).
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] && cat "$conf" > /proc/sys/fs/binfmt_misc/register
  fi
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || fail "binfmt for qemu-aarch64 is not enabled (package qemu-user-static, binfmt-support)"
fi

# Reproducibility: every timestamp is the last commit's, unless the caller pins another.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct)}
export TZ=UTC LC_ALL=C.UTF-8
mkdir -p "$out"; out=$(cd "$out" && pwd)
work=$(mktemp -d /var/tmp/otgw-image.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
rootfs="$work/rootfs"

# Fixed identifiers, so the same inputs give the same image (every gateway shares them, as with any
# distribution image; per-device identity comes from provisioning, not from disk ids).
export OTGW_DISK_UUID=6f746777-0000-4d00-8000-000000000001
export OTGW_PARTUUID_ESP=6f746777-0000-4d00-8000-000000000002
export OTGW_PARTUUID_ROOT=6f746777-0000-4d00-8000-000000000003
export OTGW_PARTUUID_DATA=6f746777-0000-4d00-8000-000000000004
export OTGW_PARTUUID_ROOT_B=6f746777-0000-4d00-8000-000000000006   # amd64 root slot B (docs/update.md)
export OTGW_FSUUID_DATA=6f746777-0000-4d00-8000-000000000005
export OTGW_REPO="$repo" OTGW_ARCH="$arch" OTGW_WORK="$work" OTGW_STAGE="$work/otgw"
export OTGW_UNIT_SRC=${OTGW_UNIT_SRC:-$repo/image}
export CFG_HOSTNAME CFG_SITE_CONFIG CFG_MIRROR CFG_DATA_MIB CFG_SSH_KEYS CFG_KERNEL_ARGS CFG_SMOKE CFG_UPDATE_VERSION

# The release key that signs the update bundle (docs/update.md "The release key and its ceremony"): the
# build config's, or, for CI and development, a throw-away key made once in DIR/release-dev/ and reused
# by later builds into the same DIR (so their bundles install on this image). Never committed. Its
# certificate is the image's RAUC keyring either way.
if [ -n "$CFG_UPDATE_KEY" ]; then
  release_key=$CFG_UPDATE_KEY release_cert=$CFG_UPDATE_CERT
else
  release_key="$out/release-dev/release.key.pem" release_cert="$out/release-dev/release.cert.pem"
  if [ ! -f "$release_key" ] || [ ! -f "$release_cert" ]; then
    install -d -m 0700 "$out/release-dev"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=otgw development release key (throw-away, $(hostname))" \
      -keyout "$release_key" -out "$release_cert" 2>/dev/null || fail "openssl could not make the throw-away release key"
    chmod 0600 "$release_key"
  fi
  log "WARNING: no update.signingKey in $config: bundles are signed with the throw-away key $release_key (development and CI only)"
fi
openssl x509 -in "$release_cert" -noout 2>/dev/null || fail "update.signingCert $release_cert: not a PEM X.509 certificate"
export OTGW_RELEASE_CERT=$release_cert

log "building $arch from $config (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, work $work)"
t=$SECONDS
bash "$repo/image/lib/stage-project.sh" "$repo" "$arch" "$OTGW_STAGE"
cp "$OTGW_STAGE/SHIPPED" "$out/otgw-$arch.files.txt"   # what of the project the image ships (the image test reads it)
t_stage=$((SECONDS - t))

packages=$(sed -e 's/#.*//' "$repo/image/packages.txt" | awk -v a="$arch" '
  /^[ \t]*$/ { next }
  /:/ { split($0, p, ":"); gsub(/[ \t]/, "", p[1]); gsub(/[ \t]/, "", p[2]); if (p[1] == a) print p[2]; next }
  { gsub(/[ \t]/, ""); print }' | paste -sd, -)
[ -n "$CFG_SSH_KEYS" ] && packages="$packages,openssh-server"
components=main
[ "$arch" = arm64 ] && components=main,non-free-firmware   # raspi-firmware lives in non-free-firmware

cache=/var/cache/otgw-image/apt-$arch
mkdir -p "$cache"
t=$SECONDS
mmdebstrap --mode=root --variant=minbase --arch="$arch" --format=directory --components="$components" \
  --include="$packages" --aptopt='Acquire::Retries "3"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='force-confold' \
  --essential-hook="bash '$repo/image/lib/pre-packages.sh' \"\$1\"" \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in '$cache' /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives '$cache'" \
  --customize-hook="bash '$repo/image/lib/customize.sh' \"\$1\"" \
  trixie "$rootfs" "$CFG_MIRROR" >&2
t_debootstrap=$((SECONDS - t))
# The cache keeps the newest .deb of each package only.
find "$cache" -name '*.deb' -printf '%f\n' | sed 's/_.*//' | sort | uniq -d | while read -r p; do
  ls -t "$cache/${p}"_*.deb | tail -n +2 | xargs -r rm -f
done

name="otgw-$arch"
# Lock: the exact Debian versions in this image, compared with the committed one.
awk -F'\t' '{print $1" "$2" "$3}' "$work/packages.tsv" > "$out/$name.packages.lock"
lock="$repo/image/packages.$arch.lock"
if [ -f "$lock" ]; then
  if ! diff -u "$lock" "$out/$name.packages.lock" > "$out/$name.packages.diff"; then
    msg="Debian package versions differ from image/packages.$arch.lock (the mirror moved; see $out/$name.packages.diff; pin with a snapshot.debian.org mirror, or commit the new lock)"
    [ "$locked" = 1 ] && fail "$msg"
    log "WARNING: $msg"
  else rm -f "$out/$name.packages.diff"; fi
else
  [ "$locked" = 1 ] && fail "no image/packages.$arch.lock to check against"
  log "no image/packages.$arch.lock yet: copy $out/$name.packages.lock there to pin this build"
fi
node "$repo/image/lib/sbom.mjs" --arch "$arch" --packages "$work/packages.tsv" --node-modules "$rootfs/opt/otgw/node_modules" \
  --project "$repo/package.json" --out "$out/$name.cdx.json"

t=$SECONDS
bash "$repo/image/lib/assemble.sh" "$rootfs" "$work" "$out/$name.img"
t_assemble=$((SECONDS - t))

bundle=""
if [ "$CFG_UPDATE_BUNDLE" = 1 ]; then
  t=$SECONDS
  bundle="otgw-$CFG_UPDATE_VERSION-$arch.raucb"
  bash "$repo/image/lib/bundle.sh" "$work" "$release_key" "$release_cert" "$out/$bundle"
  t_bundle=$((SECONDS - t))
fi

t=$SECONDS
rm -f "$out/$name.img.zst"
zstd -q -T0 -10 --no-progress "$out/$name.img" -o "$out/$name.img.zst"
bmaptool create -o "$out/$name.img.bmap" "$out/$name.img"
(cd "$out" && sha256sum "$name.img" "$name.img.zst" "$name.img.bmap" "$name.cdx.json" "$name.packages.lock" $bundle > "$name.sha256")
t_compress=$((SECONDS - t))
raw_size=$(stat -c %s "$out/$name.img") zst_size=$(stat -c %s "$out/$name.img.zst")
img_sha=$(sha256sum "$out/$name.img" | cut -d' ' -f1)
[ "$keep_raw" = 1 ] || rm -f "$out/$name.img"
cat > "$out/$name.build.txt" <<SUMMARY
arch=$arch
config=$config
source_date_epoch=$SOURCE_DATE_EPOCH
commit=$(git -C "$repo" rev-parse HEAD)
debian_packages=$(wc -l < "$work/packages.tsv")
raw_bytes=$raw_size
zst_bytes=$zst_size
raw_sha256=$img_sha
seconds_total=$((SECONDS - t_start))
seconds_stage_project=$t_stage
seconds_mmdebstrap=$t_debootstrap
seconds_assemble=$t_assemble
seconds_compress=$t_compress
update_version=$CFG_UPDATE_VERSION
update_bundle=${bundle:-none}
update_bundle_bytes=$([ -n "$bundle" ] && stat -c %s "$out/$bundle" || echo 0)
seconds_bundle=${t_bundle:-0}
SUMMARY
log "done in $((SECONDS - t_start)) s: $out/$name.img.zst ($((zst_size / 1048576)) MiB, raw $((raw_size / 1048576)) MiB), sha256 in $out/$name.sha256"
