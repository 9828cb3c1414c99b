#!/usr/bin/env bash
# ablate vs PyTorch on this machine, measured alternately in one sitting. Not part of CI.
#
#   bash benchmarks/run.sh [ROUNDS]        # default 3 rounds; writes benchmarks/RESULTS.md
#
# Builds ablate in release mode, installs PyTorch into a throwaway virtualenv outside the repository when it is
# missing (/tmp/torchenv; a CPU wheel from /opt/wheels when present), then runs ../shared/peers/torch_densenet_se.py
# in its best configuration (channels_last where it helps, glibc malloc tuned so big buffers stay mapped) and
# `ablate bench` alternately on the same cases. Each cell is the median over rounds of each run's median step.
# It names the ISA (AVX2 or AVX-512, after ONEDNN_MAX_CPU_ISA) and oneDNN version it ran on, and replaces that ISA's
# section of benchmarks/RESULTS.md (one section per ISA).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=2
VENV=${TORCH_VENV:-/tmp/torchenv}
PEER=../shared/peers/torch_densenet_se.py
[ -f "$PEER" ] || { echo "missing $PEER (the PyTorch peer benchmark)"; exit 1; }

bash scripts/deps.sh
swift build -c release --product ablate
ABLATE="$(swift build -c release --show-bin-path)/ablate"

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$VENV"
  wheel=$(ls /opt/wheels/torch-*.whl 2>/dev/null | head -1 || true)
  "$VENV/bin/pip" install -q ${wheel:-torch} numpy
fi

OUT=$(mktemp -d)
# case: name mode model(ablate) model(peer) size batch steps torch-flags
CASES=(
  "train-224 train densenet121 densenet121 224 32 5 --channels-last"
  "train-se16-224 train densenet121-se16 se16 224 32 5 --channels-last"
  "train-112 train densenet121 densenet121 112 32 8 "
  "eval-224 eval densenet121 densenet121 224 32 8 --channels-last"
)
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    read -r name mode model peer size batch steps flags <<<"$c"
    echo "round $round: $name"
    "$ABLATE" bench --model "$model" --mode "$mode" --size "$size" --batch "$batch" --steps "$steps" --warmup 2 \
      --threads $THREADS --json >>"$OUT/ablate-$name.jsonl"
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
      "$VENV/bin/python" "$PEER" --model "$peer" --mode "$mode" --size "$size" --batch "$batch" --steps "$steps" \
      --threads $THREADS ${flags:-} >>"$OUT/torch-$name.jsonl"
  done
done
"$ABLATE" bench --model densenet121 --size 224 --batch 32 --steps 3 --warmup 1 --threads $THREADS --profile >"$OUT/profile.txt"

python3 - "$OUT" "$ROUNDS" <<'PY' | tee "$OUT/section.md"
import json, os, platform, statistics, subprocess, sys, datetime
out, rounds = sys.argv[1], int(sys.argv[2])
def load(path): return [json.loads(l) for l in open(path) if l.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 2**20
torch_version = load(os.path.join(out, "torch-train-224.jsonl"))[0].get("torch", "?")
backend = load(os.path.join(out, "ablate-train-224.jsonl"))[0].get("backend", "?")
flags = set(next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), []))
cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").upper()
avx512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags and not (cap.startswith("SSE") or cap == "AVX" or cap.startswith("AVX2"))
isa = "AVX-512" if avx512 else "AVX2"
onednn = load(os.path.join(out, "ablate-train-224.jsonl"))[0].get("onednn_version", "?")
open(os.path.join(out, "isa"), "w").write(isa)
print(f"<!-- benchmarks/run.sh: {isa} -->")
print(f"# ablate vs PyTorch on {isa}\n")
print(f"Measured {datetime.date.today()} on {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.platform()}; "
      f"ISA {isa}{' (ONEDNN_MAX_CPU_ISA=' + cap + ')' if cap else ''}, oneDNN {onednn}; "
      f"2 threads; ablate backend {backend}; PyTorch {torch_version} in its best configuration (channels_last at 224, glibc malloc tuned); "
      f"{rounds} alternating rounds, each cell the median over rounds of each run's median step time.\n")
print("| case | PyTorch img/s | ablate img/s | ratio | PyTorch peak RSS | ablate peak RSS |")
print("|---|---:|---:|---:|---:|---:|")
names = {"train-224": "train densenet121, 224, batch 32", "train-se16-224": "train densenet121-se16, 224, batch 32",
         "train-112": "train densenet121, 112, batch 32", "eval-224": "eval densenet121, 224, batch 32"}
ips = {}
for key, label in names.items():
    a = load(os.path.join(out, f"ablate-{key}.jsonl")); t = load(os.path.join(out, f"torch-{key}.jsonl"))
    ai = statistics.median(r["images_per_second"] for r in a); ti = statistics.median(r["img_per_s"] for r in t)
    ar = max(r["peak_rss_bytes"] for r in a) / 1e9; tr = max(r["peak_rss_mib"] for r in t) * 2**20 / 1e9
    ips[key] = (ai, ti)
    print(f"| {label} | {ti:.2f} | {ai:.2f} | {ai / ti:.2f}× | {tr:.1f} GB | {ar:.1f} GB |")
# SE overhead: plain and se16 run back to back in each round, so compare them per round (paired) and take the
# median of the rounds; this cancels most of the machine's drift between rounds.
def paired(prefix, key):
    plain = [r[key] for r in load(os.path.join(out, f"{prefix}-train-224.jsonl"))]
    se = [r[key] for r in load(os.path.join(out, f"{prefix}-train-se16-224.jsonl"))]
    per_round = [100 * (p / s - 1) for p, s in zip(plain, se)]
    return statistics.median(per_round), per_round
a_med, a_rounds = paired("ablate", "images_per_second"); t_med, t_rounds = paired("torch", "img_per_s")
print(f"\nSE overhead in training (se16 vs plain, median of per-round paired ratios): ablate {a_med:.1f}% "
      f"(rounds: {', '.join(f'{v:.1f}%' for v in a_rounds)}); PyTorch {t_med:.1f}% "
      f"(rounds: {', '.join(f'{v:.1f}%' for v in t_rounds)}).\n")
print("## ablate op profile (train densenet121, 224, batch 32)\n\n```")
print(open(os.path.join(out, "profile.txt")).read().rstrip())
print("```")
print(f"<!-- end benchmarks/run.sh: {isa} -->")
PY
# RESULTS.md keeps one such section per ISA: this run replaces its own ISA's section (or adds it at the top) and
# leaves everything else in the file as it is.
python3 - "$OUT" <<'PY'
import os, sys
out = sys.argv[1]
isa = open(os.path.join(out, "isa")).read()
section = open(os.path.join(out, "section.md")).read().rstrip() + "\n"
path = "benchmarks/RESULTS.md"
text = open(path).read() if os.path.exists(path) else ""
begin, end = f"<!-- benchmarks/run.sh: {isa} -->", f"<!-- end benchmarks/run.sh: {isa} -->"
if begin in text and end in text:
    text = text[:text.index(begin)] + section.rstrip("\n") + text[text.index(end) + len(end):]
else:
    text = section + "\n" + text
open(path, "w").write(text)
PY
