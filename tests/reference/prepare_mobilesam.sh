#!/bin/sh
# The MobileSAM reference data, on demand and once:
#   tests/reference/prepare_mobilesam.sh BUILD_DIR
# installs the official MobileSAM code (setup_mobilesam.sh: PyPI mobilesam-mirror + timm)
# into BUILD_DIR/pyms and writes BUILD_DIR/testdata_mobilesam (mobilesam_reference.py):
# mobile_sam.pt (seeded random weights, vit_t), the suite of every prompt kind on PNG and
# JPEG images, and the first image's image-encoder module outputs. Uses the official
# segment-anything in BUILD_DIR/pyref (setup_reference.sh) for dump_suite.py. Exits 77 (skipped)
# when pip cannot fetch the packages.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$1
"$HERE/setup_reference.sh" "$BUILD/pyref"  # (done already when the reference_data fixture ran)
"$HERE/setup_mobilesam.sh" "$BUILD/pyms"
DATA="$BUILD/testdata_mobilesam"
if [ ! -f "$DATA/.done" ]; then
    rm -rf "$DATA"
    PYTHONPATH="$BUILD/pyms:$BUILD/pyref" /usr/bin/python3 "$HERE/mobilesam_reference.py" --out "$DATA" > /dev/null
    touch "$DATA/.done"
fi
echo "MobileSAM test data ready in $DATA"
