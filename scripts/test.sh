#!/usr/bin/env bash
# The README's test command: install missing system packages, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# slurm-wlm and munge: the cluster test starts a single-node Slurm itself (scripts/slurm-local.sh) and stops it.
bash scripts/deps.sh slurm-wlm munge
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test --skip-build --disable-swift-testing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line any CI reader understands: "tests: N passed, M failed".
summary=$(grep -E "Executed [0-9]+ tests?, with " "$log" | tail -1)
if [ -n "$summary" ]; then
  total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
  failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
  skipped=0
  if echo "$summary" | grep -qE "[0-9]+ tests? skipped"; then
    skipped=$(echo "$summary" | sed -E 's/.* ([0-9]+) tests? skipped.*/\1/')
  fi
  echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$status"
