#!/usr/bin/env python3
"""End-to-end tests of `sam everything` on the tiny model, against the official generator.

    test_everything_cli.py --bin BUILD/bin --data BUILD/testdata

Uses the dumps of tests/reference/dump_amg.py (DATA/amg_tiny_*: the official records as
uncompressed RLE, and the metadata.csv scripts/amg.py writes for them):
* folder output: 0.png ... (mask * 255, image size), metadata.csv (amg.py's header and
  columns; the values equal the official ones), overlay.png;
* --convert-to-rle: <stem>.json is exactly what Python's json.dump writes for its own
  values (re-serialising gives the same bytes), with amg.py's record keys in order; the
  COCO "counts" strings, decoded here (an independent decoder of pycocotools' format),
  give the official masks;
* --points-per-batch does not change the output;
* a folder input: one result per image, unreadable files skipped with a warning;
* an existing result is refused unless --overwrite; bad input gives one error line and
  exit code 1 or 2.
"""
import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from coco_rle import coco_string_to_counts, counts_to_mask  # noqa: E402

failures = []
RECORD_KEYS = ["segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box"]
CSV_HEADER = ("id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
              "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h")


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def options_args(opts):
    out = []
    for k, v in opts.items():
        out += ["--" + k.replace("_", "-"), str(v)]
    return out


def compare_records(label, got, want, tol_pixels=20):
    """got / want: lists of dicts with mask (bool array), area, bbox, point, iou, stability, crop_box."""
    if len(got) != len(want):
        fail(f"{label}: {len(got)} masks, official {len(want)}")
        return
    exact = 0
    for i, (g, w) in enumerate(zip(got, want)):
        diff = int((g["mask"] != w["mask"]).sum())
        exact += diff == 0
        if diff > tol_pixels:
            fail(f"{label}: mask {i} differs in {diff} pixels")
        for key in ("bbox", "point", "crop_box"):
            if g[key] != w[key]:
                fail(f"{label}: mask {i} {key} {g[key]} != official {w[key]}")
        if abs(g["area"] - w["area"]) > tol_pixels:
            fail(f"{label}: mask {i} area {g['area']} != official {w['area']}")
        if abs(g["iou"] - w["iou"]) > 1e-4 or abs(g["stability"] - w["stability"]) > 1e-3:
            fail(f"{label}: mask {i} scores {g['iou']}, {g['stability']} != official {w['iou']}, {w['stability']}")
    print(f"{label}: {len(got)} masks, {exact} pixel-identical", flush=True)


def official(ref_dir):
    recs = json.load(open(os.path.join(ref_dir, "records.json")))
    out = []
    for r in recs:
        h, w = r["segmentation"]["size"]
        out.append({"mask": counts_to_mask(r["segmentation"]["counts"], h, w), "area": r["area"], "bbox": r["bbox"],
                    "point": r["point_coords"][0], "iou": r["predicted_iou"], "stability": r["stability_score"],
                    "crop_box": r["crop_box"]})
    return out


def parse_number(s):
    return float(s) if any(c in s for c in ".en") else int(s)


def read_folder(folder):
    """A `sam everything` result folder -> records (and checks its layout)."""
    text = open(os.path.join(folder, "metadata.csv")).read()
    lines = text.split("\n")
    if lines[0] != CSV_HEADER:
        fail(f"{folder}: metadata.csv header {lines[0]!r}")
    if text.endswith("\n"):
        fail(f"{folder}: metadata.csv ends with a newline (amg.py joins lines with '\\n')")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    out = []
    for i, row in enumerate(rows):
        v = [parse_number(x) for x in row]
        if v[0] != i:
            fail(f"{folder}: row {i} has id {v[0]}")
        png = np.array(Image.open(os.path.join(folder, f"{i}.png")))
        if png.dtype != np.uint8 or png.ndim != 2 or set(np.unique(png)) - {0, 255}:
            fail(f"{folder}/{i}.png: not a 0/255 grey image")
        out.append({"mask": png == 255, "area": v[1], "bbox": v[2:6], "point": v[6:8], "iou": v[8],
                    "stability": v[9], "crop_box": v[10:14]})
    names = sorted(os.listdir(folder))
    want = sorted([f"{i}.png" for i in range(len(rows))] + ["metadata.csv", "overlay.png"])
    if names != want:
        fail(f"{folder}: files {names[:5]}... expected {want[:5]}...")
    return out


