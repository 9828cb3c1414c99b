#!/usr/bin/env bash
# Installs the system packages ablate links against, only when one is missing (Debian/Ubuntu, needs root or sudo).
# Extra package names given as arguments are installed the same way (the tests add a local Slurm).
# On x86-64 it also unpacks oneDNN 3.2 from its PyPI wheels into .deps/onednn-3.2 once (ablate runs its
# convolutions on it where AVX-512 is missing, see Sources/CDNNL/include/abl_dnnl.h); without network access that
# step says so in one line and ablate builds and runs on Debian's oneDNN 2.x alone.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ONEDNN3="$ROOT/.deps/onednn-3.2"
# libcurl4: Foundation's URLSession on Linux (FoundationNetworking), which the MLflow tracker uses.
PKGS=(libopenblas-dev libopenblas-openmp-dev libdnnl-dev libsqlite3-dev libpng-dev libturbojpeg0-dev libcairo2-dev fonts-dejavu-core pkg-config zlib1g-dev libcurl4 "$@")
wants_onednn3() { [ "$(uname -m)" = x86_64 ] && [ ! -f "$ONEDNN3/.complete" ]; }
# pip only downloads the wheels (nothing is pip-installed, and no Python is needed at run time).
if wants_onednn3 && ! python3 -m pip --version >/dev/null 2>&1; then PKGS+=(python3-pip); fi
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

# oneDNN 3.2: the library (linked against the system libgomp, like Debian's) and the headers, each a wheel (a zip).
fetch_onednn3() {
  local tmp=$1 w
  python3 -m pip download --quiet --no-deps --only-binary=:all: --timeout 30 --retries 1 -d "$tmp" \
    onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0 >"$tmp/pip.log" 2>&1 || return 1
  for w in "$tmp"/*.whl; do python3 -m zipfile -e "$w" "$tmp/unpacked" || return 1; done
  rm -rf "$ONEDNN3" && mkdir -p "$ONEDNN3/lib"
  mv "$tmp/unpacked/onednn_devel_cpu_gomp-2023.2.0.data/data/include" "$ONEDNN3/include"
  # The wheel holds libdnnl.so, .so.3 and .so.3.2 as three copies of one file; ablate loads libdnnl.so.3.
  mv "$tmp/unpacked/onednn_cpu_gomp-2023.2.0.data/data/lib/libdnnl.so.3" "$ONEDNN3/lib/"
  mv "$tmp/unpacked/onednn_cpu_gomp-2023.2.0.dist-info/LICENSE.txt" "$ONEDNN3/"
  touch "$ONEDNN3/.complete"
}
if wants_onednn3; then
  tmp=$(mktemp -d)
  if fetch_onednn3 "$tmp"; then
    rm -rf "$tmp"
    # A build made before the headers were here compiled CDNNL3 as a stub and would not look again by itself.
    touch "$ROOT/Sources/CDNNL3/dnnl3.c"
    echo "deps: oneDNN 3.2 unpacked into .deps/onednn-3.2"
  else
    echo "deps: could not fetch or unpack the oneDNN 3.2 wheels (pip's log: $tmp/pip.log); ablate will use oneDNN 2.x only"
  fi
fi
