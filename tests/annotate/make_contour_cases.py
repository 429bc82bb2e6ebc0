#!/usr/bin/env python3
"""Masks and what OpenCV (and Ultralytics) make of them, for tests/annotate/test_contours.cpp.

Writes OUT/cases.txt: random masks (noise at several densities, smoothed blobs) and
adversarial ones (holes, regions inside holes, touching and diagonally touching
regions, one-pixel lines, single pixels, rings with one-pixel walls, regions on the
image border, full and empty masks), each with
  - cv2.findContours(mask, RETR_EXTERNAL, CHAIN_APPROX_SIMPLE): the contours, in order;
  - Ultralytics' masks2segments(strategy="all") polygon, when --ultralytics names a
    folder holding the ultralytics package (the merged contours).
Format, per case:
  case NAME H W
  H lines of W characters '0' / '1'
  contours K
  K lines: N x0 y0 x1 y1 ...
  merged N x0 y0 ... (or "merged -" without Ultralytics)
"""
import argparse
import os
import sys

import cv2
import numpy as np


def adversarial_masks():
    m = {}
    m["empty"] = np.zeros((7, 9), np.uint8)
    m["full"] = np.ones((7, 9), np.uint8)
    m["one_by_one_set"] = np.ones((1, 1), np.uint8)
    m["one_by_one_clear"] = np.zeros((1, 1), np.uint8)
    m["single_row"] = np.array([[1, 1, 0, 1, 0, 0, 1, 1, 1]], np.uint8)
    m["single_col"] = np.array([[1, 1, 0, 1, 0, 0, 1, 1, 1]], np.uint8).T.copy()
    a = np.zeros((9, 11), np.uint8)
    a[1, 1] = a[1, 3] = a[4, 5] = a[8, 10] = a[0, 0] = a[8, 0] = a[0, 10] = 1
    m["single_pixels"] = a
    a = np.zeros((8, 12), np.uint8)
    a[2, 1:11] = 1
    a[5, 3] = 1
    a[4:8, 6] = 1
    m["one_pixel_lines"] = a
    a = np.zeros((10, 10), np.uint8)
    for i in range(10):
        a[i, i] = 1
        a[i, 9 - i] = 1
    m["diagonal_cross"] = a
    a = np.zeros((6, 6), np.uint8)
    a[1, 1] = a[2, 2] = a[3, 3] = 1
    a[1, 4] = a[2, 4] = 1
    m["diagonal_touching"] = a
    a = np.zeros((8, 8), np.uint8)
    a[1:4, 1:4] = 1
    a[4:7, 4:7] = 1
    m["blocks_touching_at_corner"] = a
    a = np.zeros((8, 10), np.uint8)
    a[1:7, 1:5] = 1
    a[1:7, 5:9] = 1
    a[3, 4:6] = 0
    m["touching_blobs"] = a
    a = np.zeros((12, 12), np.uint8)
    a[1:11, 1:11] = 1
    a[3:9, 3:9] = 0
    a[5:7, 5:7] = 1
    m["blob_inside_hole"] = a
    a = np.zeros((7, 7), np.uint8)
    a[1:6, 1:6] = 1
    a[2:5, 2:5] = 0
    a[3, 3] = 1
    m["ring_one_pixel_wall_with_dot"] = a
    a = np.ones((9, 9), np.uint8)
    a[1:8, 1:8] = 0
    a[2:7, 2:7] = 1
    a[3:6, 3:6] = 0
    a[4, 4] = 1
    m["nested_rings_at_border"] = a
    a = np.zeros((9, 9), np.uint8)
    a[0:9, 0] = 1
    a[0, 0:9] = 1
    a[8, 0:9] = 1
    a[0:9, 8] = 1
    a[4, 4] = 1
    m["frame_on_image_border"] = a
    a = np.indices((9, 10)).sum(0) % 2
    m["checkerboard"] = a.astype(np.uint8)
    a = np.zeros((11, 11), np.uint8)  # a square spiral
    r0, c0, r1, c1 = 0, 0, 10, 10
    while r0 <= r1 and c0 <= c1:
        a[r0, c0:c1 + 1] = 1
        a[r0:r1 + 1, c1] = 1
        a[r1, c0:c1 + 1] = 1
        a[r0 + 2:r1 + 1, c0] = 1
        r0, c0, r1, c1 = r0 + 2, c0 + 2, r1 - 2, c1 - 2
    m["spiral"] = a
    a = np.zeros((10, 10), np.uint8)
    a[1:9, 1:9] = 1
    a[2:8:2, 2:8:2] = 0
    m["many_one_pixel_holes"] = a
    a = np.zeros((9, 13), np.uint8)
    a[1:8, 1:12] = 1
    a[2:7, 2:6] = 0
    a[2:7, 7:11] = 0
    a[4, 3] = a[4, 8] = 1
    a[3:6, 9] = 1
    m["two_holes_with_islands"] = a
    a = np.zeros((6, 9), np.uint8)
    a[0, :] = 1
    a[5, :] = 1
    a[:, 0] = 1
    m["lines_on_border"] = a
    a = np.zeros((7, 7), np.uint8)
    a[3, 1:6] = 1
    a[1:6, 3] = 1
    m["plus"] = a
    a = np.zeros((8, 8), np.uint8)
    a[1, 6] = a[2, 5] = a[3, 4] = a[4, 3] = a[5, 2] = a[6, 1] = 1
    a[2, 2] = a[3, 3] = 1
    m["anti_diagonal_with_touching"] = a
    a = np.zeros((9, 9), np.uint8)
    a[1:8, 1:8] = 1
    a[2:7, 2:7] = 0
    a[3:6, 3:6] = 1
    a[4, 4] = 0
    m["island_with_hole_in_hole"] = a
    return m


