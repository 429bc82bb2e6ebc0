#!/usr/bin/env python3
"""SIGINT / SIGTERM / SIGHUP at several points of every command that writes (ctest `signals`).

    test_signals.py --bin BUILD/bin --data BUILD/testdata

Each command runs on the tiny model (BUILD/testdata/tiny.pth, converted here) with inputs large enough
to take about a second, and gets the signal after 0.05 s, 0.3 s, 1 s, or as soon as its staging or
temporary file appears. Afterwards:
  * the exit code is 128 + the signal, and stderr is exactly one line,
    "<prog>: interrupted (SIGxxx); unfinished output removed" (or the command finished first: exit 0;
    or, at 0.05 s only, the signal came before main() installed its handler: killed by it, and nothing
    may exist in the output slot then);
  * the output holds nothing new, or only complete results: no .sam-staging-*, .sam-pending-* or
    .tmp-* file anywhere, every result folder / file whole (sam everything: the images completed before
    the signal stay, each complete).
The commands: sam segment and sam trace (a 3000x2000 image: masks take a while to write), sam everything on a folder
of 6 images (also killed once its first image is done: that result stays), sam-convert --random vit_b (375 MB) and sam-convert tiny.pth, sam demo-image 8192x8192.
Needs numpy and Pillow.
"""
import argparse
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POINTS = (0.05, 0.3, 1.0, "staging", "result")  # "result": sam everything, once its first image is done
TEMP_PATTERNS = (".sam-staging-", ".sam-pending-", ".tmp-")


def leftovers(root):
    bad = []
    for dirpath, dirs, files in os.walk(root):
        bad += [os.path.join(dirpath, n) for n in dirs + files if any(p in n for p in TEMP_PATTERNS)]
    return bad


def staging_seen(root):
    return bool(leftovers(root))


def results(out):
    return [n for n in os.listdir(out) if not n.startswith(".sam-")] if os.path.isdir(out) else []


