#!/usr/bin/env python3
"""End-to-end tests of the sam-convert command against the official code.

Run by ctest (see tests/CMakeLists.txt) after tests/reference/prepare_test_data.sh:
    test_convert_cli.py --bin BUILD/bin --data BUILD/testdata --pyref BUILD/pyref [--variants tiny,vit_b]

* every conversion (f32 / f16 / bf16, .pth and .safetensors input) is checked bit for
  bit against torch.load by tests/reference/check_converted.py;
* converting streams: the peak RSS of a vit_b conversion stays far below the size of
  the checkpoint (two full copies would be twice its size);
* every hostile input gives exit code 1, exactly one line on stderr that names the
  problem, and leaves no file (not even a temporary) in the output folder.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "..", "reference", "check_converted.py")

# file in testdata/bad -> words the one-line error must contain
BAD_INPUTS = {
    "empty.pth": "empty file",
    "truncated.pth": "truncated or corrupt",
    "wrong_magic.pth": "not a PyTorch checkpoint",
    "truncated_zip_header.pth": "truncated or corrupt",
    "forbidden_global.pth": "forbidden pickle global 'os.system'",
    "builtins_eval.pth": "forbidden pickle global 'builtins.eval'",
    "garbage_opcodes.pth": "pickle",
    "bad_pickle_truncated.pth": "pickle data ends early",
    "other_model.pth": "not a SAM checkpoint",
    "wrong_shape.pth": "wrong shape 1 (mask_decoder.iou_token.weight [2, 33] (expected [1, 32]))",
    "missing_key.pth": "missing 1 (mask_decoder.iou_prediction_head.layers.2.bias)",
    "extra_key.pth": "unexpected 1 (image_encoder.extra.weight)",
    "wrong_dtype.pth": "has dtype int64",
    "missing_storage.pth": "which the archive lacks",
    "st_lying_offsets.safetensors": "lie outside",
    "st_overlap.safetensors": "overlaps",
    "st_huge_header.safetensors": "exceeds the limit",
    "st_header_too_long.safetensors": "runs past the end of the file",
    "st_size_mismatch.safetensors": "expected 24",
    "st_bad_json.safetensors": "not valid JSON",
    "st_bad_dtype.safetensors": "unsupported dtype 'Q7'",
    "st_negative.safetensors": "negative",
    "st_empty.safetensors": "empty file",
    "st_short.safetensors": "too short",
    "st_valid_control.safetensors": "not a SAM checkpoint",
}

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def run(cmd, limit_fsize=None):
    """Runs cmd; returns (rc, stdout, stderr)."""
    def preexec():
        if limit_fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec)
    out, err = p.communicate()
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def run_rss(cmd):
    """Runs cmd with stdout discarded; returns (rc, peak RSS in MB) of that process alone."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024.0


def check_against_torch(args, pth, st, dtype, variant):
    env = dict(os.environ, PYTHONPATH=args.pyref)
    p = subprocess.run([sys.executable, CHECK, "--pth", pth, "--safetensors", st, "--dtype", dtype,
                        "--variant", variant], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"check_converted {os.path.basename(st)}: {p.stdout[-2000:]}{p.stderr[-2000:]}")
    else:
        print("  ", p.stdout.strip().splitlines()[-1][:160])


