#!/usr/bin/env bash
# The README's main-job command: install missing system packages, build in release mode, run the demo
# experiment (synthetic data, about 5 s of training on 2 cores) and write its report to reports/demo/.
# The real experiment is `ablate run experiments/monkeypox.yaml` (hours on a 2-core CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release --product ablate
BIN="$(swift build -c release --show-bin-path)/ablate"
"$BIN" run experiments/demo.yaml --db runs/demo.sqlite
"$BIN" report --db runs/demo.sqlite --experiment demo --out reports/demo
