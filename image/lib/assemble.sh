#!/usr/bin/env bash
# Turns the customized tree into the disk image with genimage:
#   GPT (amd64): [1] boot (ESP: systemd-boot, one kernel + initramfs and one boot entry per slot)
#                [2] root-a, [3] root-b (RAUC slots rootfs.0/rootfs.1; the squashfs in A, B empty)
#                [4] data (ext4, mounted at /var: gateway state, journal; last, so it can be grown)
#   GPT (arm64): [1] boot (FAT: Raspberry Pi firmware), [2] root (squashfs), [3] data: the Pi's A/B
#                (tryboot) layout is designed in docs/update.md, not built yet.
# Usage: assemble.sh ROOTFS WORK OUT.img      Environment: from build.sh.
set -euo pipefail
rootfs=$1 work=$2 outimg=$3
log() { echo "otgw image: $*" >&2; }
fail() { echo "otgw image: ERROR: $*" >&2; exit 1; }
in="$work/input" esp="$work/input/boot"
rm -rf "$in" "$work/genimage-out" "$work/genimage-tmp" "$work/var"
mkdir -p "$in" "$esp" "$work/genimage-out" "$work/empty"

kver=$(basename "$(ls -d "$rootfs"/usr/lib/modules/* | head -1)")
[ -f "$rootfs/boot/vmlinuz-$kver" ] && [ -f "$rootfs/boot/initrd.img-$kver" ] || fail "kernel or initramfs for $kver missing in the tree"
# systemd.gpt_auto=0: the boot partition stays unmounted (nothing on the running gateway needs it).
# The command line every slot shares (each slot's entry adds its own root= and rauc.slot=); the update
# bundle carries it too, so an installed slot boots with the same options (image/rauc/hook.sh).
common="rootfstype=squashfs ro rootwait panic=10 systemd.gpt_auto=0 $CFG_KERNEL_ARGS"
cmdline="root=PARTUUID=$OTGW_PARTUUID_ROOT $common"
if [ "$OTGW_ARCH" = amd64 ]; then
  common="$common console=tty0 console=ttyS0,115200"
  printf '%s\n' "$common" > "$work/cmdline"
  efi="$rootfs/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
  [ -f "$efi" ] || fail "systemd-bootx64.efi missing (package systemd-boot-efi)"
  install -D -m 0644 "$efi" "$esp/EFI/BOOT/BOOTX64.EFI"
  install -D -m 0644 "$rootfs/boot/vmlinuz-$kver" "$esp/otgw/a/vmlinuz"
  install -D -m 0644 "$rootfs/boot/initrd.img-$kver" "$esp/otgw/a/initrd.img"
  mkdir -p "$esp/loader/entries"
  # editor no: nobody at the console can append init=/bin/sh to the kernel command line. default
  # otgw-*: the first entry in menu order, where entries with no tries left sort last and then
  # sort-key decides (the primary slot has otgw-1): docs/update.md "Bootloader".
  printf 'default otgw-*\ntimeout 0\neditor no\n' > "$esp/loader/loader.conf"
  printf 'title otgw gateway (%s, slot a)\nsort-key otgw-1\nlinux /otgw/a/vmlinuz\ninitrd /otgw/a/initrd.img\noptions root=PARTUUID=%s rauc.slot=a %s\n' \
    "$kver" "$OTGW_PARTUUID_ROOT" "$common" > "$esp/loader/entries/otgw-a.conf"
  # Slot B is empty until the first update: its entry has no tries left, so it is never booted.
  printf 'title otgw gateway (slot b, empty)\nsort-key otgw-2\nlinux /otgw/b/vmlinuz\ninitrd /otgw/b/initrd.img\noptions root=PARTUUID=%s rauc.slot=b %s\n' \
    "$OTGW_PARTUUID_ROOT_B" "$common" > "$esp/loader/entries/otgw-b+0.conf"
  esp_type=U
  root_type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709   # "Linux root (x86-64)", discoverable partitions spec
else
  # The Pi boots from the first FAT partition: firmware (start4.elf etc., Pi 4), config.txt,
  # cmdline.txt, the kernel, initramfs and device trees (bcm2711 Pi 4, bcm2712 Pi 5).
  fw="$rootfs/boot/firmware"
  [ -f "$fw/config.txt" ] || fail "raspi-firmware did not populate /boot/firmware"
  cp -a "$fw/." "$esp/"
  printf 'console=serial0,115200 console=tty1 %s fsck.repair=yes\n' "$cmdline" > "$esp/cmdline.txt"
  for dtb in bcm2711-rpi-4-b.dtb bcm2712-rpi-5-b.dtb; do
    [ -f "$esp/$dtb" ] || log "WARNING: $dtb not in the boot partition (that board will not boot)"
  done
  esp_type=F   # FAT "Microsoft basic data": what the Pi bootloader looks for on GPT
  root_type=b921b045-1df0-41c3-af44-4c6f280d3fae   # "Linux root (ARM-64)"
