#!/bin/sh
# Prepares everything the reference-based tests need, on demand and idempotently:
#   tests/reference/prepare_test_data.sh BUILD_DIR [VARIANT ...]
# installs the official segment-anything into BUILD_DIR/pyref and writes into
# BUILD_DIR/testdata: VARIANT.pth (seeded random weights, default: tiny vit_b),
# dtype/ (torch's f16/bf16 conversions) and bad/ (hostile converter inputs).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$1
shift
[ $# -gt 0 ] || set -- tiny vit_b
PY=/usr/bin/python3
"$HERE/setup_reference.sh" "$BUILD/pyref"
export PYTHONPATH="$BUILD/pyref"
DATA="$BUILD/testdata"
mkdir -p "$DATA"
for v in "$@"; do
    [ -f "$DATA/$v.pth" ] || "$PY" "$HERE/make_checkpoint.py" --variant "$v" --seed 0 --out "$DATA/$v.pth"
done
if [ ! -f "$DATA/dtype/.done" ]; then
    "$PY" "$HERE/dtype_oracle.py" --out "$DATA/dtype"
    touch "$DATA/dtype/.done"
fi
if [ ! -f "$DATA/bad/.done" ]; then
    [ -f "$DATA/tiny.pth" ] || "$PY" "$HERE/make_checkpoint.py" --variant tiny --seed 0 --out "$DATA/tiny.pth"
    "$PY" "$HERE/make_bad_inputs.py" --tiny-pth "$DATA/tiny.pth" --out "$DATA/bad" > /dev/null
    touch "$DATA/bad/.done"
fi
# Official outputs of the tiny model, every layer, on a deterministic 320x213 image:
# a point prompt (ref_tiny_point) and a box + background point (ref_tiny_box).
if [ -f "$DATA/tiny.pth" ] && [ ! -f "$DATA/ref_tiny_point/.done" ]; then
    "$PY" "$HERE/dump_reference.py" --pth "$DATA/tiny.pth" --variant tiny --random-image 320 213 7 \
        --point 150,100,1 --multimask 1 --layers --out "$DATA/ref_tiny_point" > /dev/null
    touch "$DATA/ref_tiny_point/.done"
fi
if [ -f "$DATA/tiny.pth" ] && [ ! -f "$DATA/ref_tiny_box/.done" ]; then
    "$PY" "$HERE/dump_reference.py" --pth "$DATA/tiny.pth" --variant tiny --random-image 320 213 7 \
        --box 40,30,250,190 --point 60,50,0 --multimask 0 --layers --out "$DATA/ref_tiny_box" > /dev/null
    touch "$DATA/ref_tiny_box/.done"
fi
if [ ! -f "$DATA/preprocess/.done" ]; then
    "$PY" "$HERE/dump_preprocess.py" --out "$DATA/preprocess" > /dev/null
    touch "$DATA/preprocess/.done"
fi
# A batch of three boxes, and mask input from ref_tiny_point's best low-res logits.
if [ -f "$DATA/tiny.pth" ] && [ ! -f "$DATA/ref_tiny_boxes/.done" ]; then
    "$PY" "$HERE/dump_reference.py" --pth "$DATA/tiny.pth" --variant tiny --random-image 320 213 7 \
        --box 40,30,250,190 --box 10,10,120,100 --box 150,60,310,200 --multimask 1 --layers \
        --out "$DATA/ref_tiny_boxes" > /dev/null
    touch "$DATA/ref_tiny_boxes/.done"
fi
if [ -f "$DATA/tiny.pth" ] && [ ! -f "$DATA/ref_tiny_mask/.done" ]; then
    mkdir -p "$DATA/ref_tiny_mask"
    "$PY" -c "import numpy as np,sys; d=sys.argv[1]; l=np.load(d+'/ref_tiny_point/low_res_logits.npy'); i=np.load(d+'/ref_tiny_point/iou_predictions.npy'); np.save(d+'/ref_tiny_mask/mask_input.npy', l[0,i[0].argmax()][None].astype(np.float32))" "$DATA"
    "$PY" "$HERE/dump_reference.py" --pth "$DATA/tiny.pth" --variant tiny --random-image 320 213 7 \
        --point 150,100,1 --point 60,50,0 --mask-input "$DATA/ref_tiny_mask/mask_input.npy" --multimask 0 \
        --layers --out "$DATA/ref_tiny_mask" > /dev/null
    touch "$DATA/ref_tiny_mask/.done"
fi
# Automatic mask generation: the official utilities on synthetic inputs, and the
# official generator on the tiny model with several option sets.
if [ ! -f "$DATA/amg_utils/.done" ]; then
    "$PY" "$HERE/dump_amg.py" utils --out "$DATA/amg_utils" > /dev/null
    touch "$DATA/amg_utils/.done"
fi
amg() {
    n=$1
    shift
    [ -f "$DATA/$n/.done" ] || { "$PY" "$HERE/dump_amg.py" generate --pth "$DATA/tiny.pth" --variant tiny \
        --random-image 320 213 7 --out "$DATA/$n" "$@" > /dev/null && touch "$DATA/$n/.done"; }
}
if [ -f "$DATA/tiny.pth" ]; then
    Z="--pred-iou-thresh 0 --stability-score-thresh 0"
    amg amg_tiny_all --points-per-side 16 $Z --box-nms-thresh 1.0
    amg amg_tiny_nms --points-per-side 16 $Z
    amg amg_tiny_crops --points-per-side 8 --crop-n-layers 1 --crop-n-points-downscale-factor 2 $Z \
        --box-nms-thresh 1.0 --crop-nms-thresh 1.0
    amg amg_tiny_small_regions --points-per-side 8 $Z --box-nms-thresh 1.0 --min-mask-region-area 100
    amg amg_tiny_filters --points-per-side 16 --pred-iou-thresh 0.2 --stability-score-thresh 0.5 \
        --stability-score-offset 0.3 --box-nms-thresh 1.0
    amg amg_tiny_defaults --points-per-side 16
fi
# The forward-pass fidelity suite (every prompt kind, odd image sizes) per variant.
for v in "$@"; do
    if [ -f "$DATA/$v.pth" ] && [ ! -f "$DATA/suite_$v/.done" ]; then
        "$PY" "$HERE/dump_suite.py" --pth "$DATA/$v.pth" --variant "$v" --out "$DATA/suite_$v" > /dev/null
        touch "$DATA/suite_$v/.done"
    fi
done
echo "test data ready in $DATA"
