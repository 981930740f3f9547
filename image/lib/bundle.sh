#!/usr/bin/env bash
# Writes this build's RAUC update bundle (docs/update.md "Bundle"): format verity, compatible
# otgw-<arch>, version CFG_UPDATE_VERSION; images: rootfs.img (the root squashfs) and, on amd64, the
# slot's kernel + initramfs with the slot hook that puts them on the ESP (image/rauc/hook.sh).
# Usage: bundle.sh WORK RELEASE-KEY RELEASE-CERT OUT.raucb     Environment: from build.sh.
set -euo pipefail
work=$1 key=$2 cert=$3 outb=$4
log() { echo "otgw image: $*" >&2; }
fail() { echo "otgw image: ERROR: $*" >&2; exit 1; }
command -v rauc >/dev/null || fail "rauc is missing on the build host (image/setup-host.sh installs it)"
b="$work/bundle"
rm -rf "$b"; mkdir -p "$b"
cp "$work/input/root.squashfs" "$b/rootfs.img"
printf '%s\n' "$CFG_UPDATE_VERSION" > "$b/version"
{
  printf '[update]\ncompatible=otgw-%s\nversion=%s\n' "$OTGW_ARCH" "$CFG_UPDATE_VERSION"
  printf 'build=%s\n' "$(git -C "$OTGW_REPO" rev-parse --short HEAD)"
  printf '\n[bundle]\nformat=verity\n'
  if [ "$OTGW_ARCH" = amd64 ]; then
    cp "$work/input/boot/otgw/a/vmlinuz" "$work/input/boot/otgw/a/initrd.img" "$work/cmdline" "$b/"
    printf '%s\n' "$OTGW_PARTUUID_ROOT" > "$b/root-a"
    printf '%s\n' "$OTGW_PARTUUID_ROOT_B" > "$b/root-b"
    install -m 0755 "$OTGW_REPO/image/rauc/hook.sh" "$b/hook.sh"
    printf '\n[hooks]\nfilename=hook.sh\n'
    printf '\n[image.rootfs]\nfilename=rootfs.img\nhooks=post-install\n'
  else
    printf '\n[image.rootfs]\nfilename=rootfs.img\n'
  fi
} > "$b/manifest.raucm"
find "$b" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"
rm -f "$outb"
rauc bundle --cert="$cert" --key="$key" "$b" "$outb" >&2
rauc info --keyring="$cert" "$outb" >/dev/null 2>&1 || fail "the new bundle $outb does not verify against $cert"
log "bundle $(basename "$outb"): $(( $(stat -c %s "$outb") / 1048576 )) MiB"
