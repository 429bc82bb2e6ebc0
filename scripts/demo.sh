#!/bin/sh
# The main job (for now): build, then convert a SAM checkpoint and describe it.
#   scripts/demo.sh                      # no checkpoint at hand: a seeded random vit_b
#   scripts/demo.sh sam_vit_b_01ec64.pth # a real checkpoint
# Writes build/demo/<name>.safetensors (f32) and <name>.bf16.safetensors.
set -eu
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh release
BIN=build/release/bin
OUT=build/demo
mkdir -p "$OUT"
if [ $# -ge 1 ]; then
    PTH=$1
else
    PTH=$OUT/random_vit_b.pth
    if [ ! -f "$PTH" ]; then
        echo "demo: no checkpoint given; making a seeded random-weight vit_b with the official code"
        tests/reference/setup_reference.sh build/release/pyref
        PYTHONPATH=build/release/pyref /usr/bin/python3 tests/reference/make_checkpoint.py \
            --variant vit_b --seed 0 --out "$PTH"
    fi
fi
NAME=$(basename "$PTH" .pth)
"$BIN/sam-convert" "$PTH" "$OUT/$NAME.safetensors"
"$BIN/sam-convert" "$PTH" "$OUT/$NAME.bf16.safetensors" --dtype bf16
"$BIN/sam" info -m "$OUT/$NAME.safetensors"
echo "demo: converted files are in $OUT/"
