#!/usr/bin/env python3
"""The forward-pass fidelity suite: official outputs for every prompt kind on images of
awkward sizes (PNG and JPEG files), one image encode per image.

    PYTHONPATH=PYREF /usr/bin/python3 dump_suite.py --pth MODEL.pth --variant vit_b --out DIR

DIR/suite.json lists images (with their file) and cases. Per image DIR/<image>/: image.png or
image.jpg, input_image.npy
([1,3,S,S], Sam.preprocess output), image_embedding.npy; per case DIR/<image>/<case>/:
low_res_logits.npy [N,C,4G,4G], iou_predictions.npy [N,C], masks.npy (uint8 [N,C,H,W]).
Prompts are in original image pixels; the point/box/mask-input semantics are those of
SamPredictor.predict (one prompt set) and predict_torch (a batch of boxes).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dump_preprocess import make_image  # noqa: E402
from sam_configs import VARIANTS  # noqa: E402

from segment_anything import SamPredictor, sam_model_registry  # noqa: E402

# (width, height, file format). The JPEGs go through the official pipeline as users' photos do:
# written by PIL, read back with Image.open(path).convert("RGB") (what the official notebooks do;
# cv2.imread decodes the same pixels), so the C++ side must decode the JPEG exactly as libjpeg-turbo
# under PIL does. vit: 4:2:0 (PIL's default), tiny: 4:4:4.
IMAGES = {"vit": [(1800, 1200, "png"), (640, 427, "png"), (427, 900, "png"), (1800, 1200, "jpg")],
          "tiny": [(320, 213, "png"), (97, 300, "png"), (320, 213, "jpg")]}
JPEG_OPTIONS = {"vit": {"quality": 90, "subsampling": 2}, "tiny": {"quality": 75, "subsampling": 0}}


def cases_for(w, h):
    p_fg = [0.45 * w, 0.55 * h]
    p_bg = [0.2 * w, 0.3 * h]
    box = [0.2 * w, 0.25 * h, 0.7 * w, 0.8 * h]
    return [
        {"name": "point", "points": [p_fg + [1]], "multimask": True},
        {"name": "point_single", "points": [p_fg + [1]], "multimask": False},
        {"name": "fg_bg_points", "points": [p_fg + [1], p_bg + [0]], "multimask": True},
        {"name": "box", "boxes": [box], "multimask": False},
        {"name": "box_point", "boxes": [box], "points": [p_fg + [1]], "multimask": False},
        {"name": "box_multimask", "boxes": [box], "multimask": True},
        # mask input: the best low-res logits of fg_bg_points, fed back with the same points
        {"name": "mask_input", "points": [p_fg + [1], p_bg + [0]], "mask_from": "fg_bg_points", "multimask": False},
        {"name": "boxes_batch", "multimask": True,
         "boxes": [box, [0.05 * w, 0.05 * h, 0.5 * w, 0.45 * h], [0.5 * w, 0.4 * h, 0.95 * w, 0.95 * h]]},
    ]


def run_case(pred, case, out_dir, results):
    os.makedirs(out_dir, exist_ok=True)
    points = case.get("points", [])
    boxes = case.get("boxes", [])
    mask_input = None
    if "mask_from" in case:
        prev = results[case["mask_from"]]
        best = int(np.argmax(prev["iou"][0]))
        mask_input = prev["low_res"][0, best][None]  # [1, 4G, 4G] as predict() takes it
        np.save(os.path.join(out_dir, "mask_input.npy"), mask_input.astype(np.float32))
    if len(boxes) > 1:
        tb = pred.transform.apply_boxes_torch(torch.as_tensor(boxes, dtype=torch.float), pred.original_size)
        coords = labels = None
        if points:
            pc = np.array([p[:2] for p in points], dtype=np.float32)
            coords = pred.transform.apply_coords_torch(torch.as_tensor(pc), pred.original_size)
            coords = coords[None].repeat(len(boxes), 1, 1)
            labels = torch.as_tensor([[p[2] for p in points]] * len(boxes), dtype=torch.int)
        masks, iou, low = pred.predict_torch(coords, labels, boxes=tb, multimask_output=case["multimask"])
        masks, iou, low = masks.numpy(), iou.numpy(), low.numpy()
    else:
        masks, iou, low = pred.predict(
            point_coords=np.array([p[:2] for p in points], dtype=np.float32) if points else None,
            point_labels=np.array([p[2] for p in points], dtype=np.int64) if points else None,
            box=np.array(boxes[0], dtype=np.float32) if boxes else None,
            mask_input=mask_input,
            multimask_output=case["multimask"],
        )
        masks, iou, low = masks[None], iou[None], low[None]
    np.save(os.path.join(out_dir, "low_res_logits.npy"), low.astype(np.float32))
    np.save(os.path.join(out_dir, "iou_predictions.npy"), iou.astype(np.float32))
    np.save(os.path.join(out_dir, "masks.npy"), masks.astype(np.uint8))
    results[case["name"]] = {"low_res": low, "iou": iou}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pth", required=True)
    ap.add_argument("--variant", required=True, choices=VARIANTS)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    if args.variant == "tiny":
        from sam_configs import build_model
        sam = build_model("tiny")
        sam.load_state_dict(torch.load(args.pth, map_location="cpu"))
    else:
        sam = sam_model_registry[args.variant](checkpoint=args.pth)
    sam.eval()
    pred = SamPredictor(sam)
    os.makedirs(args.out, exist_ok=True)
    suite = {"variant": args.variant, "images": []}
    family = "tiny" if args.variant == "tiny" else "vit"
    with torch.no_grad():
        for i, (w, h, fmt) in enumerate(IMAGES[family]):
            name = f"{w}x{h}" + ("_jpeg" if fmt == "jpg" else "")
            d = os.path.join(args.out, name)
            os.makedirs(d, exist_ok=True)
            img = make_image(w, h, 100 + i)
            file = "image." + fmt
            if fmt == "jpg":
                Image.fromarray(img).save(os.path.join(d, file), "JPEG", **JPEG_OPTIONS[family])
                with Image.open(os.path.join(d, file)) as im:
                    img = np.asarray(im.convert("RGB"))
            else:
                Image.fromarray(img).save(os.path.join(d, file))
            pred.set_image(img)
            np.save(os.path.join(d, "input_image.npy"),
                    sam.preprocess(torch.as_tensor(pred.transform.apply_image(img)).permute(2, 0, 1)[None].float())
                    .numpy().astype(np.float32))
            np.save(os.path.join(d, "image_embedding.npy"), pred.features.numpy().astype(np.float32))
            cases = cases_for(w, h)
            results = {}
            for case in cases:
                run_case(pred, case, os.path.join(d, case["name"]), results)
            suite["images"].append({"name": name, "file": file, "width": w, "height": h, "cases": cases})
            print(f"{name}: {len(cases)} cases", flush=True)
    with open(os.path.join(args.out, "suite.json"), "w") as f:
        json.dump(suite, f, indent=1)


if __name__ == "__main__":
    main()
