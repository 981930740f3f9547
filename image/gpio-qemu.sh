#!/usr/bin/env bash
# GPIO proof on a real kernel (issue #13 item 21): boots Debian trixie's arm64 kernel in QEMU's `virt`
# machine (TCG), whose PL061 controller is /dev/gpiochip0 (line 3 is wired to the power button), with
# a minimal root made from extracted arm64 packages (systemd, udev, nodejs; no kernel modules, so
# gpio-keys does not claim line 3) plus the project staged as the arm64 image gets it. The whole root
# is the initramfs: no disk, no bootloader. systemd runs
#   otgw-gpio-onoff.service  as root, unsandboxed: onoff with the chip's sysfs base, then
#   otgw-gpio-probe.service  the gateway's unit (image/units/otgw.service) with its sandbox unchanged and
#                            only ExecStart/Type/watchdog/nft check replaced by image/gpio-proof/probe.mjs,
# and powers off. Their `OTGW-GPIO …` lines land on the serial log (parsed by test/image/gpio-qemu.test.ts).
# Usage: gpio-qemu.sh OUT-DIR        (as root; needs dist/ built)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: gpio-qemu.sh OUT-DIR}
[ "$(id -u)" = 0 ] || { echo "otgw image: ERROR: run as root (mmdebstrap, cpio of a root tree)" >&2; exit 1; }
bash "$repo/image/setup-host.sh"
mkdir -p "$out"; out=$(cd "$out" && pwd)
root="$out/root"
rm -rf "$root" "$out/otgw"
t=$SECONDS
bash "$repo/image/lib/stage-project.sh" "$repo" arm64 "$out/otgw"
t_stage=$((SECONDS - t)); t=$SECONDS
cache=/var/cache/otgw-image/apt-arm64-gpio
mkdir -p "$cache"
# extract: unpacked, not configured (no maintainer scripts to emulate); users come from sysusers.d.
mmdebstrap --mode=chrootless --variant=extract --arch=arm64 \
  --include=systemd,systemd-sysv,udev,nodejs,base-files,base-passwd,bash,coreutils,util-linux,dash,libc-bin,linux-image-arm64 \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in '$cache' /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives '$cache'" \
  trixie "$root" http://deb.debian.org/debian >&2
t_tree=$((SECONDS - t)); t=$SECONDS
kernel=$(ls "$root"/boot/vmlinuz-* | head -1)
cp "$kernel" "$out/vmlinuz"
grep -q '^CONFIG_GPIO_PL061=y' "$root"/boot/config-* || { echo "otgw image: ERROR: the kernel has no built-in PL061 GPIO driver" >&2; exit 1; }
# Only what the proof needs stays in the RAM root: no modules (gpio-keys would take line 3), no docs.
rm -rf "$root"/boot/* "$root"/usr/lib/modules "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale
cp "$root/usr/share/base-passwd/passwd.master" "$root/etc/passwd"
cp "$root/usr/share/base-passwd/group.master" "$root/etc/group"
: > "$root/etc/machine-id"
mkdir -p "$root/opt"
mv "$out/otgw" "$root/opt/otgw"
install -D -m 0644 "$repo/image/sysusers.d/otgw.conf" "$root/usr/lib/sysusers.d/otgw.conf"
install -D -m 0644 "$repo/image/overlay/usr/lib/udev/rules.d/60-otgw-devices.rules" "$root/usr/lib/udev/rules.d/60-otgw-devices.rules"
install -D -m 0644 "$repo/image/gpio-proof/probe.mjs" "$root/usr/lib/otgw-gpio-proof/probe.mjs"
install -D -m 0644 "$repo/image/gpio-proof/onoff-probe.mjs" "$root/usr/lib/otgw-gpio-proof/onoff-probe.mjs"
units="$root/etc/systemd/system"
mkdir -p "$units"
# The gateway's unit with its sandbox untouched: drop only what the probe cannot use (sd_notify,
# watchdog, restart, the nftables precondition, the egress ordering) and swap ExecStart.
sed -e '/^Type=/d' -e '/^NotifyAccess=/d' -e '/^ExecStartPre=/d' -e '/^WatchdogSec=/d' -e '/^Restart/d' \
    -e '/^Wants=/d' -e '/^After=/d' -e '/^StartLimit/d' -e '/^\[Install\]/,$d' \
    -e 's|^ExecStart=.*|Type=oneshot\nExecStart=/usr/bin/node /usr/lib/otgw-gpio-proof/probe.mjs\nStandardOutput=journal+console\nStandardError=journal+console|' \
    "$repo/image/units/otgw.service" > "$units/otgw-gpio-probe.service"
sed -i 's|^\[Unit\]|[Unit]\nAfter=otgw-gpio-onoff.service systemd-udev-trigger.service\nSuccessAction=poweroff-force\nFailureAction=poweroff-force|' "$units/otgw-gpio-probe.service"
cat > "$units/otgw-gpio-onoff.service" <<'UNIT'
[Unit]
Description=otgw GPIO proof: onoff (sysfs, chip base applied) as root without the sandbox
After=systemd-udev-trigger.service
[Service]
Type=oneshot
ExecStart=/usr/bin/node /usr/lib/otgw-gpio-proof/onoff-probe.mjs
StandardOutput=journal+console
StandardError=journal+console
UNIT
cat > "$units/otgw-gpio-proof.target" <<'UNIT'
[Unit]
Description=otgw GPIO proof
Wants=otgw-gpio-onoff.service otgw-gpio-probe.service systemd-udev-trigger.service systemd-udevd.service systemd-sysusers.service
JobTimeoutSec=900
JobTimeoutAction=poweroff-force
UNIT
t_root=$((SECONDS - t)); t=$SECONDS
(cd "$root" && find . -xdev -print0 | cpio --null -o -H newc --quiet) > "$out/initrd.cpio"
t_cpio=$((SECONDS - t)); t=$SECONDS
log="$out/serial.log"
rm -f "$log"
echo "otgw image: booting the GPIO proof in qemu-system-aarch64 (virt, TCG), serial console -> $log" >&2
timeout 1200 qemu-system-aarch64 -machine virt -cpu cortex-a72 -m 2048 -smp 2 \
  -kernel "$out/vmlinuz" -initrd "$out/initrd.cpio" \
  -append "console=ttyAMA0 rdinit=/usr/lib/systemd/systemd systemd.unit=otgw-gpio-proof.target panic=-1 systemd.show_status=0" \
  -display none -monitor none -serial "file:$log" -no-reboot || true
t_boot=$((SECONDS - t))
# journald forwards the probes' lines to the console with a "[time] node[pid]: " prefix: print them bare.
grep -a -o 'OTGW-GPIO .*' "$log" | tr -d '\r' | grep . || { echo "otgw image: ERROR: no OTGW-GPIO line on the serial console ($log)" >&2; tail -40 "$log" >&2; exit 1; }
echo "gpio-qemu: seconds_stage_project=$t_stage seconds_tree=$t_tree seconds_root=$t_root seconds_cpio=$t_cpio seconds_boot=$t_boot initrd_mb=$(( $(stat -c %s "$out/initrd.cpio") / 1048576 ))"
