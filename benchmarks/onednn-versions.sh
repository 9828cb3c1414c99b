#!/usr/bin/env bash
# oneDNN 2.x against 3.x on this machine (ABLATE_ONEDNN), measured alternately in one sitting. Not part of CI.
#
#   bash benchmarks/onednn-versions.sh [ROUNDS]    # default 2 rounds; prints, writes nothing
#
# DenseNet-121 at 224 / batch 32, training and evaluation, each round 2.x then 3.x; then one profiled training
# run on each, for the per-op times (conv3x3 forward and backward above all). Stop other heavy work first: on two
# shared cores every figure is noise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
bash scripts/deps.sh
swift build -c release --product ablate
ABLATE="$(swift build -c release --show-bin-path)/ablate"
BENCH=(bench --model densenet121 --size 224 --batch 32 --steps 3 --warmup 1)
for round in $(seq "$ROUNDS"); do
  for v in 2 3; do
    for mode in train eval; do
      echo "## round $round, ABLATE_ONEDNN=$v, $mode (load $(cut -d' ' -f1 /proc/loadavg))"
      ABLATE_ONEDNN=$v "$ABLATE" "${BENCH[@]}" --mode "$mode"
    done
  done
done
for v in 2 3; do
  echo "## profile, ABLATE_ONEDNN=$v, train (load $(cut -d' ' -f1 /proc/loadavg))"
  ABLATE_ONEDNN=$v "$ABLATE" "${BENCH[@]}" --profile
done
