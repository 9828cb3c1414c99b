#!/usr/bin/env bash
# Installs the system packages ablate links against, only when one is missing (Debian/Ubuntu, needs root or sudo).
# Extra package names given as arguments are installed the same way (the tests add a local Slurm).
set -euo pipefail
PKGS=(libopenblas-dev libopenblas-openmp-dev libdnnl-dev libsqlite3-dev libpng-dev libturbojpeg0-dev libcairo2-dev fonts-dejavu-core pkg-config zlib1g-dev "$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
