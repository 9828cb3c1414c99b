#!/usr/bin/env bash
# The README's test command: install missing system packages, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# slurm-wlm and munge: the cluster test starts a single-node Slurm itself (scripts/slurm-local.sh) and stops it.
# crossbuild-essential-arm64 and qemu-user: the C kernels are also built for arm64 and run under qemu.
bash scripts/deps.sh slurm-wlm munge crossbuild-essential-arm64 qemu-user
# The engine's C kernels on x86-64 (AVX2/FMA and portable) and arm64 give the same results and arm64 flushes
# denormals (a few seconds).
kernels_status=0
bash scripts/check-arm64-kernels.sh || kernels_status=$?
swift build --build-tests
log=$(mktemp)
capped_log=$(mktemp)
# The tracker tests read ablate's runs back through a real MLflow server and TensorBoard's reader.
source scripts/tracker-services.sh
trap 'rm -f "$log" "$capped_log"; stop_tracker_services' EXIT
start_tracker_services
set +e
# Every test, with this host's default dispatch (AVX-512 kernels where the processor has them).
swift test --skip-build --disable-swift-testing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The engine and model tests a second time with oneDNN capped at AVX2 (`ONEDNN_MAX_CPU_ISA`, which ablate's
# library choice and Winograd probe follow too), so an AVX-512 machine also runs the code paths of the AVX2-only
# processors most people own. On an AVX2-only machine the cap changes nothing and this pass repeats the first.
echo "== engine and model tests again under ONEDNN_MAX_CPU_ISA=AVX2 =="
ONEDNN_MAX_CPU_ISA=AVX2 swift test --skip-build --disable-swift-testing --filter 'EngineTests|ModelsTests' 2>&1 \
  | tee "$capped_log"
capped_status=${PIPESTATUS[0]}
set -e
# One closing line any CI reader understands: "tests: N passed, M failed" over both passes (the arm64 kernel
# check counts as one).
passed=0; failed=0; skipped=0
for f in "$log" "$capped_log"; do
  summary=$(grep -E "Executed [0-9]+ tests?, with " "$f" | tail -1)
  [ -n "$summary" ] || { failed=$((failed + 1)); echo "no XCTest summary in one pass (it crashed?)"; continue; }
  total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
  f_failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
  f_skipped=0
  if echo "$summary" | grep -qE "[0-9]+ tests? skipped"; then
    f_skipped=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests? skipped.*/\1/')
  fi
  passed=$((passed + total - f_failed - f_skipped)); failed=$((failed + f_failed)); skipped=$((skipped + f_skipped))
done
if [ "$kernels_status" -ne 0 ]; then
  failed=$((failed + 1))
  echo "arm64 kernel check FAILED (scripts/check-arm64-kernels.sh, above)"
else
  passed=$((passed + 1))
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$status" -ne 0 ] || status=$capped_status
[ "$status" -ne 0 ] || status=$kernels_status
exit "$status"
