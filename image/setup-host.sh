#!/usr/bin/env bash
# Installs, idempotently, the Debian host tools the image build and its tests need. Called by
# image/build.sh and by the image tests; fails loudly (naming the package) when it cannot install.
set -euo pipefail

HOST_PACKAGES=(mmdebstrap genimage qemu-system-x86 qemu-system-arm qemu-user-static ovmf dosfstools mtools
  e2fsprogs squashfs-tools zstd fdisk bmap-tools systemd-boot-efi binutils g++-aarch64-linux-gnu
  libc6-dev-arm64-cross python3 make g++ arch-test uidmap)

missing=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "otgw image setup: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "otgw image setup: installing host packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Serialise concurrent callers (both image tests start together) on dpkg's own lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    echo "otgw image setup: could not install: ${missing[*]}" >&2
    exit 1
  fi
fi
for tool in mmdebstrap genimage qemu-system-x86_64 qemu-aarch64-static mkfs.vfat mksquashfs zstd sfdisk; do
  command -v "$tool" >/dev/null || { echo "otgw image setup: $tool missing after install" >&2; exit 1; }
done
[ -f /usr/share/ovmf/OVMF.fd ] || { echo "otgw image setup: /usr/share/ovmf/OVMF.fd missing (package ovmf)" >&2; exit 1; }