def run_and_kill(cmd, sig, when, watch):
    """Runs cmd, sends sig at `when` (seconds, or "staging": when a temporary appears under watch)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    while p.poll() is None:
        elapsed = time.monotonic() - t0
        ready = {"staging": staging_seen(watch), "result": bool(results(os.path.join(watch, "out")))}
        if ready[when] if when in ready else elapsed >= when:
            p.send_signal(sig)
            break
        if elapsed > 30:
            break
        time.sleep(0.002)
    _, err = p.communicate(timeout=120)
    return p.returncode, err.decode(errors="replace")


def check_segment(out):
    if not os.path.exists(out):
        return None
    names = sorted(os.listdir(out))
    if "result.json" not in names:
        return f"{out}: incomplete result: {names}"
    listed = sorted(m["file"] for m in json.load(open(os.path.join(out, "result.json")))["masks"])
    if names != sorted(listed + ["overlay.png", "result.json"]):
        return f"{out}: holds {names}, result.json lists {listed}"
    for n in names:
        if n.endswith(".png"):
            Image.open(os.path.join(out, n)).load()
    return None


def check_everything(out):
    if not os.path.exists(out):
        return None
    for stem in os.listdir(out):
        folder = os.path.join(out, stem)
        files = sorted(os.listdir(folder))
        if "metadata.csv" not in files:
            return f"{folder}: incomplete: {files}"
        n = len(open(os.path.join(folder, "metadata.csv")).read().split("\n")) - 1
        if files != sorted([f"{i}.png" for i in range(n)] + ["metadata.csv", "overlay.png"]):
            return f"{folder}: holds {files}, metadata.csv lists {n} masks"
    return None


def check_trace(out):
    if not os.path.exists(out):
        return None
    names = os.listdir(out)
    return None if "image_embedding.npy" in names and "mask_logits.npy" in names else f"{out}: incomplete: {names}"


def check_safetensors(path):
    if not os.path.exists(path):
        return None
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    return None if 8 + n + end == len(data) else f"{path}: {len(data)} bytes, header says {8 + n + end}"


def check_png(path):
    if os.path.exists(path):
        Image.open(path).load()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    sam, convert = os.path.join(args.bin, "sam"), os.path.join(args.bin, "sam-convert")
    base = tempfile.mkdtemp(prefix="sam_signals_")
    failures = []
    try:
        model = os.path.join(base, "tiny.safetensors")
        subprocess.run([convert, "-q", os.path.join(args.data, "tiny.pth"), model], check=True)
        rng = np.random.default_rng(0)
        big = os.path.join(base, "big.png")
        Image.fromarray((rng.random((2000, 3000, 3)) * 255).astype(np.uint8)).save(big)
        folder = os.path.join(base, "images")
        os.mkdir(folder)
        for i in range(6):
            Image.fromarray((rng.random((480, 640, 3)) * 255).astype(np.uint8)).save(os.path.join(folder, f"{i}.png"))
        out_root = os.path.join(base, "out")
        commands = {
            "sam segment": (lambda o: [sam, "segment", "-m", model, "-i", big, "-o", o, "-b", "10,10,900,900",
                                       "-b", "50,50,2000,1500"], lambda o: o, check_segment, "sam"),
            "sam trace": (lambda o: [sam, "trace", "-m", model, "-i", big, "-o", o, "-p", "10,10"], lambda o: o,
                          check_trace, "sam"),
            "sam everything": (lambda o: [sam, "everything", "-m", model, "--input", folder, "--output", o,
                                          "--points-per-side", "16"], lambda o: o, check_everything, "sam"),
            "sam-convert --random vit_b": (lambda o: [convert, "-q", "--random", "vit_b", os.path.join(o, "m.safetensors")],
                                           lambda o: os.path.join(o, "m.safetensors"), check_safetensors, "sam-convert"),
            "sam-convert tiny.pth": (lambda o: [convert, "-q", os.path.join(args.data, "tiny.pth"),
                                                os.path.join(o, "m.safetensors")],
                                     lambda o: os.path.join(o, "m.safetensors"), check_safetensors, "sam-convert"),
            "sam demo-image": (lambda o: [sam, "demo-image", os.path.join(o, "d.png"), "--width", "8192", "--height",
                                          "8192"], lambda o: os.path.join(o, "d.png"), check_png, "sam"),
        }
        for name, (argv, result, check, prog) in commands.items():
            for sig in SIGNALS:
                for when in POINTS:
                    if when == "result" and name != "sam everything":
                        continue
                    slot = os.path.join(out_root, "slot")
                    shutil.rmtree(slot, ignore_errors=True)
                    os.makedirs(slot)
                    o = os.path.join(slot, "out") if name in ("sam segment", "sam trace", "sam everything") else slot
                    t0 = time.monotonic()
                    rc, err = run_and_kill(argv(o), sig, when, slot)
                    took = time.monotonic() - t0
                    lines = err.strip().splitlines()
                    want = f"{prog}: interrupted ({sig.name}); unfinished output removed"
                    problem = None
                    # A signal that lands before main() installed the handlers (possible at 0.05 s on a
                    # loaded machine: the dynamic loader and OpenBLAS's start-up come first) kills the
                    # process by the default action; it has not created anything yet, which is checked below.
                    early = when == POINTS[0] and rc == -sig
                    if rc == 0 or early:
                        state = "finished first"
                    elif rc != 128 + sig:
                        problem = f"exit code {rc}, expected {128 + sig}: {err.strip()[:300]}"
                    elif lines != [want]:
                        problem = f"stderr {lines}, expected [{want!r}]"
                    state = "finished first" if rc == 0 else "killed at start" if early else f"exit {rc}"
                    problem = problem or (leftovers(slot) and f"left behind: {leftovers(slot)}") or check(result(o))
                    if early and not problem and os.listdir(slot):
                        problem = f"killed by {sig.name} before its handler, yet it wrote {os.listdir(slot)}"
                    if when == "result" and not problem and not results(o):
                        problem = "the image completed before the signal was removed"
                    if when == "result" and not problem:
                        state += f", {len(results(o))} kept"
                    print(f"{'FAIL' if problem else '  ok'}  {name:<28} {sig.name:<7} at {str(when):<7} "
                          f"{state:<15} {took:5.2f} s  {problem or ''}")
                    if problem:
                        failures.append(f"{name} {sig.name} at {when}: {problem}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
