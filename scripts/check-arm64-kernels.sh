#!/usr/bin/env bash
# The engine's C kernels built three ways — x86-64 with the package's AVX2/FMA flags, x86-64 portable
# (ABLATE_PORTABLE_KERNELS=1) and arm64 (aarch64-linux-gnu-gcc, run under qemu-aarch64) — on the same fixed inputs
# (Tests/CKernelsPortability/kernels_check.c), compared value by value: element-wise results bit for bit,
# reductions within a rounding bound the program states; each build also checks that flush-to-zero flushes.
# Exit 0 when everything matches. Needs: bash scripts/deps.sh crossbuild-essential-arm64 qemu-user
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in aarch64-linux-gnu-gcc qemu-aarch64 swift python3; do
  command -v "$tool" >/dev/null || { echo "check-arm64-kernels: $tool missing (bash scripts/deps.sh crossbuild-essential-arm64 qemu-user)" >&2; exit 2; }
done
# The C compiler flags of the CKernels target, as Package.swift chooses them on this host (default and portable).
kernel_flags() {
  swift package dump-package | python3 -c '
import json, sys
target = next(t for t in json.load(sys.stdin)["targets"] if t["name"] == "CKernels")
print(" ".join(f for s in target["settings"] if s["tool"] == "c" and "unsafeFlags" in s["kind"]
               for f in s["kind"]["unsafeFlags"]["_0"]))'
}
native=$(kernel_flags)
portable=$(ABLATE_PORTABLE_KERNELS=1 kernel_flags)
case "$portable" in *-mavx*|*-mfma*) echo "check-arm64-kernels: the portable flags still have AVX: $portable" >&2; exit 1;; esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
src=(Tests/CKernelsPortability/kernels_check.c Sources/CKernels/kernels.c)
inc=(-ISources/CKernels/include)
# The Swift toolchain's clang compiles the package's C targets; libgomp is what abl_parallel calls.
echo "x86-64 native:   clang $native"
clang -std=gnu11 $native "${inc[@]}" "${src[@]}" -o "$out/x86-native" -lgomp -lm
echo "x86-64 portable: clang $portable"
clang -std=gnu11 $portable "${inc[@]}" "${src[@]}" -o "$out/x86-portable" -lgomp -lm
echo "arm64:           aarch64-linux-gnu-gcc $portable"
aarch64-linux-gnu-gcc -std=gnu11 $portable "${inc[@]}" "${src[@]}" -o "$out/arm64" -lgomp -lm
file "$out/arm64" | grep -q "ARM aarch64" || { echo "check-arm64-kernels: $out/arm64 is not an aarch64 binary" >&2; exit 1; }

status=0
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  "$out/x86-native" > "$out/x86-native.txt" || status=1
else
  echo "this processor has no AVX2/FMA: the native build is compared as the portable one"
  cp "$out/x86-portable" "$out/x86-native"; "$out/x86-native" > "$out/x86-native.txt" || status=1
fi
"$out/x86-portable" > "$out/x86-portable.txt" || status=1
qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/arm64" > "$out/arm64.txt" || status=1
[ "$status" -eq 0 ] || { echo "check-arm64-kernels: a build failed its own flush-to-zero check" >&2; exit 1; }
cd "$out"
./x86-native --compare x86-native.txt x86-portable.txt || status=1
./x86-native --compare x86-native.txt arm64.txt || status=1
grep -E '^ftz\.(before|after)\.product\[1\]' arm64.txt | sed 's/^/arm64 (qemu) /'
if [ "$status" -eq 0 ]; then echo "check-arm64-kernels: ok"; else echo "check-arm64-kernels: FAILED" >&2; fi
exit "$status"
