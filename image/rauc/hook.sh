#!/bin/sh
# The bundle's slot hook (docs/update.md "Disk layout"): after RAUC wrote a root slot, install that
# slot's kernel and initramfs (shipped in the bundle beside rootfs.img) into $OTGW_ESP/otgw/<bootname>/
# and rewrite the slot's boot entry content, keeping its file name (RAUC set the slot bad before
# writing it; its set-primary then gives it fresh tries). Each file is written beside its target,
# flushed and renamed, so a power cut leaves the old or the new file, never half of one.
set -eu
esp=${OTGW_ESP:-/efi}
case "${1:-}" in
  slot-post-install) ;;
  *) exit 0 ;;
esac
[ "${RAUC_SLOT_CLASS:-}" = rootfs ] || exit 0
b=${RAUC_SLOT_BOOTNAME:?RAUC_SLOT_BOOTNAME not set}
src=${RAUC_BUNDLE_MOUNT_POINT:?RAUC_BUNDLE_MOUNT_POINT not set}
# The bundle carries, per bootname, the root partition's PARTUUID (root-a, root-b) and the kernel
# command line shared by both slots (cmdline).
[ -f "$src/root-$b" ] || { echo "otgw bundle hook: the bundle has no root-$b (unknown bootname?)" >&2; exit 1; }
partuuid=$(cat "$src/root-$b")
install -d "$esp/otgw/$b"
for f in vmlinuz initrd.img; do
  cp "$src/$f" "$esp/otgw/$b/$f.new"
  sync "$esp/otgw/$b/$f.new" 2>/dev/null || sync
  mv -f "$esp/otgw/$b/$f.new" "$esp/otgw/$b/$f"
done
entry=""
for f in "$esp/loader/entries/otgw-$b.conf" "$esp/loader/entries/otgw-$b+"*.conf; do [ -e "$f" ] && entry=$f; done
[ -n "$entry" ] || entry="$esp/loader/entries/otgw-$b+0.conf"
key=otgw-2
[ -e "$entry" ] && key=$(sed -n 's/^sort-key[[:space:]]\{1,\}//p' "$entry" | head -n 1)
{
  echo "title otgw gateway $(cat "$src/version") (slot $b)"
  echo "sort-key ${key:-otgw-2}"
  echo "linux /otgw/$b/vmlinuz"
  echo "initrd /otgw/$b/initrd.img"
  echo "options root=PARTUUID=$partuuid rauc.slot=$b $(cat "$src/cmdline")"
} > "$entry.new"
sync "$entry.new" 2>/dev/null || sync
mv -f "$entry.new" "$entry"
