#!/usr/bin/env bash
# The README's test command: install missing system packages, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# slurm-wlm and munge: the cluster test starts a single-node Slurm itself (scripts/slurm-local.sh) and stops it.
# crossbuild-essential-arm64 and qemu-user: the C kernels are also built for arm64 and run under qemu.
bash scripts/deps.sh slurm-wlm munge crossbuild-essential-arm64 qemu-user
# The engine's C kernels on x86-64 (AVX2/FMA and portable) and arm64 give the same results and arm64 flushes
# denormals (a few seconds; the Swift suite below runs once, with this host's default flags).
kernels_status=0
bash scripts/check-arm64-kernels.sh || kernels_status=$?
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build --disable-swift-testing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line any CI reader understands: "tests: N passed, M failed" (the arm64 kernel check counts as one).
summary=$(grep -E "Executed [0-9]+ tests?, with " "$log" | tail -1)
if [ -n "$summary" ]; then
  total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
  failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
  skipped=0
  if echo "$summary" | grep -qE "[0-9]+ tests? skipped"; then
    skipped=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests? skipped.*/\1/')
  fi
  total=$((total + 1))
  if [ "$kernels_status" -ne 0 ]; then
    failed=$((failed + 1))
    echo "arm64 kernel check FAILED (scripts/check-arm64-kernels.sh, above)"
  fi
  echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
[ "$status" -ne 0 ] || status=$kernels_status
exit "$status"
