#!/usr/bin/env bash
# Boots an arm64 (Raspberry Pi layout) image in QEMU's generic "virt" machine under TCG: the Pi
# firmware cannot run in QEMU, so the kernel and initramfs are taken out of the boot partition and
# given to QEMU directly, with the same root= as cmdline.txt. Proves kernel, initramfs, squashfs root,
# /var and the services on arm64; not the Pi firmware, device trees or board hardware (docs/image.md).
# Usage: qemu-arm64.sh IMAGE.img LOG [extra kernel args]
set -euo pipefail
img=${1:?usage: qemu-arm64.sh IMAGE.img LOG} log=${2:?usage: qemu-arm64.sh IMAGE.img LOG}
shift 2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MTOOLS_SKIP_CHECK=1
# raspi-firmware names them vmlinuz-<version> and initrd.img-<version> (config.txt points at them).
files=$(mdir -b -i "$img@@1M" :: | sed 's|^::/||')
kernel=$(echo "$files" | grep '^vmlinuz' | head -1) initrd=$(echo "$files" | grep '^initrd.img' | head -1)
[ -n "$kernel" ] && [ -n "$initrd" ] || { echo "otgw image: no vmlinuz*/initrd.img* in the boot partition of $img" >&2; exit 1; }
mcopy -n -i "$img@@1M" "::$kernel" "$tmp/vmlinuz"
mcopy -n -i "$img@@1M" "::$initrd" "$tmp/initrd.img"
cmdline=$(mtype -i "$img@@1M" ::cmdline.txt | sed -e 's/console=[^ ]*//g')
echo "otgw image: booting $img in qemu-system-aarch64 (virt, TCG), serial console -> $log" >&2
qemu-system-aarch64 -machine virt -cpu cortex-a72 -m 1024 -smp 2 \
  -kernel "$tmp/vmlinuz" -initrd "$tmp/initrd.img" -append "$cmdline console=ttyAMA0 $*" \
  -drive "file=$img,format=raw,if=virtio,snapshot=on" -nic user,model=virtio-net-pci -device virtio-rng-pci \
  -display none -monitor none -serial "file:$log" -no-reboot
