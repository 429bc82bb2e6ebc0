#!/usr/bin/env python3
"""The reference for `sam annotate --format yolo-seg`: the official SamPredictor with the
same boxes, polygons and label lines as Ultralytics' auto_annotate makes them.

    PYTHONPATH=PYREF /usr/bin/python3 ref_auto_annotate.py --pth V.pth --variant V \
        --images DIR --labels DIR --out DIR --ultralytics PYULTRA

For each image (sorted) with a label file <stem>.txt (`class cx cy w h [conf]`): the
boxes in pixels (centre -/+ half size times the image size, clipped to the image, as
float32), one set_image, predict_torch(boxes=apply_boxes_torch(...),
multimask_output=False), then Ultralytics' own Masks.xyn pieces on the masks:
ops.masks2segments (findContours RETR_EXTERNAL / CHAIN_APPROX_SIMPLE, merge_multi_segment)
and ops.scale_coords(normalize=True), written line by line exactly as
ultralytics/data/annotator.py auto_annotate writes them (len(s) >= 3). Images without a
label file get no file. Also writes OUT/<stem>.masks.npy (the masks, for diagnosis).
"""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))


def read_boxes(path, w, h):
    classes, boxes = [], []
    for line in open(path):
        f = line.split()
        if not f:
            continue
        c, cx, cy, bw, bh = int(f[0]), *map(float, f[1:5])
        x0, y0, x1, y1 = cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2
        b = [min(max(x0 * w, 0.0), w), min(max(y0 * h, 0.0), h), min(max(x1 * w, 0.0), w), min(max(y1 * h, 0.0), h)]
        classes.append(c)
        boxes.append(b)
    return classes, np.array(boxes, dtype=np.float32).reshape(-1, 4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pth", required=True)
    ap.add_argument("--variant", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ultralytics", required=True)
    args = ap.parse_args()
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(args.out, ".yolo_config"))
    sys.path.insert(0, args.ultralytics)
    from ultralytics.utils import ops  # noqa: E402
    from sam_configs import build_model  # noqa: E402
    from segment_anything import SamPredictor  # noqa: E402

    torch.manual_seed(0)
    sam = build_model(args.variant)
    sam.load_state_dict(torch.load(args.pth, map_location="cpu"), strict=True)
    sam.eval()
    predictor = SamPredictor(sam)
    os.makedirs(args.out, exist_ok=True)
    for name in sorted(os.listdir(args.images)):
        stem = os.path.splitext(name)[0]
        label = os.path.join(args.labels, stem + ".txt")
        if not os.path.exists(label):
            continue
        image = np.array(Image.open(os.path.join(args.images, name)).convert("RGB"))
        h, w = image.shape[:2]
        class_ids, boxes = read_boxes(label, w, h)
        if not class_ids:  # auto_annotate: no detections, no file
            continue
        predictor.set_image(image)
        with torch.no_grad():
            tb = predictor.transform.apply_boxes_torch(torch.from_numpy(boxes), image.shape[:2])
            masks, _, _ = predictor.predict_torch(None, None, boxes=tb, multimask_output=False)
        masks = masks[:, 0]  # (N, H, W) bool, as Ultralytics' Results.masks.data
        np.save(os.path.join(args.out, stem + ".masks.npy"), masks.numpy())
        segments = [ops.scale_coords(masks.shape[1:], x, (h, w), normalize=True) for x in ops.masks2segments(masks)]
        with open(os.path.join(args.out, stem + ".txt"), "w", encoding="utf-8") as f:
            for i, s in enumerate(segments):
                if len(s) >= 3:
                    segment = map(str, s.reshape(-1).tolist())
                    f.write(f"{class_ids[i]} " + " ".join(segment) + "\n")
    print(f"reference labels -> {args.out}")


if __name__ == "__main__":
    main()
