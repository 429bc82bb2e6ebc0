#!/usr/bin/env python3
"""The table of bad inputs (docs/bad_inputs.md) and its test, from one list: CASES
(rows in bad_inputs_*rows.py beside this file).

    test_bad_inputs.py --bin BUILD/bin --data BUILD/testdata            # run every row; check the doc is current
    test_bad_inputs.py --bin BUILD/bin --data BUILD/testdata --write-doc  # also rewrite the table in the doc

Every row runs the real command. A refused input must give exactly the documented
message as the only line on stderr, the documented exit code (1: bad input, 2: usage)
and no partial output: the output (file or folder) does not exist afterwards and its
parent folder is left exactly as it was (no temporary or staging files; no file added, removed or
rewritten: names, sizes and mtimes). An accepted
row (grayscale, RGBA, 16-bit, 1x1 images) must exit 0 and write masks of the image's size;
for `sam everything` it must also print nothing on stderr (or exactly the row's warning line)
and leave exactly one complete result folder per processed image (N.png, metadata.csv,
overlay.png) and nothing else.

A row may bring its own check of an accepted run (`check`) and act while the command runs
(`during`, e.g. truncate the model once the masks are being written).

Messages are templates: {model}, {image}, {in}, {out} and {file} stand for the paths
the row uses (the doc shows them as MODEL, IMAGE, IN, OUT and FILE).

Rows marked `mount` need a tmpfs (a tiny or a read-only one): they run where mount(2)
is permitted (root in CI) and are reported as skipped elsewhere.

`sam everything` rows use the tiny model, 64x48 images and --points-per-side 4 (16 prompts)
unless the row is about that option, so that each runs in well under a second.

Needs BUILD/testdata from tests/reference/prepare_test_data.sh (tiny.pth, bad/), numpy
and Pillow.
"""
import argparse
import io
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageOps

from bad_inputs_rows import *  # noqa: F401,F403
from bad_inputs_rows import CASES as CONVERT_AND_SEGMENT_CASES
from bad_inputs_everything_rows import EVERYTHING_CASES
from bad_inputs_image_rows import IMAGE_CASES
from bad_inputs_message_rows import MESSAGE_CASES
from bad_inputs_output_rows import OUTPUT_CASES

CASES = CONVERT_AND_SEGMENT_CASES + EVERYTHING_CASES + IMAGE_CASES + MESSAGE_CASES + OUTPUT_CASES


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------

class Ctx:
    pass


def run(cmd, fsize=None, during=None):
    def preexec():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, preexec_fn=preexec)
        while during and p.poll() is None and not during():
            time.sleep(0.001)
        p.wait()
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def mount_tmpfs(path, options):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path], capture_output=True, text=True)
    return p.returncode == 0


def umount(path):
    subprocess.run(["umount", path], capture_output=True)


def listing(path):
    """Every file and folder under path (relative; files with size and mtime), to tell that nothing was
    added, removed or rewritten."""
    out = set()
    for root, dirs, files in os.walk(path):
        for n in dirs:
            out.add(os.path.relpath(os.path.join(root, n), path))
        for n in files:
            st = os.lstat(os.path.join(root, n))
            out.add((os.path.relpath(os.path.join(root, n), path), st.st_size, st.st_mtime_ns))
    return out


def prepare(args):
    c = Ctx()
    c.bin, c.data = args.bin, args.data
    c.sam, c.convert = os.path.join(args.bin, "sam"), os.path.join(args.bin, "sam-convert")
    c.base = tempfile.mkdtemp(prefix="sam_bad_inputs_")
    c.work = os.path.join(c.base, "work")  # inputs; never written by the commands under test
    os.mkdir(c.work)
    c.tiny_pth = os.path.join(c.data, "tiny.pth")
    c.model = os.path.join(c.work, "tiny.safetensors")
    c.random_model = os.path.join(c.work, "random_tiny.safetensors")
    other_model = os.path.join(c.work, "other_tiny.safetensors")
    for cmd in ([c.convert, c.tiny_pth, c.model, "-q"], [c.convert, "--random", "tiny", c.random_model, "-q"],
                [c.convert, "--random", "tiny", "--seed", "5", other_model, "-q"]):
        rc, _, err = run(cmd)
        if rc != 0:
            sys.exit(f"setup failed: {' '.join(cmd)}: {err}")
    c.image = pil(c, "image.png", rgb_array())
    other_image = pil(c, "other.png", rgb_array()[::-1].copy())
    c.tiny_copy = os.path.join(c.base, "copy", "tiny.pth")
    os.makedirs(os.path.dirname(c.tiny_copy))
    shutil.copy(c.tiny_pth, c.tiny_copy)
    # Embeddings: one of (other model, image), one of (model, other image).
    c.embedding_other_model = os.path.join(c.work, "emb_other_model.npy")
    c.embedding_other_image = os.path.join(c.work, "emb_other_image.npy")
    for m, i, e in ((other_model, c.image, c.embedding_other_model), (c.model, other_image, c.embedding_other_image)):
        rc, _, err = run([c.sam, "segment", "-m", m, "-i", i, "-p", "1,1", "-o", os.path.join(c.base, "emb_out"),
                          "--save-embedding", e, "--overwrite"])
        if rc != 0:
            sys.exit(f"setup failed: embedding: {err}")
    shutil.rmtree(os.path.join(c.base, "emb_out"))
    return c


