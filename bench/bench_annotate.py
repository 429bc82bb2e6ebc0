#!/usr/bin/env python3
"""Throughput of `sam annotate` beside Ultralytics' SAM predictor (PyTorch) on the same boxes.

    /usr/bin/python3 bench/bench_annotate.py --bin build/release/bin --data build/release/testdata \
        --pyultra build/release/pyultra [--images 20] [--boxes 10] [--threads 2] [--variant vit_b]

The issue's setting: 20 images (640x480) x 10 boxes, vit_b, 2 threads, f32. The weights are
the seeded random checkpoint of the reference fixture (ctest -R reference_data); speed does
not depend on the values. Both sides read the same YOLO label files and write YOLO-seg labels:
  * ours: one `sam annotate --threads N --precision f32` process (model load included);
  * peer: Ultralytics SAM(".../sam_b.pt") (our random vit_b .pth under the name it maps to
    build_sam_vit_b), torch.set_num_threads(N), per image model(image, bboxes=xyxy) and the
    label lines of auto_annotate (masks.xyn); model building is reported apart, not timed.
Ultralytics is installed into --pyultra by tests/annotate/setup_ultralytics.sh (pip
--no-deps; imports with the Debian torch). Prints images per minute for each and one JSON line.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def make_data(root, n_images, n_boxes, seed=5):
    rng = np.random.default_rng(seed)
    images, labels = os.path.join(root, "images"), os.path.join(root, "labels")
    os.makedirs(images)
    os.makedirs(labels)
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n_images):
        img = np.stack([(xx * rng.uniform(0.1, 0.5) + yy * rng.uniform(0.1, 0.5)) % 256 for _ in range(3)], -1)
        for _ in range(6):
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(20, 120)
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(images, f"im{i:03d}.jpg"), quality=92)
        lines = []
        for _ in range(n_boxes):
            bw, bh = rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.6)
            cx, cy = rng.uniform(bw / 2, 1 - bw / 2), rng.uniform(bh / 2, 1 - bh / 2)
            lines.append(f"{int(rng.integers(0, 80))} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f} {rng.uniform(0.3, 1):.4f}")
        open(os.path.join(labels, f"im{i:03d}.txt"), "w").write("\n".join(lines) + "\n")
    return images, labels


def run_ours(args, model, images, labels, out):
    t0 = time.perf_counter()
    p = subprocess.run([os.path.join(args.bin, "sam"), "annotate", "-m", model, "--images", images, "--boxes", labels,
                        "-o", out, "--threads", str(args.threads), "--precision", "f32"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"sam annotate failed: {p.stderr}")
    return wall


def run_ultralytics(args, images, labels, out, work):
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(work, "yolo_config"))
    sys.path.insert(0, args.pyultra)
    import torch
    torch.set_num_threads(args.threads)
    from ultralytics import SAM
    ckpt = os.path.join(work, "sam_b.pt")
    os.symlink(os.path.abspath(os.path.join(args.data, args.variant + ".pth")), ckpt)
    t0 = time.perf_counter()
    model = SAM(ckpt)
    build_s = time.perf_counter() - t0
    os.makedirs(out)
    names = sorted(os.listdir(images))
    t0 = time.perf_counter()
    for name in names:
        stem = os.path.splitext(name)[0]
        path = os.path.join(images, name)
        w, h = Image.open(path).size
        rows = [l.split() for l in open(os.path.join(labels, stem + ".txt")) if l.strip()]
        cls = [int(r[0]) for r in rows]
        b = np.array([[float(v) for v in r[1:5]] for r in rows])
        xyxy = np.stack([(b[:, 0] - b[:, 2] / 2) * w, (b[:, 1] - b[:, 3] / 2) * h,
                         (b[:, 0] + b[:, 2] / 2) * w, (b[:, 1] + b[:, 3] / 2) * h], 1)
        res = model(path, bboxes=xyxy.tolist(), verbose=False, save=False, device="cpu")
        segments = res[0].masks.xyn if res[0].masks is not None else []
        with open(os.path.join(out, stem + ".txt"), "w") as f:
            for i, s in enumerate(segments):
                if len(s) >= 3:
                    f.write(f"{cls[i]} " + " ".join(map(str, s.reshape(-1).tolist())) + "\n")
    return time.perf_counter() - t0, build_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--pyultra", required=True)
    ap.add_argument("--variant", default="vit_b")
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--boxes", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-peer", action="store_true")
    args = ap.parse_args()
    rc = subprocess.run([os.path.join(HERE, "..", "tests", "annotate", "setup_ultralytics.sh"), args.pyultra]).returncode
    if rc not in (0, 77):
        sys.exit(rc)
    work = tempfile.mkdtemp(prefix="bench_annotate_")
    try:
        images, labels = make_data(work, args.images, args.boxes)
        model = os.path.join(work, args.variant + ".safetensors")
        subprocess.run([os.path.join(args.bin, "sam-convert"), os.path.join(args.data, args.variant + ".pth"), model,
                        "-q"], check=True)
        ours_s = run_ours(args, model, images, labels, os.path.join(work, "ours"))
        result = {"bench": "annotate", "variant": args.variant, "images": args.images, "boxes": args.boxes,
                  "threads": args.threads, "precision": "f32",
                  "sam_annotate_s": round(ours_s, 2), "sam_annotate_images_per_min": round(60 * args.images / ours_s, 2)}
        print(f"sam annotate: {args.images} images x {args.boxes} boxes in {ours_s:.1f} s (model load included): "
              f"{60 * args.images / ours_s:.1f} images/min")
        if not args.skip_peer and rc == 0:
            peer_s, build_s = run_ultralytics(args, images, labels, os.path.join(work, "ultralytics"), work)
            result.update({"ultralytics_s": round(peer_s, 2), "ultralytics_build_s": round(build_s, 2),
                           "ultralytics_images_per_min": round(60 * args.images / peer_s, 2)})
            print(f"Ultralytics SAM (PyTorch): {peer_s:.1f} s (+{build_s:.1f} s model build): "
                  f"{60 * args.images / peer_s:.1f} images/min")
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