def expect_error(args, out_dir, cmd, words, code=1, what=None, limit_fsize=None):
    what = what or " ".join(cmd[1:])
    rc, out, err = run(cmd, limit_fsize)
    lines = err.strip().splitlines()
    if rc != code:
        fail(f"{what}: exit code {rc}, expected {code}; stderr: {err.strip()[:300]}")
    elif len(lines) != 1:
        fail(f"{what}: expected one line on stderr, got {len(lines)}: {err[:500]}")
    elif words not in lines[0]:
        fail(f"{what}: error line lacks '{words}': {lines[0]}")
    else:
        print(f"   ok  {what}: {lines[0][:150]}")
    left = os.listdir(out_dir)
    if left:
        fail(f"{what}: left files behind: {left}")
        for f in left:
            os.remove(os.path.join(out_dir, f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--pyref", required=True)
    ap.add_argument("--variants", default="tiny,vit_b")
    args = ap.parse_args()
    convert = os.path.join(args.bin, "sam-convert")
    sam = os.path.join(args.bin, "sam")
    work = tempfile.mkdtemp(prefix="sam_convert_test_")
    try:
        for variant in args.variants.split(","):
            pth = os.path.join(args.data, f"{variant}.pth")
            print(f"== {variant}")
            for dtype in ("f32", "f16", "bf16"):
                st = os.path.join(work, f"{variant}_{dtype}.safetensors")
                rc, rss = run_rss([convert, pth, st, "--dtype", dtype])
                if rc != 0:
                    fail(f"converting {variant} to {dtype}: exit code {rc}")
                    continue
                check_against_torch(args, pth, st, dtype, variant)
                size = os.path.getsize(pth) / 2**20
                print(f"   peak RSS {rss:.0f} MB for a {size:.0f} MB checkpoint ({dtype})")
                if variant != "tiny" and rss > 0.5 * size:
                    fail(f"{variant} {dtype}: peak RSS {rss:.0f} MB; streaming should stay well under "
                         f"half the checkpoint ({size:.0f} MB)")
                rc, out, err = run([sam, "info", "-m", st])
                if rc != 0 or f"variant      {variant}" not in out:
                    fail(f"sam info on {st}: rc {rc}: {out} {err}")
            # safetensors input: re-validate and change dtype; the tensors still match torch.
            f32 = os.path.join(work, f"{variant}_f32.safetensors")
            for dtype in ("f32", "bf16"):
                st2 = os.path.join(work, f"{variant}_{dtype}_from_st.safetensors")
                rc, out, err = run([convert, f32, st2, "--dtype", dtype])
                if rc != 0:
                    fail(f"safetensors -> {dtype}: rc {rc}: {err}")
                else:
                    check_against_torch(args, pth, st2, dtype, variant)
            for f in os.listdir(work):
                os.remove(os.path.join(work, f))

        print("== tensors stored as views (storage offsets, shared and transposed storages)")
        views = os.path.join(args.data, "bad", "valid_views.pth")
        st = os.path.join(work, "views.safetensors")
        rc, out, err = run([convert, views, st])
        if rc != 0:
            fail(f"valid_views.pth: rc {rc}: {err}")
        else:
            check_against_torch(args, views, st, "f32", "tiny")
            os.remove(st)

        print("== --random: seeded random weights at the real shapes")
        r1, r2, r3 = (os.path.join(work, f"random_{i}.safetensors") for i in range(3))
        for path, seed in ((r1, "0"), (r2, "0"), (r3, "1")):
            rc, out, err = run([convert, "--random", "tiny", "--seed", seed, path, "-q"])
            if rc != 0:
                fail(f"--random tiny --seed {seed}: rc {rc}: {err}")
        if os.path.exists(r3):
            same = open(r1, "rb").read() == open(r2, "rb").read()
            differ = open(r1, "rb").read() != open(r3, "rb").read()
            rc, out, err = run([sam, "info", "-m", r1])
            if not same or not differ or rc != 0 or "variant      tiny" not in out:
                fail(f"--random: deterministic {same}, seed changes values {differ}, sam info rc {rc} {err}")
            else:
                print("   ok  --random is deterministic per seed and passes the schema check")
        rc, out, err = run([convert, "--random", "vit_b", "--dtype", "bf16", r1, "-q", "--overwrite"])
        rc2, out2, _ = run([sam, "info", "-m", r1])
        if rc != 0 or rc2 != 0 or "variant      vit_b" not in out2 or "bytes bf16" not in out2:
            fail(f"--random vit_b --dtype bf16: rc {rc}/{rc2}: {err} {out2}")
        for f in os.listdir(work):
            if f.endswith(".safetensors"):
                os.remove(os.path.join(work, f))

        print("== hostile and broken inputs")
        out_dir = os.path.join(work, "out")
        os.mkdir(out_dir)
        target = os.path.join(out_dir, "model.safetensors")
        for name, words in BAD_INPUTS.items():
            expect_error(args, out_dir, [convert, os.path.join(args.data, "bad", name), target], words, what=name)
        if os.path.exists("/tmp/pwned"):
            fail("/tmp/pwned exists: a pickle was executed")

        print("== command-line misuse")
        tiny = os.path.join(args.data, "tiny.pth")
        expect_error(args, out_dir, [convert], "required", code=2, what="no arguments")
        expect_error(args, out_dir, [convert, "--random", "vit_x", target], "--random", code=2, what="bad --random")
        expect_error(args, out_dir, [convert, "--random", "vit_b", tiny, target], "only OUT", code=2,
                     what="--random with an input")
        expect_error(args, out_dir, [convert, tiny, target, "--dtype", "f64"], "--dtype", code=2, what="bad --dtype")
        expect_error(args, out_dir, [convert, os.path.join(work, "nope.pth"), target], "no such file",
                     what="missing input")
        expect_error(args, out_dir, [convert, work, target], "is a directory", what="directory as input")
        expect_error(args, out_dir, [convert, tiny, os.path.join(work, "no_dir", "x.safetensors")],
                     "does not exist", what="output folder missing")
        expect_error(args, out_dir, [convert, tiny, out_dir], "is a directory", what="directory as output")
        expect_error(args, out_dir, [convert, tiny, target], "File too large", what="file-size limit (full disk)",
                     limit_fsize=64 * 1024)
        shutil.copy(tiny, os.path.join(work, "same.pth"))
        expect_error(args, out_dir, [convert, os.path.join(work, "same.pth"), os.path.join(work, "same.pth")],
                     "overwrite the input", what="output == input")
        rc, out, err = run([convert, "--version"])
        if rc != 0 or "sam-convert" not in out:
            fail(f"--version: rc {rc} {out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all sam-convert checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
