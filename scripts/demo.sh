#!/bin/sh
# The main job: build, then segment an image with a point prompt.
#   scripts/demo.sh                                  # nothing at hand: random-weight vit_b + a generated image
#   scripts/demo.sh sam_vit_b_01ec64.pth photo.jpg X,Y   # a real checkpoint, your image, your point
# Outputs land in build/demo/out/ (mask_K.png, overlay.png, result.json) and build/demo/low_res_logits.npy.
set -eu
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh release
BIN=build/release/bin
OUT=build/demo
mkdir -p "$OUT"
if [ $# -ge 1 ]; then
    NAME=$(basename "$1" .pth)
    MODEL=$OUT/$NAME.safetensors
    [ -f "$MODEL" ] || "$BIN/sam-convert" "$1" "$MODEL"
else
    MODEL=$OUT/random_vit_b.safetensors
    if [ ! -f "$MODEL" ]; then
        echo "demo: no checkpoint given: writing a seeded random-weight vit_b (real shapes, MEANINGLESS masks)"
        "$BIN/sam-convert" --random vit_b "$MODEL"
    fi
fi
IMAGE=${2:-$OUT/demo.png}
[ -f "$IMAGE" ] || "$BIN/sam" demo-image "$IMAGE"
POINT=${3:-540,460}
# --overwrite: a rerun replaces the previous result (and only a result of sam segment).
"$BIN/sam" segment -m "$MODEL" -i "$IMAGE" -p "$POINT" -o "$OUT/out" --save-logits "$OUT/low_res_logits.npy" \
    --threads "$(nproc)" --overwrite
echo
echo "demo: outputs in $OUT/out/: mask_0.png (best) .. mask_2.png, overlay.png, result.json; $OUT/low_res_logits.npy"
if [ $# -eq 0 ]; then
    echo "demo: the model has RANDOM weights, so the masks are meaningless; run"
    echo "      scripts/demo.sh sam_vit_b_01ec64.pth your_photo.jpg X,Y   for real results"
fi
