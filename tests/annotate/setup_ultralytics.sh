#!/bin/sh
# Install Ultralytics (pure Python, pinned, no dependencies: it imports with the Debian
# torch / torchvision / numpy / opencv / yaml / PIL / matplotlib packages) into DIR, for
# the annotate tests (its masks2segments / merge_multi_segment / scale_coords make the
# reference label files) and bench/bench_annotate.py (its SAM predictor).
# Idempotent; a half-finished install never looks complete. Exit 77 (skip) when pip
# cannot fetch it (no network), so callers can skip rather than fail.
#   tests/annotate/setup_ultralytics.sh DIR
set -eu
PY=/usr/bin/python3
VERSION=8.4.190
if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
DIR=$1
[ -d "$DIR/ultralytics" ] && exit 0
mkdir -p "$DIR"
TMP=$(mktemp -d "$DIR/.install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
if ! PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
        --target "$TMP" "ultralytics==$VERSION"; then
    echo "skipped: pip install of ultralytics==$VERSION into $DIR failed (offline?)" >&2
    exit 77
fi
[ -f "$TMP/ultralytics/__init__.py" ] || { echo "error: pip did not produce ultralytics/ in $TMP" >&2; exit 1; }
for p in "$TMP"/* "$TMP"/.[!.]*; do
    [ -e "$p" ] || continue
    name=$(basename "$p")
    [ "$name" = ultralytics ] && continue
    rm -rf "${DIR:?}/$name"
    mv "$p" "$DIR/$name"
done
mv "$TMP/ultralytics" "$DIR/ultralytics"
if ! YOLO_CONFIG_DIR="$DIR/yolo_config" PYTHONPATH="$DIR" "$PY" -c 'from ultralytics.utils.ops import masks2segments' >/dev/null 2>&1; then
    echo "error: ultralytics installed in $DIR but failed to import" >&2
    exit 1
fi
echo "installed ultralytics $VERSION into $DIR"