def value_of(argv, *flags):
    """The value after the first of `flags` in argv (None if absent)."""
    for i, a in enumerate(argv[:-1]):
        if a in flags:
            return argv[i + 1]
    return None


def shown_size(path):
    """An image's size as viewers show it: after its EXIF orientation (masks are written so)."""
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).size


def check_everything_result(case, names, out_path, rc, err):
    """An accepted `sam everything` row: exit 0, stderr empty (or exactly the row's warning), and in the
    output folder exactly one complete result per readable image: <stem>/ with N.png (0/255, the image's
    size; N >= 1, as metadata.csv lists), metadata.csv and overlay.png (the image's size)."""
    if rc != 0:
        return "FAIL", f"exit code {rc}, expected 0: {err.strip()}"
    want_err = [case.warning.format(**names)] if case.warning else []
    if err.strip().splitlines() != want_err:
        return "FAIL", f"stderr {err.strip()!r}, expected {want_err}"
    src = names["image"]
    images = [os.path.join(src, n) for n in sorted(os.listdir(src))] if os.path.isdir(src) else [src]
    images = [i for i in images if names["file"] != i or not case.warning]  # the skipped file
    stems = {os.path.splitext(os.path.basename(i))[0]: i for i in images}
    if sorted(os.listdir(out_path)) != sorted(stems):
        return "FAIL", f"output folder holds {sorted(os.listdir(out_path))}, expected {sorted(stems)}"
    sizes = []
    for stem, path in stems.items():
        size = shown_size(path)
        folder = os.path.join(out_path, stem)
        n = len(open(os.path.join(folder, "metadata.csv")).read().split("\n")) - 1
        want = sorted([f"{i}.png" for i in range(n)] + ["metadata.csv", "overlay.png"])
        if n < 1 or sorted(os.listdir(folder)) != want:
            return "FAIL", f"{folder}: {sorted(os.listdir(folder))}, expected {n} >= 1 masks"
        for f in want:
            if f.endswith(".png") and Image.open(os.path.join(folder, f)).size != size:
                return "FAIL", f"{folder}/{f}: size {Image.open(os.path.join(folder, f)).size}, image {size}"
        sizes.append(f"{n} masks of {size[0]}x{size[1]}")
    return "ok", ", ".join(sizes) + (" + the warning" if case.warning else "")


def run_case(c, case, index):
    """Returns (status, detail): status in ok / FAIL / skip."""
    slot = os.path.join(c.base, f"case_{index}")  # the output's parent: must end as it started (empty)
    os.mkdir(slot)
    c.outdir = slot
    c.out = os.path.join(slot, "out.safetensors" if case.tool == "sam-convert" else "out")
    c.out_in_missing = os.path.join(slot, "missing_dir", "out.safetensors")
    mounted = None
    try:
        if case.mount:
            # small: each tool's output does not fit (sam everything writes only metadata.csv and a 9 KiB
            # overlay.png at its defaults on the random tiny model: 16 KiB would hold them)
            opts = {"sam-convert": "size=64k", "sam segment": "size=16k", "sam everything": "size=8k"}[case.tool]
            opts = "ro,size=64k" if case.mount == "ro" else opts
            if not mount_tmpfs(slot, opts):
                return "skip", "mount not permitted here"
            mounted = slot
            if case.mount == "ro" and case.tool != "sam-convert":
                c.out = slot  # an existing folder that cannot be written
            # (a small tmpfs: the output goes inside it, as usual)
        c.file = case.make(c) if case.make else None
        argv = case.args(c)
        prog = c.convert if case.tool == "sam-convert" else c.sam  # sam segment / everything / trace / demo-image
        before = listing(slot)
        rc, out, err = run([prog] + argv, case.fsize, case.during and (lambda: case.during(c)))
        lines = err.strip().splitlines()
        # the paths the templates name
        out_path = None
        if case.tool == "sam-convert":
            out_path = argv[1] if len(argv) > 1 else c.out
        else:
            out_path = value_of(argv, "-o", "--output")
        names = {
            "in": argv[0] if case.tool == "sam-convert" and argv else "",
            "out": out_path or "",
            "model": value_of(argv, "-m") or "",
            "image": value_of(argv, "-i", "--input") or "",
            "file": c.file or "",
            "fileparent": os.path.dirname(c.file) if c.file else "",
            "outparent": os.path.dirname(out_path or ""),
            "pkl": getattr(c, "pkl", ""),
            "staging": "\x02",  # the staging folder: .sam-staging-PID-XXXXXX (random)
        }
        if "--load-embedding" in argv:
            names["file"] = argv[argv.index("--load-embedding") + 1]
        if case.message is OK and case.check:
            return case.check(c, rc, out, err)
        if case.message is OK and case.tool == "sam everything":
            return check_everything_result(case, names, out_path, rc, err)
        if case.message is OK:
            if rc != 0:
                return "FAIL", f"exit code {rc}, expected 0: {err.strip()}"
            image = ImageOps.exif_transpose(Image.open(names["image"]))  # as viewers show it (EXIF orientation)
            masks = sorted(f for f in os.listdir(out_path) if f.startswith("mask_"))
            if len(masks) != 3:
                return "FAIL", f"{len(masks)} masks written"
            for m in masks:
                if Image.open(os.path.join(out_path, m)).size != image.size:
                    return "FAIL", f"{m}: size {Image.open(os.path.join(out_path, m)).size}, image {image.size}"
            return "ok", f"3 masks of {image.size[0]}x{image.size[1]}"
        want = case.message.format(**names)
        if rc != case.code:
            return "FAIL", f"exit code {rc}, expected {case.code}; stderr: {err.strip()[:400]}"
        if len(lines) != 1:
            return "FAIL", f"{len(lines)} lines on stderr: {err[:600]}"
        if not re.fullmatch(re.escape(want).replace("\x02", r"\.sam-staging-[0-9]+-[A-Za-z0-9]{6}"), lines[0]):
            return "FAIL", f"message\n       got:  {lines[0]}\n       want: {want}"
        after = listing(slot)
        if after != before:
            return "FAIL", f"partial output left behind: {sorted(after - before)}"
        if case.out_kind == "same" and open(c.tiny_copy, "rb").read() != open(c.tiny_pth, "rb").read():
            return "FAIL", "the input was modified"
        return "ok", lines[0]
    finally:
        for fd in getattr(c, "held", []):  # e.g. a lock a row holds as "another run"
            os.close(fd)
        c.held = []
        if mounted:
            umount(mounted)
        shutil.rmtree(slot, ignore_errors=True)


