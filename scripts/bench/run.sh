#!/usr/bin/env bash
# The performance benchmark in one command: tl-train against the same jobs written in PyTorch
# (scripts/bench/peer.py), same machine, data, weights, batch, input size and thread count.
#
#   scripts/bench/run.sh [--size 64] [--repeats 3] [--out bench-out] [--scaling] [bench.py options...]
#
# Builds tl-train and tl_bench (Release, in build-bench/), writes ~530 JPEGs of 512x512 in the
# Food-11 layout and random-weights VGG16, ResNet-50 and EfficientNet-B0 into OUT, then runs scripts/bench/bench.py, which
# prints the report and writes OUT/report.md and OUT/report.json. About 8 minutes at 64 px on
# 2 cores after the first build; --size 224 is available (much longer). --scaling then also runs
# scripts/bench/scaling.py (data parallel, 2 ranks against 1 process, tl-train and PyTorch DDP side
# by side, and two independent one-process runs at once for the machine's ceiling) on 5,005
# generated 64x64 JPEGs: two workloads, each about 15 minutes on 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT=bench-out
ARGS=()
SCALING=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --scaling) SCALING=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
PY=/usr/bin/python3  # Debian's python3-torchvision lives here; a pyenv python3 on PATH may lack torch
"$PY" -c "import torch, torchvision" 2>/dev/null ||
  { echo "run.sh: $PY cannot import torch and torchvision; install python3-torchvision" >&2; exit 1; }

BUILD="$ROOT/build-bench"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTL_BUILD_BENCH=ON -DTL_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target tl-train tl_bench >/dev/null

mkdir -p "$OUT"
if [[ ! -f "$OUT/data/.complete" ]]; then
  rm -rf "$OUT/data"
  "$PY" "$ROOT/scripts/bench/make_data.py" --out "$OUT/data"
  touch "$OUT/data/.complete"
fi
if [[ ! -f "$OUT/vgg16_features.pt" ]]; then
  "$PY" "$ROOT/scripts/export_backbone.py" --weights random --features-only --out "$OUT/vgg16_features.pt"
fi
for arch in resnet50 efficientnet_b0; do
  [[ -f "$OUT/$arch.pt" ]] || "$PY" "$ROOT/scripts/export_backbone.py" --arch "$arch" --weights random --out "$OUT/$arch.pt"
done
"$PY" "$ROOT/scripts/bench/bench.py" --out "$OUT" --tl "$BUILD/tl-train" --tl-bench "$BUILD/tl_bench" "${ARGS[@]}"
if [[ $SCALING == 1 ]]; then
  if [[ ! -f "$OUT/scaling-data/.complete" ]]; then
    rm -rf "$OUT/scaling-data"
    "$PY" "$ROOT/scripts/bench/make_data.py" --out "$OUT/scaling-data" --train 455 --val 2 --test 2 --side 64
    touch "$OUT/scaling-data/.complete"
  fi
  "$PY" "$ROOT/scripts/bench/scaling.py" --tl "$BUILD/tl-train" --data "$OUT/scaling-data" \
    --backbone "$OUT/vgg16_features.pt" --out "$OUT/scaling" --ceiling | tee "$OUT/scaling.md"
fi
