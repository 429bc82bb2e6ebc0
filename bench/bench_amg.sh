#!/bin/sh
# Automatic mask generation, side by side: `sam everything` and the official
# SamAutomaticMaskGenerator, on the same seeded random vit_b weights and image,
# default settings (points_per_side 32, points_per_batch 64, ...), 2 threads.
#
#   bench/bench_amg.sh IMAGE [BUILD_DIR] [PYREF] [VIT_B_PTH]
#
# BUILD_DIR defaults to build/release, PYREF (the official segment_anything) to
# BUILD_DIR/pyref, VIT_B_PTH to BUILD_DIR/testdata/vit_b.pth (written by
# tests/reference/make_checkpoint.py --variant vit_b --seed 0 if missing).
# Prints wall time and peak RSS of each process, the generate() time of the
# official one and our per-stage breakdown. Extra options for both sides can be
# given in AMG_ARGS (amg.py spellings), e.g. AMG_ARGS="--points-per-side 16".
set -eu
[ $# -ge 1 ] || { echo "usage: $0 IMAGE [BUILD_DIR] [PYREF] [VIT_B_PTH]" >&2; exit 2; }
IMAGE=$1
BUILD=${2:-build/release}
PYREF=${3:-$BUILD/pyref}
PTH=${4:-$BUILD/testdata/vit_b.pth}
HERE=$(cd "$(dirname "$0")" && pwd)
REF="$HERE/../tests/reference"
ARGS=${AMG_ARGS:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ ! -f "$PTH" ]; then
    mkdir -p "$(dirname "$PTH")"
    PYTHONPATH="$PYREF" /usr/bin/python3 "$REF/make_checkpoint.py" --variant vit_b --seed 0 --out "$PTH"
fi
"$BUILD/bin/sam-convert" "$PTH" "$TMP/vit_b.safetensors" -q

echo "== sam everything (fp32, --threads 2) =="
# shellcheck disable=SC2086
/usr/bin/time -f "ours: %e s wall, %U s user, %S s sys, %M KB peak RSS" \
    "$BUILD/bin/sam" everything -m "$TMP/vit_b.safetensors" --input "$IMAGE" --output "$TMP/ours" --threads 2 $ARGS

echo "== official SamAutomaticMaskGenerator (torch.set_num_threads(2)) =="
# shellcheck disable=SC2086
PYTHONPATH="$PYREF" /usr/bin/time -f "official: %e s wall, %U s user, %S s sys, %M KB peak RSS" \
    /usr/bin/python3 "$REF/dump_amg.py" generate --pth "$PTH" --variant vit_b --image "$IMAGE" --threads 2 \
    --out "$TMP/official" $ARGS

# Same masks? (metadata.csv rows: ours vs the text amg.py writes for the official records)
stem=$(basename "$IMAGE")
stem=${stem%.*}
ours=$(($(wc -l < "$TMP/ours/$stem/metadata.csv") + 0))
theirs=$(($(wc -l < "$TMP/official/metadata.csv") + 0))
same=$(cmp -s "$TMP/ours/$stem/metadata.csv" "$TMP/official/metadata.csv" && echo "byte-identical" || echo "differs")
echo "masks: ours $ours, official $theirs (metadata.csv $same)"
