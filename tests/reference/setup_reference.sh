#!/bin/sh
# Install the official segment-anything 1.0 (pure Python) into PYREF_DIR for the
# reference harness.  Idempotent; a half-finished install never looks complete.
#
#   tests/reference/setup_reference.sh PYREF_DIR
#   PYTHONPATH=PYREF_DIR /usr/bin/python3 tests/reference/make_checkpoint.py ...
set -eu

PY=/usr/bin/python3

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 PYREF_DIR" >&2
    exit 2
fi
PYREF_DIR=$1

if ! "$PY" -c 'import torch, torchvision, numpy, PIL' >/dev/null 2>&1; then
    echo "error: $PY cannot import torch/torchvision/numpy/PIL; install the Debian packages: apt-get install python3-torch python3-torchvision python3-numpy python3-pil" >&2
    exit 1
fi

if [ -d "$PYREF_DIR/segment_anything" ]; then
    exit 0
fi

mkdir -p "$PYREF_DIR"
TMP=$(mktemp -d "$PYREF_DIR/.install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

if ! PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
        --target "$TMP" segment-anything==1.0; then
    echo "error: pip install of segment-anything==1.0 into $PYREF_DIR failed" >&2
    exit 1
fi
if [ ! -f "$TMP/segment_anything/__init__.py" ]; then
    echo "error: pip did not produce segment_anything/ in $TMP" >&2
    exit 1
fi

# Move everything except the package dir first, the package dir last: its presence
# is what marks the install as complete.
for p in "$TMP"/* "$TMP"/.[!.]*; do
    [ -e "$p" ] || continue
    name=$(basename "$p")
    [ "$name" = segment_anything ] && continue
    rm -rf "${PYREF_DIR:?}/$name"
    mv "$p" "$PYREF_DIR/$name"
done
mv "$TMP/segment_anything" "$PYREF_DIR/segment_anything"

if ! PYTHONPATH="$PYREF_DIR" "$PY" -c 'from segment_anything import sam_model_registry, SamPredictor' >/dev/null 2>&1; then
    echo "warning: segment_anything installed in $PYREF_DIR but failed to import" >&2
    exit 1
fi
echo "installed segment-anything 1.0 into $PYREF_DIR"
