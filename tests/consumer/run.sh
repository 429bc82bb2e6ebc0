#!/bin/sh
# Installs a build into a temporary prefix, builds tests/consumer against it with
# find_package(sam_engine), and runs both consumers (static and shared library)
# on a random tiny model and a generated image made by the installed commands.
#   tests/consumer/run.sh BUILD_DIR
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cmake --install "$BUILD" --prefix "$T/prefix" > "$T/install.log"
test -f "$T/prefix/lib/cmake/sam_engine/sam_engineConfig.cmake"
test -f "$T/prefix/include/sam/predictor.h"
ls "$T/prefix/lib/libsam.a" "$T/prefix/lib/libengine.a" "$T/prefix/lib/libkernels.a" "$T/prefix/lib"/libsam_engine.so.* > /dev/null
cmake -S "$HERE" -B "$T/build" -DCMAKE_PREFIX_PATH="$T/prefix" -DCMAKE_BUILD_TYPE=Release > "$T/configure.log"
cmake --build "$T/build" -j2 > "$T/build.log" 2>&1 || { tail -30 "$T/build.log"; exit 1; }
"$T/prefix/bin/sam-convert" -q --random tiny "$T/tiny.safetensors"
"$T/prefix/bin/sam" demo-image "$T/image.png" > /dev/null
for v in static shared; do
    out=$("$T/build/segment_$v" "$T/tiny.safetensors" "$T/image.png" 100 80)
    echo "segment_$v: $out"
    case "$out" in tiny:\ masks\ \[1,\ 3,*) ;; *) echo "unexpected output"; exit 1 ;; esac
done
# Errors are exceptions with context, never a crash.
if "$T/build/segment_shared" "$T/missing.safetensors" "$T/image.png" 1 1 2> "$T/err.txt"; then exit 1; fi
grep -q "missing.safetensors" "$T/err.txt"
echo "consumer: find_package(sam_engine) from an installed prefix works (static and shared)"
