#!/usr/bin/env bash
# Installs what otgw needs on a fresh Debian machine, idempotently: the Debian packages of the real
# peers (mosquitto, swtpm, libmodbus, socat, ...) and the npm dependencies. Safe to run repeatedly;
# a stamp keyed on package-lock.json and this file skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(mosquitto mosquitto-clients swtpm swtpm-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus libtss2-dev tpm2-openssl
  libmodbus-dev mbpoll socat build-essential python3 pkg-config
  systemd nftables iproute2)  # image tests: systemd-analyze (unit lint), nft + ip (egress rules in network namespaces)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "otgw setup: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "otgw setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# The Debian mosquitto package starts a system broker on 1883; otgw never uses it (tests and demo run
# their own locked-down brokers on free ports), so leave it alone rather than fight init systems.

stamp=node_modules/.otgw-setup-stamp
want="$(sha256sum package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-64)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "otgw setup: installing npm dependencies (better-sqlite3 compiles from source: a few minutes)" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
  echo "$want" > "$stamp"
fi
