#!/usr/bin/env bash
# Installs, idempotently, the Debian host tools the image build and its tests need. Called by
# image/build.sh and by the image tests; fails loudly (naming the package) when it cannot install.
set -euo pipefail

HOST_PACKAGES=(mmdebstrap genimage qemu-system-x86 qemu-system-arm qemu-user-static ovmf dosfstools mtools
  e2fsprogs squashfs-tools zstd fdisk bmap-tools systemd-boot-efi binutils g++-aarch64-linux-gnu
  libc6-dev-arm64-cross python3 make g++ arch-test uidmap cpio rauc openssl)

. "$(dirname "${BASH_SOURCE[0]}")/../scripts/apt-ensure.sh"
apt_ensure "otgw image setup" "${HOST_PACKAGES[@]}"
for tool in mmdebstrap genimage qemu-system-x86_64 qemu-aarch64-static mkfs.vfat mksquashfs zstd sfdisk rauc openssl; do
  command -v "$tool" >/dev/null || { echo "otgw image setup: $tool missing after install" >&2; exit 1; }
done
[ -f /usr/share/ovmf/OVMF.fd ] || { echo "otgw image setup: /usr/share/ovmf/OVMF.fd missing (package ovmf)" >&2; exit 1; }