fi

# /var becomes the data partition; the root keeps an empty mount point.
mv "$rootfs/var" "$work/var"
install -d -m 0755 "$rootfs/var"
# Every timestamp is SOURCE_DATE_EPOCH, so equal inputs give equal file systems.
for d in "$rootfs" "$work/var" "$esp"; do
  find "$d" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"
done

# Every file in the root gets SOURCE_DATE_EPOCH as its time: the project's files carry their checkout
# time otherwise, which differs between two clones of the same commit. (mksquashfs refuses -all-time
# while SOURCE_DATE_EPOCH is in its environment.)
env -u SOURCE_DATE_EPOCH mksquashfs "$rootfs" "$in/root.squashfs" -noappend -comp zstd -Xcompression-level 6 -b 256K \
  -mkfs-time "$SOURCE_DATE_EPOCH" -all-time "$SOURCE_DATE_EPOCH" -no-progress -quiet >&2
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L otgw-data -U "$OTGW_FSUUID_DATA" \
  -E "hash_seed=$OTGW_FSUUID_DATA,root_owner=0:0" -d "$work/var" "$in/data.ext4" "${CFG_DATA_MIB}M" >&2
# mke2fs -d copies each file's ctime and atime, which no tool can set on the host's copy: pin them
# in the new file system instead, or two builds of the same inputs differ in the inode tables.
{
  for p in / /lost+found; do echo "sif \"$p\" ctime @$SOURCE_DATE_EPOCH"; echo "sif \"$p\" atime @$SOURCE_DATE_EPOCH"; done
  (cd "$work/var" && find . -mindepth 1 | sed 's|^\.||') | while IFS= read -r p; do
    echo "sif \"$p\" ctime @$SOURCE_DATE_EPOCH"; echo "sif \"$p\" atime @$SOURCE_DATE_EPOCH"
  done
} > "$work/pin-times.debugfs"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f "$work/pin-times.debugfs" "$in/data.ext4" >/dev/null 2>"$work/pin-times.err" \
  || { cat "$work/pin-times.err" >&2; fail "debugfs could not pin the data partition's timestamps"; }

root_mib=$(( ($(stat -c %s "$in/root.squashfs") + 1048575) / 1048576 ))
root_size="${root_mib}M" root_b=""
if [ "$OTGW_ARCH" = amd64 ]; then
  # Both slots have one fixed size, so a later (larger) release still fits the slot it is written to.
  slot_mib=${OTGW_ROOT_SLOT_MIB:-1024}
  [ "$root_mib" -le "$slot_mib" ] || fail "the root squashfs (${root_mib} MiB) is larger than a root slot (${slot_mib} MiB, OTGW_ROOT_SLOT_MIB)"
  root_size="${slot_mib}M"
  root_b="
  partition root-b {
    partition-type-uuid = \"$root_type\"
    partition-uuid = \"$OTGW_PARTUUID_ROOT_B\"
    size = ${slot_mib}M
  }"
fi
cat > "$work/genimage.cfg" <<CFG
image boot.vfat {
  vfat {
    label = "OTGW-BOOT"
    extraargs = "-F 32 -i 4f544757 --invariant"
    files = { $(cd "$esp" && ls -A | sed 's/.*/"boot\/&"/' | paste -sd, -) }
  }
  size = 256M
}
image otgw.img {
  hdimage {
    partition-table-type = "gpt"
    disk-uuid = "$OTGW_DISK_UUID"
  }
  partition boot {
    image = "boot.vfat"
    partition-type-uuid = "$esp_type"
    partition-uuid = "$OTGW_PARTUUID_ESP"
    offset = 1M
    bootable = true
  }
  partition root$([ "$OTGW_ARCH" = amd64 ] && echo -a) {
    image = "root.squashfs"
    partition-type-uuid = "$root_type"
    partition-uuid = "$OTGW_PARTUUID_ROOT"
    size = $root_size
  }$root_b
  partition data {
    image = "data.ext4"
    partition-type-uuid = "L"
    partition-uuid = "$OTGW_PARTUUID_DATA"
  }
}
CFG
genimage --config "$work/genimage.cfg" --inputpath "$in" --outputpath "$work/genimage-out" \
  --rootpath "$work/empty" --tmppath "$work/genimage-tmp" >&2
mv "$work/genimage-out/otgw.img" "$outimg"
log "assembled $(basename "$outimg"): boot $(du -sh "$esp" | cut -f1), root squashfs ${root_mib} MiB, data ${CFG_DATA_MIB} MiB"