# --------------------------------------------------------------------------------------
# The doc's table
# --------------------------------------------------------------------------------------

def doc_table():
    def shown(template):
        text = template.replace("{{", "\x00").replace("}}", "\x01")
        for k, v in (("in", "IN"), ("out", "OUT"), ("model", "MODEL"), ("image", "IMAGE"), ("file", "FILE"),
                     ("fileparent", "DIR"), ("outparent", "DIR"), ("pkl", "PREFIX/data.pkl"),
                     ("staging", ".sam-staging-PID-XXXXXX")):
            text = text.replace("{" + k + "}", v)
        return text.replace("\x00", "{").replace("\x01", "}").replace("|", "\\|")

    rows = ["| # | tool | bad input | exit | message (stderr, one line) |", "|---|---|---|---|---|"]
    for i, case in enumerate(CASES, 1):
        what = case.what.replace("`mount`", "(tmpfs: needs mount)")
        if case.message is OK and case.warning:
            rows.append(f"| {i} | {case.tool} | {what} | 0 | accepted, with the one stderr line "
                        f"`{shown(case.warning)}` |")
        elif case.message is OK:
            rows.append(f"| {i} | {case.tool} | {what} | 0 | accepted: masks at the image's size |")
        else:
            rows.append(f"| {i} | {case.tool} | {what} | {case.code} | `{shown(case.message)}` |")
    return "\n".join(rows) + "\n"


def check_doc(write):
    text = open(DOC).read() if os.path.exists(DOC) else ""
    if BEGIN not in text or END not in text:
        return f"{DOC} lacks the markers {BEGIN} ... {END}"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + doc_table() + END + tail
    if new == text:
        return None
    if write:
        open(DOC, "w").write(new)
        print(f"rewrote the table in {DOC}")
        return None
    return f"{DOC}: the table differs from CASES; run tests/hardening/test_bad_inputs.py --write-doc"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--write-doc", action="store_true", help="rewrite the table in docs/bad_inputs.md")
    ap.add_argument("-k", help="only rows whose input text contains this")
    args = ap.parse_args()
    failures, skipped = [], 0
    doc_problem = check_doc(args.write_doc)
    if doc_problem:
        failures.append(doc_problem)
        print("FAIL:", doc_problem)
    c = prepare(args)
    try:
        for i, case in enumerate(CASES, 1):
            if args.k and args.k not in case.what:
                continue
            status, detail = run_case(c, case, i)
            print(f"{status:>4}  {i:3d} {case.tool:<14} {case.what[:60]:<60} {detail[:160] if status != 'FAIL' else ''}")
            if status == "FAIL":
                print("      " + detail)
                failures.append(f"row {i} ({case.what}): {detail}")
            skipped += status == "skip"
    finally:
        shutil.rmtree(c.base, ignore_errors=True)
    if os.path.exists("/tmp/pwned"):
        failures.append("/tmp/pwned exists: a pickle was executed")
    print(f"{len(CASES)} rows: {len(CASES) - len(failures) - skipped} ok, {skipped} skipped, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
