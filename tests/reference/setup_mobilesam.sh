#!/bin/sh
# Install the official MobileSAM code (PyPI mobilesam-mirror: mobile_sam/ unchanged
# from github.com/ChaoningZhang/MobileSAM) and the timm it imports into PYMS_DIR for
# the MobileSAM reference harness (tests/reference/mobilesam_reference.py).
# Idempotent; a half-finished install never looks complete. Exits 77 (ctest's
# "skipped") when pip cannot fetch the packages (no network).
#
#   tests/reference/setup_mobilesam.sh PYMS_DIR
set -eu

PY=/usr/bin/python3
if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 PYMS_DIR" >&2
    exit 2
fi
DIR=$1
[ -f "$DIR/.done" ] && exit 0

if ! "$PY" -c 'import torch, torchvision, numpy, PIL' >/dev/null 2>&1; then
    echo "error: $PY cannot import torch/torchvision/numpy/PIL (apt-get install python3-torch python3-torchvision python3-numpy python3-pil)" >&2
    exit 1
fi
mkdir -p "$DIR"
TMP=$(mktemp -d "$DIR/.install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# --no-deps: torch / torchvision / numpy come from Debian; timm's other imports
# (yaml, huggingface_hub, safetensors) are only needed by code paths MobileSAM
# does not take.
if ! PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
        --target "$TMP" mobilesam-mirror==1.0.0 timm==1.0.31; then
    echo "skipped: pip could not install mobilesam-mirror and timm into $DIR (no network?)" >&2
    exit 77
fi
for p in "$TMP"/* "$TMP"/.[!.]*; do
    [ -e "$p" ] || continue
    name=$(basename "$p")
    rm -rf "${DIR:?}/$name"
    mv "$p" "$DIR/$name"
done
if ! PYTHONPATH="$DIR" "$PY" -W ignore -c 'from mobile_sam import sam_model_registry, SamPredictor' >/dev/null 2>&1; then
    echo "error: mobile_sam installed in $DIR but failed to import" >&2
    exit 1
fi
touch "$DIR/.done"
echo "installed mobilesam-mirror 1.0.0 and timm 1.0.31 into $DIR"
