#!/usr/bin/env bash
# The README's test command: install missing system packages, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build --build-tests
swift test --skip-build
