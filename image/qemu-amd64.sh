#!/usr/bin/env bash
# Boots an amd64 image under QEMU with OVMF's UEFI firmware (TCG, the same on every CI machine;
# OTGW_QEMU_ACCEL=kvm for speed), the serial console written to LOG. The disk is opened with
# snapshot=on: the image file is never modified, so its SHA-256 stays valid. Returns at power-off.
# Usage: qemu-amd64.sh IMAGE.img LOG [extra qemu args...]
set -euo pipefail
img=${1:?usage: qemu-amd64.sh IMAGE.img LOG} log=${2:?usage: qemu-amd64.sh IMAGE.img LOG}
shift 2
accel=${OTGW_QEMU_ACCEL:-tcg}
echo "otgw image: booting $img under QEMU ($accel), serial console -> $log" >&2
exec qemu-system-x86_64 -machine q35,accel="$accel" -m 1024 -smp 2 -bios /usr/share/ovmf/OVMF.fd \
  -drive "file=$img,format=raw,if=virtio,snapshot=on" \
  -nic user,model=virtio-net-pci -device virtio-rng-pci \
  -display none -monitor none -serial "file:$log" -no-reboot "$@"
