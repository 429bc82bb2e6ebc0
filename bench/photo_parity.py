#!/usr/bin/env python3
"""Fidelity on a photo file, end to end: `sam segment` (our decoder, preprocessing, encoder,
decoder) against the official SamPredictor fed the pixels the official notebooks read
(PIL's Image.open(path).convert("RGB")), and, where OpenCV is installed, those amg.py reads
(cv2.imread, BGR -> RGB), on the same weights and the same point prompt.

    PYTHONPATH=PYREF /usr/bin/python3 bench/photo_parity.py --bin build/release/bin \
        --pth vit_b.pth --model vit_b.safetensors --variant vit_b --image truck.jpg [--threads 2]

Prints the relative L2 error of the image embedding [1,256,64,64] and of the low-res logits
[1,3,256,256], the IoU max abs error and the worst mask IoU, for each reader.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from sam_configs import build_model  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402


def rel_l2(a, b):
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--pth", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--variant", default="vit_b")
    ap.add_argument("--image", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    readers = {"PIL": lambda p: np.asarray(Image.open(p).convert("RGB"))}
    try:
        import cv2
        readers["cv2"] = lambda p: cv2.imread(p, cv2.IMREAD_COLOR)[..., ::-1].copy()
    except ImportError:
        print("OpenCV not installed: PIL only")
    w, h = Image.open(args.image).size
    point = (int(0.45 * w), int(0.55 * h))

    with tempfile.TemporaryDirectory() as tmp:
        emb_path, logits_path, out = (os.path.join(tmp, n) for n in ("emb.npy", "logits.npy", "out"))
        subprocess.run([os.path.join(args.bin, "sam"), "segment", "-m", args.model, "-i", args.image,
                        "-p", f"{point[0]},{point[1]}", "-o", out, "--save-embedding", emb_path,
                        "--save-logits", logits_path, "--threads", str(args.threads)], check=True,
                       stdout=subprocess.DEVNULL)
        ours_emb = np.load(emb_path)
        ours_logits = np.load(logits_path)
        ours_masks = [np.asarray(Image.open(os.path.join(out, f"mask_{k}.png"))) > 0 for k in range(3)]
        import json
        ours_scores = [m["score"] for m in json.load(open(os.path.join(out, "result.json")))["masks"]]

    sam = build_model(args.variant)
    sam.load_state_dict(torch.load(args.pth, map_location="cpu"))
    sam.eval()
    pred = SamPredictor(sam)
    print(f"{os.path.basename(args.image)} ({w}x{h}), {args.variant}, point {point}")
    print(f"{'reader':8} {'pixels differ':>14} {'embedding rel L2':>17} {'logits rel L2':>14} "
          f"{'IoU max abs':>12} {'worst mask IoU':>15}")
    first = None
    with torch.no_grad():
        for name, read in readers.items():
            img = read(args.image)
            if first is None:
                first = img
            differ = float(np.mean(img != first))
            pred.set_image(img)
            emb = pred.features.numpy()
            masks, iou, low = pred.predict(point_coords=np.array([point], np.float32),
                                           point_labels=np.array([1]), multimask_output=True)
            order = np.argsort(-iou, kind="stable")  # ours are written best first
            worst = 1.0
            for k, j in enumerate(order):
                inter = np.logical_and(ours_masks[k], masks[j]).sum()
                union = np.logical_or(ours_masks[k], masks[j]).sum()
                worst = min(worst, inter / union if union else 1.0)
            iou_err = float(np.max(np.abs(np.sort(ours_scores)[::-1] - iou[order])))
            print(f"{name:8} {100 * differ:13.2f}% {rel_l2(ours_emb, emb):17.2e} "
                  f"{rel_l2(ours_logits[0], low):14.2e} {iou_err:12.2e} {worst:15.6f}")


if __name__ == "__main__":
    main()
