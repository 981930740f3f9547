#!/usr/bin/env bash
# mmdebstrap essential hook: settings that must exist before the kernel and firmware packages
# install, so their hooks build the initramfs and the Pi boot files once, right. (build.sh passes
# --dpkgopt=force-confold so these stay when a package ships the same file as a conffile.)
set -euo pipefail
root=$1
# The root is squashfs: its module must be in the initramfs that mounts it.
install -d "$root/etc/initramfs-tools/conf.d"
printf 'squashfs\n' >> "$root/etc/initramfs-tools/modules"
printf 'MODULES=most\nCOMPRESS=zstd\n' > "$root/etc/initramfs-tools/conf.d/otgw.conf"
if [ "$OTGW_ARCH" = arm64 ]; then
  # raspi-firmware's kernel hook copies kernel, initramfs and device trees to /boot/firmware and
  # writes cmdline.txt from these settings.
  install -d "$root/boot/firmware" "$root/etc/default"
  printf 'ROOTPART=PARTUUID=%s\nCONSOLES="serial0,115200 tty1"\n' "$OTGW_PARTUUID_ROOT" > "$root/etc/default/raspi-firmware"
  printf 'rootfstype=squashfs ro %s\n' "$CFG_KERNEL_ARGS" > "$root/etc/default/raspi-extra-cmdline"
fi
