#!/bin/sh
# MobileSAM (vit_t) in one run: `sam bench` and the official MobileSAM code on PyTorch, on
# the same seeded random weights (a mobile_sam.pt as MobileSAM saves it).
#   bench/bench_mobilesam.sh [THREADS] [IMAGE]       (defaults: 2 threads, synthetic 1800x1200)
# Needs the build (B=build/release by default) and pip access for the official code
# (tests/reference/setup_mobilesam.sh installs mobilesam-mirror + timm into B/pyms).
# Targets (issue 16): encoder >= 4x faster than the official code and <= 150 ms.
set -eu
cd "$(dirname "$0")/.."
T=${1:-2}
IMAGE=${2:-}
B=${B:-build/release}
W=$B/bench_work
mkdir -p "$W"
tests/reference/setup_reference.sh "$B/pyref"
tests/reference/setup_mobilesam.sh "$B/pyms"
[ -f "$W/mobile_sam.pt" ] || PYTHONPATH="$B/pyms:$B/pyref" /usr/bin/python3 tests/reference/mobilesam_reference.py \
    --checkpoint-only --out "$W" > /dev/null
"$B/bin/sam-convert" -q --overwrite "$W/mobile_sam.pt" "$W/vit_t.safetensors"
IMG_ARG=""
[ -z "$IMAGE" ] || IMG_ARG="-i $IMAGE"
IMG_PY=""
[ -z "$IMAGE" ] || IMG_PY="--image $IMAGE"
echo "== sam-engine"
"$B/bin/sam" bench -m "$W/vit_t.safetensors" $IMG_ARG --threads "$T" --runs 5 --json > "$W/ours_vit_t.json"
echo "== official MobileSAM"
PYTHONPATH="$B/pyms:$B/pyref" /usr/bin/python3 -W ignore bench/bench_official.py --pth "$W/mobile_sam.pt" --variant vit_t \
    $IMG_PY --threads "$T" --runs 5 --json > "$W/official_vit_t.json"
/usr/bin/python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
ours, off = json.load(open(w + "/ours_vit_t.json")), json.load(open(w + "/official_vit_t.json"))
print(f"{'implementation':22} {'encoder ms':>11} {'decoder ms':>11} {'total ms':>10} {'peak RSS MB':>12}")
for name, r in (("sam-engine", ours), ("official MobileSAM", off)):
    print(f"{name:22} {r['encoder_ms']:11.1f} {r['decoder_ms']:11.1f} {r['total_ms']:10.1f} {r['peak_rss_mb']:12.0f}")
speed = off["encoder_ms"] / ours["encoder_ms"]
print(f"encoder speed-up {speed:.2f}x (target >= 4x): {'met' if speed >= 4 else 'NOT met'}; "
      f"encoder {ours['encoder_ms']:.0f} ms (target <= 150 ms): {'met' if ours['encoder_ms'] <= 150 else 'NOT met'}")
PY
