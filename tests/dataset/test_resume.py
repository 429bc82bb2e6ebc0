#!/usr/bin/env python3
"""Dataset runs of `sam everything` killed and restarted; shards; failures; the log.

    test_resume.py --bin BUILD/bin --data BUILD/testdata

* a run SIGTERMed mid-way (after two images) and run again finishes with outputs
  byte-identical to an uninterrupted run; the log says done, then skipped + done;
* the same after SIGKILL (its staging folder left behind is removed by the rerun),
  and with --convert-to-rle where the kill fell between <stem>.json and
  <stem>_overlay.png (the image is redone);
* one shard started twice at once: the second is refused (exit 1, one line), while
  another shard runs beside it; the two shards' outputs together equal the whole;
* a manifest with a missing entry, a corrupt image and a duplicate: exit 3, one
  "failed" log line each, a warning, the other images done; a rerun retries only
  the failed ones; a foreign file at an image's result name fails that image only
  and is left alone;
* usage: --shard out of range / malformed (exit 2), --resume with --overwrite (exit 2).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dataset_util import make_images, read_log, same_trees, tiny_model  # noqa: E402

failures = []
# ~0.5 s per image on the tiny model (64 prompts): long enough to be killed mid-way.
OPTS = ["--points-per-side", "8", "--pred-iou-thresh", "0", "--stability-score-thresh", "0", "--threads", "1"]


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def statuses(log):
    return [(r["image"], r["status"]) for r in read_log(log) if "image" in r]


def kill_after(cmd, log, done, sig):
    """Starts cmd, sends `sig` once the log holds `done` finished images; returns (rc, stderr)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if os.path.exists(log) and sum(s == "done" for _, s in statuses(log)) >= done:
            break
        time.sleep(0.002)
    if p.poll() is not None:
        fail(f"{sig.name}: the run ended before it could be interrupted (rc {p.returncode})")
    else:
        p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    return p.returncode, err


def check_interrupted(base, ref, work, name, sig, extra=()):
    """Kill a run after two images, rerun, compare with the uninterrupted run `ref`."""
    out = os.path.join(work, name)
    log = os.path.join(out, "logs", "shard-0-of-1.jsonl")
    cmd = base + ["--output", out, "--resume"] + list(extra)
    rc, err = kill_after(cmd, log, 2, sig)
    if rc != 128 + sig and rc != -sig:
        fail(f"{name}: rc {rc} after {sig.name}: {err}")
    first = statuses(log)
    staging = [n for n in os.listdir(out) if n.startswith(".sam-staging")]
    if sig == signal.SIGTERM and staging:
        fail(f"{name}: staging left after SIGTERM: {staging}")
    if extra:  # an image cut between its two renames: the json there, no overlay
        stem = first[0][0].split(".")[0]
        os.remove(os.path.join(out, stem + "_overlay.png"))
    rc, _, err = run(cmd)
    if rc != 0:
        fail(f"{name}: rerun rc {rc}: {err}")
    if any(n.startswith(".sam-staging") for n in os.listdir(out)):
        fail(f"{name}: staging left after the rerun: {os.listdir(out)}")
    diff = same_trees(ref, out)
    if diff:
        fail(f"{name}: interrupted + rerun != uninterrupted: {diff}")
    second = statuses(log)[len(first):]
    want_skipped = {i for i, s in first if s == "done"} - ({first[0][0]} if extra else set())
    got_skipped = {i for i, s in second if s == "skipped"}
    if got_skipped != want_skipped or len(second) != 6 or any(s == "failed" for _, s in second):
        fail(f"{name}: rerun log {second}, first run {first}")
    print(f"{name}: {sig.name} after {len(first)} image(s), rerun: {len(got_skipped)} skipped, "
          f"{sum(s == 'done' for _, s in second)} done; outputs equal the uninterrupted run", flush=True)


