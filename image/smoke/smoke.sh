#!/bin/bash
# Runs inside the booted CI image as root. Output contract (parsed by test/image/image-build.test.ts):
#   OTGW-SMOKE PASS <check> <detail>  |  OTGW-SMOKE FAIL <check> <detail>
#   OTGW-SMOKE DONE pass=<n> fail=<n>
set -u
pass=0 fail=0
ok() { echo "OTGW-SMOKE PASS $1 ${2:-}"; pass=$((pass + 1)); }
ko() { echo "OTGW-SMOKE FAIL $1 ${2:-}"; fail=$((fail + 1)); }
as_otgw() { setpriv --reuid otgw --regid otgw --init-groups "$@"; }

echo "OTGW-SMOKE START $(cat /proc/uptime | cut -d' ' -f1)s after kernel start"

# The service may still be settling (Type=notify/simple); give it a few seconds of boot time.
for _ in $(seq 1 30); do systemctl is-active -q otgw.service && break; sleep 1; done
state=$(systemctl is-active otgw.service)
pid=$(systemctl show -p MainPID --value otgw.service)
if [ "$state" = active ] && [ "${pid:-0}" -gt 0 ]; then ok service-active "otgw.service active, MainPID $pid"
else ko service-active "otgw.service is $state (MainPID ${pid:-none}): $(systemctl status --no-pager -n 20 otgw.service 2>&1 | tr '\n' '|')"; fi

if [ "${pid:-0}" -gt 0 ]; then
  user=$(stat -c %U "/proc/$pid")
  [ "$user" = otgw ] && ok service-user "MainPID runs as $user" || ko service-user "MainPID runs as $user, not otgw"
  # Enter the service's own mount namespace (ProtectSystem=strict, ReadWritePaths) as its user: the
  # state directory must be writable, everything else must not, even where the disk itself is (/var).
  if nsenter -t "$pid" -m setpriv --reuid otgw --regid otgw --init-groups touch /var/lib/otgw/.smoke-probe 2>/dev/null; then
    rm -f /var/lib/otgw/.smoke-probe; ok state-writable "/var/lib/otgw writable in the service's namespace"
  else ko state-writable "cannot write /var/lib/otgw in the service's namespace"; fi
  denied=""
  for p in /opt/otgw/x /etc/otgw/x /var/otgw-x /var/log/otgw-x /usr/otgw-x /root/otgw-x; do
    if nsenter -t "$pid" -m setpriv --reuid otgw --regid otgw --init-groups touch "$p" 2>/dev/null; then
      rm -f "$p"; ko write-confined "the service's user could write $p"; denied=no
    fi
  done
  [ -z "$denied" ] && ok write-confined "writes to /opt /etc /var /var/log /usr /root refused in the service's namespace"
else
  ko service-user "no MainPID"; ko write-confined "no MainPID"
fi

fstype=$(findmnt -no FSTYPE /) opts=$(findmnt -no OPTIONS /)
if [[ ",$opts," == *",ro,"* ]] && ! touch /otgw-probe 2>/dev/null && ! touch /etc/otgw-probe 2>/dev/null; then
  ok root-readonly "/ is $fstype ($opts), root cannot write / or /etc"
else rm -f /otgw-probe /etc/otgw-probe; ko root-readonly "/ is $fstype ($opts)"; fi
vsrc=$(findmnt -no SOURCE,FSTYPE,OPTIONS /var | tr -s ' ')
[[ "$vsrc" == *ext4*rw* ]] && ok var-writable "/var: $vsrc" || ko var-writable "/var: $vsrc"

# Loaded, and it is the allowlist rendered from the config, not otgw-egress's fail-closed fallback.
status=$(cat /run/otgw-egress/status 2>/dev/null)
if out=$(nft list table inet otgw_egress 2>&1) && [[ "$status" == allowlist:* ]]; then
  ok egress-loaded "inet otgw_egress, $(echo "$out" | grep -c .) lines ($status)"
else ko egress-loaded "status '${status:-none}': $(echo "$out" | head -3 | tr '\n' '|')"; fi

# What the technician runs on a fresh device: defaults to the provisioned config in the state dir.
chk=$(as_otgw otgw check 2>&1)
if echo "$chk" | grep -qi unprovisioned; then ok check-unprovisioned "$(echo "$chk" | grep -i -m1 unprovisioned)"
else ko check-unprovisioned "$(echo "$chk" | head -5 | tr '\n' '|')"; fi

st=$(as_otgw node /opt/otgw/selftest.mjs --config /etc/otgw/config.yaml --tpm-libs 2>&1)
if [ $? -eq 0 ]; then ok selftest "$(echo "$st" | tail -1)"; else ko selftest "$(echo "$st" | grep FAIL | tr '\n' '|')"; fi

found=""
for c in cc gcc g++ c++ clang tcc as ld make; do command -v "$c" >/dev/null 2>&1 && found="$found $c"; done
found="$found$(ls /usr/bin 2>/dev/null | grep -E -- '-(gcc|g\+\+)(-[0-9]+)?$' | tr '\n' ' ')"
[ -z "${found// /}" ] && ok no-compilers "no cc/gcc/g++/clang/as/ld/make" || ko no-compilers "found:$found"

bad=$(awk -F: '$2 !~ /^[!*]/ {print $1}' /etc/shadow | tr '\n' ' ')
[ -z "$bad" ] && ok no-password-login "every account in /etc/shadow is locked" || ko no-password-login "usable or empty passwords: $bad"
if [ -e /usr/sbin/sshd ]; then ok ssh "sshd installed (build config enabled key-only SSH)"; else ok ssh "no sshd in the image"; fi

systemctl is-active -q systemd-timesyncd.service && ok time-sync "systemd-timesyncd active" || ko time-sync "systemd-timesyncd $(systemctl is-active systemd-timesyncd)"
jdir="/var/log/journal/$(cat /etc/machine-id)"
[ -d "$jdir" ] && ok journal-persistent "$jdir" || ko journal-persistent "no $jdir"

failed_units=$(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')
if [ -z "${failed_units// /}" ]; then ok no-failed-units "systemctl --failed is empty"
else
  ko no-failed-units "$failed_units"
  for u in $failed_units; do journalctl -b -u "$u" -n 8 --no-pager -o cat 2>&1 | sed "s/^/OTGW-SMOKE LOG $u: /"; done
fi

echo "OTGW-SMOKE DONE pass=$pass fail=$fail uptime=$(cut -d' ' -f1 /proc/uptime)s"