def random_masks(rng):
    out = {}
    for i in range(160):
        h = int(rng.integers(1, 41))
        w = int(rng.integers(1, 41))
        p = float(rng.choice([0.05, 0.2, 0.5, 0.8, 0.95]))
        out[f"noise_{i}_p{p}"] = (rng.random((h, w)) < p).astype(np.uint8)
    for i in range(80):  # smooth blobs: blurred noise thresholded, with holes and touching parts
        h = int(rng.integers(8, 97))
        w = int(rng.integers(8, 97))
        noise = rng.random((h, w)).astype(np.float32)
        k = int(rng.choice([3, 5, 9]))
        blur = cv2.GaussianBlur(noise, (k, k), 0)
        t = float(rng.uniform(0.45, 0.55))
        out[f"blobs_{i}_k{k}"] = (blur > t).astype(np.uint8)
    for i in range(20):  # SAM-like masks: a few large filled ellipses with holes, at the border too
        h = int(rng.integers(32, 129))
        w = int(rng.integers(32, 129))
        a = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(1, 5))):
            c = (int(rng.integers(-10, w + 10)), int(rng.integers(-10, h + 10)))
            ax = (int(rng.integers(3, w // 2)), int(rng.integers(3, h // 2)))
            cv2.ellipse(a, c, ax, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        for _ in range(int(rng.integers(0, 4))):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(a, c, int(rng.integers(1, 8)), 0, -1)
        out[f"shapes_{i}"] = a
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--ultralytics", default="", help="folder holding the ultralytics package")
    ap.add_argument("--seed", type=int, default=20261204)
    args = ap.parse_args()
    masks2segments = None
    if args.ultralytics:
        os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(args.out, "yolo_config"))
        sys.path.insert(0, args.ultralytics)
        from ultralytics.utils.ops import masks2segments  # noqa: E402
    rng = np.random.default_rng(args.seed)
    cases = adversarial_masks()
    cases.update(random_masks(rng))
    os.makedirs(args.out, exist_ok=True)
    lines = []
    for name, mask in cases.items():
        h, w = mask.shape
        lines.append(f"case {name} {h} {w}")
        lines.extend("".join("1" if v else "0" for v in row) for row in mask)
        contours = cv2.findContours(mask.copy(), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        lines.append(f"contours {len(contours)}")
        for c in contours:
            pts = c.reshape(-1, 2)
            lines.append(" ".join([str(len(pts))] + [str(int(v)) for v in pts.reshape(-1)]))
        if masks2segments is not None:
            seg = masks2segments(mask[None].astype(np.uint8))[0].astype(np.int64)
            lines.append(" ".join(["merged", str(len(seg))] + [str(int(v)) for v in seg.reshape(-1)]))
        else:
            lines.append("merged -")
    with open(os.path.join(args.out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # Python's str() of the float32 coordinates auto_annotate writes: x / w in float32.
    flines = []
    for _ in range(3000):
        w = int(rng.integers(1, 5000))
        x = int(rng.integers(0, w + 1))
        v = np.array([x], np.float32)
        v /= w
        flines.append(f"{x} {w} {v.tolist()[0]}")
    for v in (1e-05, 1.5e-07, 0.0001, 123456.0, 1e16, 0.1, 2.5, 1e22, 3.0e-300):
        flines.append(f"double {v.hex()} {v}")
    with open(os.path.join(args.out, "floats.txt"), "w") as f:
        f.write("\n".join(flines) + "\n")
    print(f"{len(cases)} masks -> {args.out}/cases.txt (merged: {'yes' if masks2segments else 'no'})")


if __name__ == "__main__":
    main()
