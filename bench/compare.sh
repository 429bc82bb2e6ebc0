#!/bin/sh
# Side by side, in one run: `sam bench` (packed GEMM and the OpenBLAS baseline)
# and the official segment-anything, on the same seeded random weights.
#   bench/compare.sh [VARIANT] [IMAGE] [THREADS]      (defaults: vit_b, synthetic 1800x1200, 2)
# Needs the build (build/release) and the reference harness (python3-torch).
set -eu
cd "$(dirname "$0")/.."
V=${1:-vit_b}
IMAGE=${2:-}
T=${3:-2}
B=build/release
W=$B/bench_work
mkdir -p "$W"
tests/reference/setup_reference.sh "$B/pyref"
[ -f "$W/$V.pth" ] || PYTHONPATH="$B/pyref" /usr/bin/python3 tests/reference/make_checkpoint.py --variant "$V" --out "$W/$V.pth"
[ -f "$W/$V.safetensors" ] || "$B/bin/sam-convert" -q "$W/$V.pth" "$W/$V.safetensors"
IMG_ARG=""
[ -z "$IMAGE" ] || IMG_ARG="-i $IMAGE"
echo "== sam-engine (packed GEMM)"
"$B/bin/sam" bench -m "$W/$V.safetensors" $IMG_ARG --threads "$T" --json | tee "$W/ours.json" | cut -c1-400
echo "== sam-engine (OpenBLAS GEMM baseline)"
SAM_GEMM=openblas "$B/bin/sam" bench -m "$W/$V.safetensors" $IMG_ARG --threads "$T" --json | tee "$W/ours_openblas.json" | cut -c1-400
echo "== official segment-anything"
IMG_PY=""
[ -z "$IMAGE" ] || IMG_PY="--image $IMAGE"
PYTHONPATH="$B/pyref" /usr/bin/python3 bench/bench_official.py --pth "$W/$V.pth" --variant "$V" $IMG_PY --threads "$T" --json | tee "$W/official.json"
/usr/bin/python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
rows = [("sam-engine", json.load(open(w + "/ours.json"))),
        ("sam-engine, OpenBLAS GEMM", json.load(open(w + "/ours_openblas.json"))),
        ("official (PyTorch)", json.load(open(w + "/official.json")))]
off = rows[-1][1]
print(f"\n{'implementation':28} {'encoder ms':>11} {'decoder ms':>11} {'total ms':>10} {'peak RSS MB':>12} {'encoder speed-up':>17}")
for name, r in rows:
    print(f"{name:28} {r['encoder_ms']:11.1f} {r['decoder_ms']:11.1f} {r['total_ms']:10.1f} {r['peak_rss_mb']:12.0f} "
          f"{off['encoder_ms'] / r['encoder_ms']:16.2f}x")
PY
