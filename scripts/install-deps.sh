#!/usr/bin/env bash
# Installs the Debian packages clinic needs to build, test and run. Idempotent.
# Runs apt-get as root, through sudo when not root.
set -euo pipefail
packages=(
  build-essential pkg-config
  libsqlite3-dev libsndfile1-dev libfftw3-dev libsoxr-dev libopenblas-dev libcurl4-openssl-dev
  postgresql openssl curl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  echo "Installing: ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /opt/swift/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH"; done
fi
command -v swift >/dev/null 2>&1 || {
  echo "error: no Swift toolchain on PATH. Install Swift 6.x (swift.org) and put its bin/ on PATH." >&2
  exit 1
}
