#!/usr/bin/env python3
"""`sam annotate` end to end (ctest sam_annotate_cli_tiny / sam_annotate_cli_vit_b).

* YOLO-seg against the reference (ref_auto_annotate.py: official SamPredictor + Ultralytics'
  own polygon code): the same files, the same number of lines per file (polygons per box),
  the same class per line, each polygon rasterised with IoU >= 0.98 against the reference's.
* COCO (RLE and polygon), LabelMe and PNG outputs agree: RLE decodes to the PNG mask; the
  polygons are OpenCV's external contours of the PNG mask.
* Box readers: a COCO detections list and a COCO dataset JSON give the same labels as the
  YOLO folder; --conf and --classes filter.
* Resume: a rerun skips every image and changes nothing; --shard splits; a run killed
  mid-way and rerun gives the same files.
* Bad inputs: one line "sam: error: ...", exit codes; a malformed label line names file:line.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import signal
import tempfile
import time

import cv2
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
from coco_rle import coco_string_to_counts, counts_to_mask  # noqa: E402
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg)


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def random_image(w, h, seed):
    from dump_reference import random_image as official_style_image  # noqa: E402
    return official_style_image(w, h, seed)


def make_dataset(root, sizes, boxes_per_image, seed):
    """Images + YOLO labels; the last image has no label file, one label file is empty."""
    rng = np.random.default_rng(seed)
    images, labels = os.path.join(root, "images"), os.path.join(root, "labels")
    os.makedirs(images)
    os.makedirs(labels)
    pixel_boxes = {}
    for i, (w, h) in enumerate(sizes):
        stem = f"img{i:02d}"
        Image.fromarray(random_image(w, h, seed + i)).save(os.path.join(images, stem + ".png"))
        if i == len(sizes) - 1:
            continue  # no label file: no output
        lines, boxes = [], []
        n = 0 if (i == 1 and len(sizes) > 3) else boxes_per_image
        if i == 2 and len(sizes) > 3:
            n = 70  # more than one decoder batch (kMaxBatch 64)
        for k in range(n):
            bw, bh = rng.uniform(0.1, 0.7), rng.uniform(0.1, 0.7)
            cx, cy = rng.uniform(bw / 2, 1 - bw / 2), rng.uniform(bh / 2, 1 - bh / 2)
            c, conf = int(rng.integers(0, 4)), float(rng.uniform(0.05, 1.0))
            lines.append(f"{c} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f} {conf:.4f}")
            boxes.append((c, conf, float(f"{cx:.6f}"), float(f"{cy:.6f}"), float(f"{bw:.6f}"), float(f"{bh:.6f}")))
        with open(os.path.join(labels, stem + ".txt"), "w") as f:
            f.write("\n".join(lines) + ("\n" if lines else ""))
        pixel_boxes[stem] = (w, h, boxes)
    return images, labels, pixel_boxes


def polygon_mask(line, w, h):
    v = line.split()
    pts = np.array([float(x) for x in v[1:]], dtype=np.float64).reshape(-1, 2) * [w, h]
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return int(v[0]), m


def iou(a, b):
    u = np.logical_or(a, b).sum()
    return 1.0 if u == 0 else np.logical_and(a, b).sum() / u


def compare_yolo(name, ours_dir, ref_dir, sizes_by_stem):
    ref_files = sorted(f for f in os.listdir(ref_dir) if f.endswith(".txt"))
    our_files = sorted(f for f in os.listdir(ours_dir) if f.endswith(".txt"))
    if ref_files != our_files:
        fail(f"{name}: label files {our_files} != reference {ref_files}")
        return
    lines_total = exact = 0
    worst = 1.0
    for f in ref_files:
        w, h = sizes_by_stem[f[:-4]]
        ref = open(os.path.join(ref_dir, f)).read().splitlines()
        ours = open(os.path.join(ours_dir, f)).read().splitlines()
        if len(ref) != len(ours):
            fail(f"{name}: {f}: {len(ours)} polygons, reference {len(ref)}")
            continue
        for i, (a, b) in enumerate(zip(ours, ref)):
            lines_total += 1
            exact += a == b
            ca, ma = polygon_mask(a, w, h)
            cb, mb = polygon_mask(b, w, h)
            if ca != cb:
                fail(f"{name}: {f} line {i + 1}: class {ca}, reference {cb}")
            j = iou(ma, mb)
            worst = min(worst, j)
            if j < 0.98:
                fail(f"{name}: {f} line {i + 1}: polygon IoU {j:.4f} < 0.98")
    print(f"{name}: {len(ref_files)} files, {lines_total} polygons, {exact} identical lines, worst IoU {worst:.4f}")


def check_formats(name, out, out_poly, images):
    coco = json.load(open(os.path.join(out, "instances.json")))
    coco_p = json.load(open(os.path.join(out_poly, "instances.json")))
    by_image = {im["id"]: im for im in coco["images"]}
    if [a["id"] for a in coco["annotations"]] != list(range(1, len(coco["annotations"]) + 1)):
        fail(f"{name}: COCO annotation ids not 1..N")
    masks_seen = 0
    polys_p = {(a["image_id"], tuple(a["prompt_box"])): a for a in coco_p["annotations"]}
    per_image_k = {}
    for a in coco["annotations"]:
        im = by_image[a["image_id"]]
        stem = os.path.splitext(os.path.basename(im["file_name"]))[0]
        k = per_image_k.get(stem, 0)
        per_image_k[stem] = k + 1
        png = os.path.join(out, f"{stem}_{k}.png")
        if not os.path.exists(png):
            fail(f"{name}: {png} missing")
            continue
        mask = (np.array(Image.open(png)) > 0).astype(np.uint8)
        rle = counts_to_mask(coco_string_to_counts(a["segmentation"]["counts"]), im["height"], im["width"])
        if not np.array_equal(rle, mask.astype(bool)):
            fail(f"{name}: COCO RLE of {stem} #{k} differs from {png}")
        if a["area"] != int(mask.sum()):
            fail(f"{name}: COCO area {a['area']} != {int(mask.sum())}")
        cs = cv2.findContours(mask.copy(), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        want = [c.reshape(-1).tolist() for c in cs if len(c) >= 3]
        p = polys_p.get((a["image_id"], tuple(a["prompt_box"])))
        if want and (p is None or p["segmentation"] != want):
            fail(f"{name}: COCO polygons of {stem} #{k} are not the mask's external contours")
        masks_seen += 1
    # LabelMe: the shapes are the contours of the PNG masks.
    for f in sorted(os.listdir(out)):
        if not f.endswith(".json") or f == "instances.json":
            continue
        doc = json.load(open(os.path.join(out, f)))
        stem = f[:-5]
        if doc["imageWidth"] != Image.open(os.path.join(images, stem + ".png")).size[0]:
            fail(f"{name}: {f}: imageWidth")
        for s in doc["shapes"]:
            mask = (np.array(Image.open(os.path.join(out, f"{stem}_{s['group_id']}.png"))) > 0).astype(np.uint8)
            cs = [c.reshape(-1, 2).tolist() for c in cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                                                      cv2.CHAIN_APPROX_SIMPLE)[0]]
            if s["points"] not in cs:
                fail(f"{name}: {f}: a LabelMe shape is not an external contour of its mask")
    print(f"{name}: COCO/PNG/LabelMe consistent over {masks_seen} masks")


def coco_inputs(root, pixel_boxes):
    """The YOLO boxes as a COCO detections list and as a COCO dataset JSON (pixels)."""
    dets, images, anns = [], [], []
    for i, (stem, (w, h, boxes)) in enumerate(sorted(pixel_boxes.items())):
        images.append({"id": i + 1, "file_name": stem + ".png", "width": w, "height": h})
        for c, conf, cx, cy, bw, bh in boxes:
            x0, y0 = (cx - bw / 2) * w, (cy - bh / 2) * h
            bb = [x0, y0, (cx + bw / 2) * w - x0, (cy + bh / 2) * h - y0]
            dets.append({"image_id": stem, "category_id": c, "bbox": bb, "score": conf})
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c, "bbox": bb, "score": conf})
    det_path, ds_path = os.path.join(root, "dets.json"), os.path.join(root, "dataset.json")
    json.dump(dets, open(det_path, "w"))
    json.dump({"images": images, "annotations": anns,
               "categories": [{"id": c, "name": f"class{c}"} for c in range(4)]}, open(ds_path, "w"))
    return det_path, ds_path


def check_bad_inputs(sam, model, images, labels, work):
    def expect(cmd, rc_want, text, label):
        rc, out, err = run(cmd)
        lines = [l for l in err.splitlines() if l.startswith("sam: error:")]
        if rc != rc_want or (rc_want in (1, 2) and len(lines) != 1) or text not in err:
            fail(f"bad input {label}: rc {rc} (want {rc_want}), stderr {err!r}")
    base = [sam, "annotate", "-m", model, "--threads", "2"]
    expect(base + ["--images", os.path.join(work, "nope"), "--boxes", labels, "-o", os.path.join(work, "b1")], 1,
           "nope", "missing images")
    expect(base + ["--images", images, "--boxes", os.path.join(work, "nolabels"), "-o", os.path.join(work, "b2")],
           1, "nolabels", "missing boxes")
    expect(base + ["--images", images, "--boxes", labels, "-o", os.path.join(work, "b3"), "--format", "voc"], 2,
           "voc", "unknown format")
    bad_json = os.path.join(work, "bad.json")
    open(bad_json, "w").write("{not json")
    expect(base + ["--images", images, "--boxes", bad_json, "-o", os.path.join(work, "b4")], 1, "bad.json",
           "malformed JSON")
    bad_labels = os.path.join(work, "bad_labels")
    shutil.copytree(labels, bad_labels)
    first = sorted(os.listdir(bad_labels))[0]
    with open(os.path.join(bad_labels, first), "a") as f:
        f.write("0 0.5 0.5 zero 0.2\n")
    n = len(open(os.path.join(bad_labels, first)).read().splitlines())
    rc, out, err = run(base + ["--images", images, "--boxes", bad_labels, "-o", os.path.join(work, "b5")])
    if rc != 3 or f"{first}:{n}:" not in err:
        fail(f"malformed label line: rc {rc} (want 3), stderr {err!r}")
    outside = os.path.join(work, "outside_labels")
    os.makedirs(outside)
    open(os.path.join(outside, first), "w").write("1 1.4 0.5 0.3 0.3\n")
    rc, out, err = run(base + ["--images", images, "--boxes", outside, "-o", os.path.join(work, "b6")])
    if rc != 3 or "outside" not in err or f"{first}:1:" not in err:
        fail(f"box outside the image: rc {rc} (want 3), stderr {err!r}")
    single = os.path.join(images, first[:-4] + ".png")
    rc, out, err = run(base + ["--images", single, "--boxes", outside, "-o", os.path.join(work, "b7")])
    if rc != 1 or len(err.strip().splitlines()) != 1 or "outside" not in err:
        fail(f"box outside, one image: rc {rc} (want 1), stderr {err!r}")
    print("bad inputs checked")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--pyref", required=True)
    ap.add_argument("--pyultra", required=True)
    ap.add_argument("--variant", default="tiny")
    args = ap.parse_args()
    sys.path.insert(0, args.pyref)  # dump_reference's random_image imports segment_anything
    rc = subprocess.run([os.path.join(HERE, "setup_ultralytics.sh"), args.pyultra]).returncode
    if rc == 77:
        print("skipped: Ultralytics could not be installed (offline)")
        return 77
    if rc != 0:
        return 1
    sam, convert = os.path.join(args.bin, "sam"), os.path.join(args.bin, "sam-convert")
    work = tempfile.mkdtemp(prefix=f"sam_annotate_test_{args.variant}_")
    try:
        model = os.path.join(work, args.variant + ".safetensors")
        rc, _, err = run([convert, os.path.join(args.data, args.variant + ".pth"), model, "-q"])
        assert rc == 0, err
        if args.variant == "tiny":
            sizes, per = [(320, 213), (97, 161), (256, 256), (400, 300), (64, 48)], 6
        else:
            sizes, per = [(320, 240), (200, 300), (64, 64)], 4
        images, labels, pixel_boxes = make_dataset(work, sizes, per, seed=11)
        sizes_by_stem = {f"img{i:02d}": s for i, s in enumerate(sizes)}
        ref = os.path.join(work, "ref")
        env = dict(os.environ, PYTHONPATH=args.pyref)
        p = subprocess.run([sys.executable, os.path.join(HERE, "ref_auto_annotate.py"), "--pth",
                            os.path.join(args.data, args.variant + ".pth"), "--variant", args.variant, "--images",
                            images, "--labels", labels, "--out", ref, "--ultralytics", args.pyultra], env=env)
        assert p.returncode == 0
        base = [sam, "annotate", "-m", model, "--threads", "2"]
        out = os.path.join(work, "out")
        rc, stdout, err = run(base + ["--images", images, "--boxes", labels, "-o", out,
                                      "--format", "yolo-seg,coco,labelme,png"])
        if rc != 0:
            fail(f"sam annotate: rc {rc}: {err}")
            return 1
        compare_yolo(f"{args.variant} yolo-seg", out, ref, sizes_by_stem)
        if args.variant != "tiny":
            return 1 if FAILURES else 0
        out_poly = os.path.join(work, "out_poly")
        rc, _, err = run(base + ["--images", images, "--boxes", labels, "-o", out_poly, "--format", "coco",
                                 "--coco-segmentation", "polygon"])
        if rc != 0:
            fail(f"polygon run: rc {rc}: {err}")
        check_formats("tiny formats", out, out_poly, images)
        # Resume: everything skipped, nothing changed.
        before = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out) if f.endswith(".txt")}
        rc, stdout, err = run(base + ["--images", images, "--boxes", labels, "-o", out,
                                      "--format", "yolo-seg,coco,labelme,png"])
        after = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out) if f.endswith(".txt")}
        if rc != 0 or "0 done" not in stdout or before != after:
            fail(f"rerun: rc {rc}, stdout {stdout!r}")
        # Default output folder beside the images, as auto_annotate.
        rc, _, err = run(base + ["--images", images, "--boxes", labels])
        compare_yolo("tiny default output folder", os.path.join(work, "images_auto_annotate_labels"), ref,
                     sizes_by_stem)
        # Shards: two processes' outputs together equal the single run.
        sharded = os.path.join(work, "sharded")
        for i in range(2):
            rc, _, err = run(base + ["--images", images, "--boxes", labels, "-o", sharded, "--shard", f"{i}/2"])
            if rc != 0:
                fail(f"shard {i}/2: rc {rc}: {err}")
        if sorted(f for f in os.listdir(sharded) if f.endswith(".txt")) != sorted(before):
            fail("shards: files differ from the single run")
        for f in before:
            if open(os.path.join(sharded, f), "rb").read() != before[f]:
                fail(f"shards: {f} differs from the single run")
        # Killed mid-way (SIGTERM once the first label file is in place), then rerun: the same files.
        killed = os.path.join(work, "killed")
        proc = subprocess.Popen(base + ["--images", images, "--boxes", labels, "-o", killed, "--threads", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if os.path.isdir(killed) and any(f.endswith(".txt") for f in os.listdir(killed)):
                proc.send_signal(signal.SIGTERM)
                break
            time.sleep(0.01)
        proc.communicate()
        rc, stdout, err = run(base + ["--images", images, "--boxes", labels, "-o", killed])
        got = {f: open(os.path.join(killed, f), "rb").read() for f in os.listdir(killed) if f.endswith(".txt")}
        if rc != 0 or got != before or any(f.startswith(".sam-staging") for f in os.listdir(killed)):
            fail(f"killed and rerun: rc {rc}, files {sorted(got)} vs {sorted(before)}: {err}")
        # COCO box inputs: the same labels (within the IoU bound) as the YOLO folder.
        det_path, ds_path = coco_inputs(work, pixel_boxes)
        for label, path in (("COCO detections list", det_path), ("COCO dataset", ds_path)):
            o = os.path.join(work, label.replace(" ", "_"))
            rc, _, err = run(base + ["--images", images, "--boxes", path, "-o", o])
            if rc != 0:
                fail(f"{label}: rc {rc}: {err}")
                continue
            compare_yolo(f"tiny boxes from {label}", o, ref, sizes_by_stem)
        # Filters.
        o = os.path.join(work, "filtered")
        rc, _, err = run(base + ["--images", images, "--boxes", labels, "-o", o, "--classes", "1,2", "--conf", "0.5"])
        for stem, (w, h, boxes) in pixel_boxes.items():
            want = sum(1 for b in boxes if b[0] in (1, 2) and b[1] >= 0.5)
            path = os.path.join(o, stem + ".txt")
            got = len(open(path).read().splitlines()) if os.path.exists(path) else 0
            if got > want or (want == 0 and os.path.exists(path) and boxes == []):
                fail(f"filters: {stem}: {got} lines, at most {want} boxes kept")
        check_bad_inputs(sam, model, images, labels, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("FAILED" if FAILURES else "all passed", len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
