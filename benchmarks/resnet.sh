#!/usr/bin/env bash
# ablate vs PyTorch on ResNet-50 and SE-ResNet-50 (issue 14), measured alternately in one sitting. Not CI.
#
#   bash benchmarks/resnet.sh [ROUNDS]     # default 3 rounds; appends a section to benchmarks/RESULTS.md
#   ONLY=eval bash benchmarks/resnet.sh 3  # only the cases whose name contains ONLY (train, eval, se16, ...)
#
# PyTorch goes into a throwaway virtualenv outside the repository (/tmp/torchvenv2; the CPU wheel from
# /opt/wheels when present), torchvision next to it without dependencies (its models are pure Python; when its
# C operators do not load against a CPU-only torch, benchmarks/torch_resnet_se.py uses torchvision's definitions
# written out). PyTorch runs in its best CPU configuration: channels_last for training and evaluation, glibc
# malloc tuned so big buffers stay mapped, as benchmarks/run.sh does for DenseNet.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=2
VENV=${TORCH_VENV:-/tmp/torchvenv2}

swift build -c release --product ablate
ABLATE="$(swift build -c release --show-bin-path)/ablate"
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$VENV"
  wheel=$(ls /opt/wheels/torch-*.whl 2>/dev/null | head -1 || true)
  "$VENV/bin/pip" install -q ${wheel:-torch} numpy pillow
  "$VENV/bin/pip" install -q --no-deps torchvision || true
fi

OUT=$(mktemp -d)
# case: name mode model size batch steps
CASES=(
  "train-resnet50 train resnet50 224 32 3"
  "train-resnet50-se16 train resnet50-se16 224 32 3"
  "eval-resnet50 eval resnet50 224 32 5"
  "eval-resnet50-se16 eval resnet50-se16 224 32 5"
)
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    read -r name mode model size batch steps <<<"$c"
    [[ -z "${ONLY:-}" || "$name" == *"$ONLY"* ]] || continue
    echo "round $round: $name" >&2
    "$ABLATE" bench --model "$model" --mode "$mode" --size "$size" --batch "$batch" --steps "$steps" --warmup 2 \
      --threads $THREADS --json >>"$OUT/ablate-$name.jsonl"
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
      "$VENV/bin/python" benchmarks/torch_resnet_se.py --model "$model" --mode "$mode" --size "$size" \
      --batch "$batch" --steps "$steps" --threads $THREADS --channels-last >>"$OUT/torch-$name.jsonl"
  done
done
PROFILE_MODE=$([[ "${ONLY:-}" == eval* ]] && echo eval || echo train)
"$ABLATE" bench --model resnet50 --mode $PROFILE_MODE --size 224 --batch 32 --steps 3 --warmup 1 --threads $THREADS \
  --profile >"$OUT/profile.txt"

python3 - "$OUT" "$ROUNDS" "$PROFILE_MODE" <<'PY' | tee -a benchmarks/RESULTS.md
import datetime, json, os, statistics, sys
out, rounds, profile_mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def load(path): return [json.loads(l) for l in open(path) if l.strip()]
first = sorted(f for f in os.listdir(out) if f.startswith("torch-"))[0][len("torch-"):]
t0 = load(os.path.join(out, "torch-" + first))[0]
a0 = load(os.path.join(out, "ablate-" + first))[0]
print(f"\n# ResNet-50 and SE-ResNet-50: ablate vs PyTorch ({datetime.date.today()})\n")
print(f"2 threads; ablate backend {a0.get('backend', '?')}; PyTorch {t0['torch']} (torchvision "
      f"{'imported' if t0['torchvision'] else 'definitions written out'}), channels_last, glibc malloc tuned; "
      f"{rounds} alternating rounds, each cell the median over rounds of each run's median step time.\n")
print("| case | PyTorch img/s | ablate img/s | ratio | PyTorch peak RSS | ablate peak RSS |")
print("|---|---:|---:|---:|---:|---:|")
for key in ["train-resnet50", "train-resnet50-se16", "eval-resnet50", "eval-resnet50-se16"]:
    if not os.path.exists(os.path.join(out, f"ablate-{key}.jsonl")): continue
    a = load(os.path.join(out, f"ablate-{key}.jsonl")); t = load(os.path.join(out, f"torch-{key}.jsonl"))
    ai = statistics.median(r["images_per_second"] for r in a); ti = statistics.median(r["img_per_s"] for r in t)
    ar = max(r["peak_rss_bytes"] for r in a) / 1e9; tr = max(r["peak_rss_mib"] for r in t) * 2**20 / 1e9
    mode, model = key.split("-", 1)
    print(f"| {mode} {model}, 224, batch 32 | {ti:.2f} | {ai:.2f} | {ai / ti:.2f}× | {tr:.1f} GB | {ar:.1f} GB |")
print(f"\n## ablate op profile ({profile_mode} resnet50, 224, batch 32)\n\n```")
print(open(os.path.join(out, "profile.txt")).read().rstrip())
print("```")
PY
