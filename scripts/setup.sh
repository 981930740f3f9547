#!/usr/bin/env bash
# Installs what otgw needs on a fresh Debian machine, idempotently: the Debian packages of the real
# peers (mosquitto, swtpm, libmodbus, socat, ...) and the npm dependencies. Safe to run repeatedly;
# a stamp keyed on package-lock.json and this file skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(mosquitto mosquitto-clients swtpm swtpm-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus libtss2-dev tpm2-openssl
  libmodbus-dev mbpoll socat build-essential python3 pkg-config
  systemd nftables iproute2  # image tests: systemd-analyze (unit lint), nft + ip (egress rules in network namespaces)
  rauc squashfs-tools openssl)  # update tests (test/update): rauc bundle/info/service on a private D-Bus bus

. "$(dirname "${BASH_SOURCE[0]}")/apt-ensure.sh"
apt_ensure "otgw setup" "${DEB_PACKAGES[@]}"
# The Debian mosquitto package starts a system broker on 1883; otgw never uses it (tests and demo run
# their own locked-down brokers on free ports), so leave it alone rather than fight init systems.

stamp=node_modules/.otgw-setup-stamp
want="$(sha256sum package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-64)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "otgw setup: installing npm dependencies (better-sqlite3 compiles from source: a few minutes)" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
  echo "$want" > "$stamp"
fi