def read_json(path):
    text = open(path).read()
    recs = json.loads(text)
    if json.dumps(recs) != text:
        fail(f"{path}: not byte-identical to json.dump of its own values")
    out = []
    for i, r in enumerate(recs):
        if list(r.keys()) != RECORD_KEYS or list(r["segmentation"].keys()) != ["size", "counts"]:
            fail(f"{path}: record {i} keys {list(r.keys())}")
            continue
        h, w = r["segmentation"]["size"]
        counts = coco_string_to_counts(r["segmentation"]["counts"])
        out.append({"mask": counts_to_mask(counts, h, w), "area": r["area"], "bbox": r["bbox"],
                    "point": r["point_coords"][0], "iou": r["predicted_iou"], "stability": r["stability_score"],
                    "crop_box": r["crop_box"]})
    return out, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    sam = os.path.join(args.bin, "sam")
    convert = os.path.join(args.bin, "sam-convert")
    work = tempfile.mkdtemp(prefix="sam_everything_test_")
    try:
        model = os.path.join(work, "tiny.safetensors")
        rc, _, err = run([convert, os.path.join(args.data, "tiny.pth"), model, "-q"])
        assert rc == 0, err
        base = [sam, "everything", "-m", model, "--threads", "2"]

        # Every reference: folder output and RLE output against the official records.
        for name in ("amg_tiny_all", "amg_tiny_nms", "amg_tiny_crops", "amg_tiny_small_regions", "amg_tiny_filters",
                     "amg_tiny_defaults"):
            ref = os.path.join(args.data, name)
            opts = json.load(open(os.path.join(ref, "options.json")))
            image = os.path.join(ref, "image.png")
            want = official(ref)
            out = os.path.join(work, name)
            rc, stdout, err = run(base + ["--input", image, "--output", out] + options_args(opts))
            if rc != 0:
                fail(f"{name}: rc {rc}: {err}")
                continue
            compare_records(name + " (png)", read_folder(os.path.join(out, "image")), want)
            ov = Image.open(os.path.join(out, "image", "overlay.png"))
            if ov.size != Image.open(image).size or ov.mode != "RGB":
                fail(f"{name}: overlay {ov.size} {ov.mode}")
            # The metadata text: same header and columns; the rows equal where the floats do.
            ours = open(os.path.join(out, "image", "metadata.csv")).read().split("\n")
            theirs = open(os.path.join(ref, "metadata.csv")).read().split("\n")
            same = sum(a == b for a, b in zip(ours, theirs))
            # Outside area, predicted_iou and stability_score (float rounding) the text is amg.py's.
            for a, b in zip(ours, theirs):
                fa, fb = a.split(","), b.split(",")
                if [x for i, x in enumerate(fa) if i not in (1, 8, 9)] != \
                        [x for i, x in enumerate(fb) if i not in (1, 8, 9)]:
                    fail(f"{name}: metadata.csv line {a!r} != amg.py's {b!r}")
                    break
            print(f"{name}: metadata.csv {same}/{len(theirs)} lines byte-identical to amg.py's", flush=True)
            rc, _, err = run(base + ["--input", image, "--output", out, "--convert-to-rle"] + options_args(opts))
            if rc != 0:
                fail(f"{name} rle: rc {rc}: {err}")
                continue
            got, text = read_json(os.path.join(out, "image.json"))
            compare_records(name + " (coco rle)", got, want)
            if not os.path.exists(os.path.join(out, "image_overlay.png")):
                fail(f"{name}: no image_overlay.png")
            if name == "amg_tiny_all":
                # points_per_batch only changes how prompts are grouped, not the output.
                out2 = os.path.join(work, "batch5")
                rc, _, err = run(base + ["--input", image, "--output", out2, "--convert-to-rle",
                                         "--points-per-batch", "5"] + options_args(opts))
                if rc != 0 or open(os.path.join(out2, "image.json")).read() != text:
                    fail(f"--points-per-batch 5 changes the output (rc {rc}: {err})")

        # A folder input: two images and a file that is not one.
        src = os.path.join(work, "inputs")
        os.makedirs(src)
        img = os.path.join(args.data, "amg_tiny_all", "image.png")
        shutil.copy(img, os.path.join(src, "a.png"))
        Image.open(img).crop((0, 0, 120, 90)).save(os.path.join(src, "b.jpg"))
        open(os.path.join(src, "notes.txt"), "w").write("not an image\n")
        os.makedirs(os.path.join(src, "subfolder"))
        out = os.path.join(work, "dir_out")
        small = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0"]
        rc, stdout, err = run(base + ["--input", src, "--output", out] + small)
        if rc != 0:
            fail(f"folder input: rc {rc}: {err}")
        if sorted(os.listdir(out)) != ["a", "b"]:
            fail(f"folder input: outputs {sorted(os.listdir(out))}")
        if "warning" not in err or "notes.txt" not in err or len(err.strip().splitlines()) != 1:
            fail(f"folder input: expected one warning for notes.txt, got {err!r}")
        if "\r" in err:
            fail("progress bar drawn although stderr is not a terminal")
        # Existing results are refused (nothing touched) unless --overwrite.
        before = sorted(os.listdir(os.path.join(out, "a")))
        rc, _, err = run(base + ["--input", src, "--output", out] + small)
        if rc != 1 or "--overwrite" not in err or len(err.strip().splitlines()) != 1:
            fail(f"existing output: rc {rc}, stderr {err!r}")
        rc, _, err = run(base + ["--input", src, "--output", out, "--overwrite", "--points-per-side", "2"])
        if rc != 0 or sorted(os.listdir(out)) != ["a", "b"]:
            fail(f"--overwrite: rc {rc}: {err}")
        after = sorted(os.listdir(os.path.join(out, "a")))
        if before == after and len(before) > 3:
            fail("--overwrite did not replace the old result")
        if any(n.startswith(".sam-staging") for n in os.listdir(out)):
            fail("staging folder left behind")

        # Bad input: one error line, exit code 1 (or 2 for usage), no output.
        bad_out = os.path.join(work, "bad_out")
        for extra, code in ((["--input", os.path.join(src, "notes.txt")], 1),
                            (["--input", os.path.join(work, "missing.png")], 1),
                            (["--input", img, "--points-per-side", "0"], 2),
                            (["--input", img, "--crop-overlap-ratio", "1.5"], 2),
                            (["--input", img, "--points-per-batch", "x"], 2)):
            rc, _, err = run(base + ["--output", bad_out] + extra)
            lines = err.strip().splitlines()
            if rc != code or len(lines) != 1 or not lines[0].startswith("sam: error:"):
                fail(f"{extra}: rc {rc} (want {code}), stderr {err!r}")
            if os.path.exists(bad_out) and os.listdir(bad_out):
                fail(f"{extra}: left {os.listdir(bad_out)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all sam everything CLI tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
