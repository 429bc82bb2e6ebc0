#!/bin/sh
# The test command: installs the Debian packages, builds (Release, -O3) and runs
# every test with ctest, including the comparisons with the official code (its
# reference harness installs segment-anything into build/release/pyref on demand).
# SAM_SLOW_TESTS=1 adds the vit_l / vit_h tests.
set -eu
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh release
ctest --preset release -j2
