#!/bin/sh
# Builds the libFuzzer targets (preset "fuzz": clang, libFuzzer, ASan + UBSan,
# leak detection on) and runs each for SECONDS (default 30), starting from the
# seed corpora in tests/fuzz/corpus/<target>/ (zip_checkpoint: written into build/fuzz/seeds/ by
# tests/fuzz/make_seeds.py, checkpoints are never committed). New inputs go to
# build/fuzz/corpus/<target>/ (the repository's seeds are never written), logs
# and any crash, leak or timeout input to build/fuzz/runs/. Exits non-zero if a
# target finds anything.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: pickle zip_checkpoint safetensors npy image prompts)
# Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 -workers=2" scripts/fuzz.sh 600
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-30}
[ $# -gt 0 ] && shift
TARGETS=${*:-pickle zip_checkpoint safetensors npy image prompts}
cmake --preset fuzz > /dev/null
BUILD_TARGETS=""
for t in $TARGETS; do BUILD_TARGETS="$BUILD_TARGETS fuzz_$t"; done
cmake --build --preset fuzz -j"$(nproc)" --target $BUILD_TARGETS > build/fuzz-build.log 2>&1 || {
    tail -50 build/fuzz-build.log
    exit 1
}
RUNS=build/fuzz/runs
mkdir -p "$RUNS"
status=0
printf '%-16s %10s %8s %8s %9s  %s\n' target executions exec/s corpus seconds result
# The zip_checkpoint seeds are checkpoints (.pth), never committed: written into the build tree.
ZIP_SEEDS=build/fuzz/seeds/zip_checkpoint
case " $TARGETS " in
*" zip_checkpoint "*)
    BAD=""
    [ -d build/release/testdata/bad ] && BAD="--bad build/release/testdata/bad"
    # shellcheck disable=SC2086
    /usr/bin/python3 tests/fuzz/make_seeds.py --zip-checkpoint-only "$ZIP_SEEDS" $BAD ;;
esac
for t in $TARGETS; do
    corpus=build/fuzz/corpus/$t
    seeds=tests/fuzz/corpus/$t
    [ "$t" = zip_checkpoint ] && seeds=$ZIP_SEEDS
    mkdir -p "$corpus"
    log=$RUNS/$t.log
    start=$(date +%s)
    # -timeout: one input may take at most 25 s; -rss_limit_mb also caps single mallocs (malloc_limit_mb).
    if build/fuzz/fuzz/fuzz_$t -max_total_time="$SECS" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$RUNS/$t-" ${FUZZ_FLAGS:-} "$corpus" "$seeds" > "$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log)"
        status=1
    fi
    execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
    rate=$(grep -h 'stat::average_exec_per_sec' "$log" | awk '{s += $2} END {print s + 0}')
    printf '%-16s %10s %8s %8s %9s  %s\n' "$t" "$execs" "$rate" "$(ls "$corpus" | wc -l)" "$(($(date +%s) - start))" "$result"
    if [ "$result" != ok ]; then
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20
    fi
done
exit $status
