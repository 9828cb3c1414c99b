#!/usr/bin/env bash
# The README's main-job command: install missing system packages, build in release mode, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release --product ablate
BIN="$(swift build -c release --show-bin-path)/ablate"
"$BIN" model densenet121-se16 --size 224
if [ -d ../shared/reference ]; then "$BIN" verify ../shared/reference/*.json; fi
"$BIN" bench --model densenet121 --size 112 --batch 16 --steps 3