def holds_flock(pid, path):
    """True when process `pid` holds a flock() on `path` (Linux /proc/locks: "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ...")."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            rows = [line.split() for line in f]
    except OSError:
        return False
    for r in rows:
        if len(r) >= 6 and r[1] == "FLOCK" and r[4] == str(pid):
            dev_ino = r[5].split(":")
            if len(dev_ino) == 3 and int(dev_ino[2]) == st.st_ino:
                return True
    return False


def check_shards(sam, model, work, images, ref):
    """One shard twice at once is refused, as a plain command into the folder; another shard runs beside it."""
    out = os.path.join(work, "shards")
    base = [sam, "everything", "-m", model, "--input", images, "--output", out] + OPTS
    first = subprocess.Popen(base + ["--shard", "0/2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log0 = os.path.join(out, "logs", "shard-0-of-2.jsonl")
    deadline = time.time() + 60
    # The log is created, then locked: wait for the lock itself (seen in /proc/locks, without
    # taking it), or a stop between the two would let the second run in.
    while not holds_flock(first.pid, log0) and time.time() < deadline and first.poll() is None:
        time.sleep(0.005)
    if not holds_flock(first.pid, log0):
        fail(f"shard 0/2 never locked its log (rc {first.poll()})")
    first.send_signal(signal.SIGSTOP)  # holds its locks while the others try
    try:
        rc, _, err = run(base + ["--shard", "0/2"])
        lines = err.strip().splitlines()
        if rc != 1 or len(lines) != 1 or "shard 0/2 is being run by another process" not in err:
            fail(f"the same shard twice: rc {rc}, stderr {err!r}")
        rc, _, err = run(base)
        if rc != 1 or "another sam command is writing into this folder" not in err:
            fail(f"a plain run into a folder of running shards: rc {rc}, stderr {err!r}")
        other_rc, _, other_err = run(base + ["--shard", "1/2"])
    finally:
        first.send_signal(signal.SIGCONT)
    if first.wait(timeout=120) != 0 or other_rc != 0:
        fail(f"shards 0/2 and 1/2 side by side: rc {first.returncode}, {other_rc}: {first.stderr.read()} {other_err}")
    diff = same_trees(ref, out)
    if diff:
        fail(f"shards 0/2 + 1/2 != one run: {diff}")
    print("same shard twice: refused; shards 0/2 and 1/2 at once equal one run", flush=True)


def check_failures(sam, model, work, images):
    """Missing, corrupt, duplicate, foreign: exit 3 and the log; a rerun retries only the failed."""
    with open(os.path.join(images, "..", "corrupt.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n broken")
    manifest = os.path.join(work, "list.txt")
    with open(manifest, "w") as f:
        f.write("# three good, one missing, one corrupt, one listed twice, one with a foreign result\n"
                "images/img00.png\n\nimages/img01.png\nmissing.png\ncorrupt.png\n./images/img00.png\n"
                "images/img02.png\n")
    out = os.path.join(work, "failures")
    os.makedirs(os.path.join(out, "img02"))
    with open(os.path.join(out, "img02", "notes.txt"), "w") as f:
        f.write("mine\n")
    cmd = [sam, "everything", "-m", model, "--manifest", manifest, "--output", out] + OPTS
    rc, stdout, err = run(cmd)
    log = statuses(os.path.join(out, "logs", "shard-0-of-1.jsonl"))
    want = [("images/img00.png", "done"), ("images/img01.png", "done"), ("missing.png", "failed"),
            ("corrupt.png", "failed"), ("images/img02.png", "failed")]
    if rc != 3 or log != want:
        fail(f"failures: rc {rc} (want 3), log {log}: {err}")
    warnings = err.strip().splitlines()
    if len(warnings) != 4 or "listed again (first on line 2)" not in warnings[0] or \
            not all(w.startswith("sam: warning: ") for w in warnings):
        fail(f"failures: stderr {err!r}")
    if "shard 0/1: 5 image(s): 2 done, 0 skipped, 3 failed" not in stdout:
        fail(f"failures: summary {stdout!r}")
    if open(os.path.join(out, "img02", "notes.txt")).read() != "mine\n":
        fail("a foreign file was touched")
    shutil.rmtree(os.path.join(out, "img02"))
    shutil.copy(os.path.join(images, "img03.png"), os.path.join(work, "missing.png"))
    rc, _, err = run(cmd)
    log = statuses(os.path.join(out, "logs", "shard-0-of-1.jsonl"))[5:]
    want = [("images/img00.png", "skipped"), ("images/img01.png", "skipped"), ("missing.png", "done"),
            ("corrupt.png", "failed"), ("images/img02.png", "done")]
    if rc != 3 or log != want:
        fail(f"failures rerun: rc {rc}, log {log}: {err}")
    print("failures: exit 3, logged; the rerun retried only the failed images", flush=True)


def check_usage(sam, model, work, images):
    base = [sam, "everything", "-m", model, "--input", images, "--output", os.path.join(work, "usage")]
    for extra, text in ((["--shard", "4/4"], "shard index 4 is not in 0..3 (indices are 0-based"),
                        (["--shard", "1of4"], "expected I/N"),
                        (["--shard", "0/0"], "at least 1"),
                        (["--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
                        (["--manifest", os.path.join(work, "list.txt")], "excludes")):
        rc, _, err = run(base + extra)
        lines = err.strip().splitlines()
        if rc != 2 or len(lines) != 1 or text not in err or not lines[0].startswith("sam: error: "):
            fail(f"{extra}: rc {rc} (want 2), stderr {err!r}")
    if os.path.exists(os.path.join(work, "usage")):
        fail("a usage error created the output folder")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    sam = os.path.join(args.bin, "sam")
    work = tempfile.mkdtemp(prefix="sam_resume_test_")
    try:
        model = tiny_model(args.bin, args.data, work)
        images = os.path.join(work, "images")
        make_images(args.data, images, 6)
        base = [sam, "everything", "-m", model, "--input", images] + OPTS
        for name, extra in (("ref", []), ("ref_rle", ["--convert-to-rle"])):
            rc, _, err = run(base + ["--output", os.path.join(work, name)] + extra)
            if rc != 0:
                fail(f"uninterrupted run: rc {rc}: {err}")
        check_interrupted(base, os.path.join(work, "ref"), work, "sigterm", signal.SIGTERM)
        check_interrupted(base, os.path.join(work, "ref"), work, "sigkill", signal.SIGKILL)
        check_interrupted(base, os.path.join(work, "ref_rle"), work, "sigterm_rle", signal.SIGTERM,
                          ["--convert-to-rle"])
        check_shards(sam, model, work, images, os.path.join(work, "ref"))
        check_failures(sam, model, work, images)
        check_usage(sam, model, work, images)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all dataset resume tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
