# Sourced by scripts/setup.sh and image/setup-host.sh: `apt_ensure LABEL PACKAGE...` installs the
# Debian packages that are missing, idempotently, and fails loudly (naming them) when it cannot.
# dpkg's lock is waited for, so concurrent callers (the two image tests start together) serialise.
apt_ensure() {
  local label=$1; shift
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$label: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "$label: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    echo "$label: could not install: ${missing[*]}" >&2
    return 1
  fi
}
