#!/usr/bin/env python3
"""Official automatic-mask-generation outputs for the sam-engine tests and benchmark.

    PYTHONPATH=PYREF /usr/bin/python3 dump_amg.py generate --pth MODEL.pth --variant tiny \
        (--image IMG | --random-image W H SEED) --out DIR [generator options, amg.py names]
    PYTHONPATH=PYREF /usr/bin/python3 dump_amg.py utils --out DIR

generate: runs the OFFICIAL SamAutomaticMaskGenerator (output_mode="uncompressed_rle")
and writes DIR/image.png (the input), DIR/options.json (the generator kwargs),
DIR/records.json (json.dump of the records, as generate() returns them: uncompressed
RLE counts, bbox / crop_box as ints, or floats where the official tensors were
promoted), DIR/metadata.csv (the text scripts/amg.py's write_masks_to_folder writes
for these records) and DIR/stats.json (generate() seconds, peak RSS, torch threads).

utils: the official segment_anything/utils/amg.py functions (and torchvision's
batched_nms) on seeded synthetic inputs -> DIR/utils.json, for the per-step tests.

Stand-ins. pycocotools and OpenCV are not installed here. coco_rle output is not
produced (the tests decode our COCO strings instead). For min_mask_region_area > 0
the official remove_small_regions calls cv2.connectedComponentsWithStats(mask, 8):
a stand-in module `cv2` is installed that computes 8-connected components with
torch (label propagation) and numbers them in OpenCV's order (by the first 2x2
block, in raster order, that a component touches). Only the label image and the
area column of the stats are meaningful; the official code reads nothing else.
"""
import argparse
import json
import os
import resource
import sys
import time
import types

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dump_preprocess import make_image  # noqa: E402
from sam_configs import VARIANTS  # noqa: E402


# --------------------------------------------------------------------------------------
# cv2 stand-in (connectedComponentsWithStats only)
# --------------------------------------------------------------------------------------
def connected_components_with_stats(image, connectivity=8):
    assert connectivity == 8, "stand-in: 8-connectivity only"
    fg = torch.as_tensor(np.asarray(image) != 0)
    h, w = fg.shape
    idx = torch.arange(1, h * w + 1, dtype=torch.float64).reshape(h, w)
    lab = torch.where(fg, idx, torch.zeros((), dtype=torch.float64))
    while True:
        # Max over the 3x3 neighbourhood (8-connectivity), restricted to the foreground,
        # then pointer jumping: a label is a pixel index; take that pixel's label.
        new = F.max_pool2d(lab[None, None], 3, stride=1, padding=1)[0, 0]
        new = torch.where(fg, new, torch.zeros((), dtype=torch.float64))
        flat = new.flatten()
        jumped = torch.where(fg, flat[(new.long() - 1).clamp(min=0)].reshape(h, w), new)
        if torch.equal(jumped, lab):
            break
        lab = jumped
    lab = lab.long().numpy()
    fgm = lab > 0
    roots, inv = np.unique(lab[fgm], return_inverse=True)
    nbx = (w + 1) // 2
    yy, xx = np.mgrid[0:h, 0:w]
    block = ((yy // 2) * nbx + xx // 2)[fgm]
    first = np.full(len(roots), np.iinfo(np.int64).max)
    np.minimum.at(first, inv, block)
    # A 2x2 block holds pixels of one 8-connected component at most: the keys are distinct.
    rank = np.empty(len(roots), dtype=np.int32)
    rank[np.argsort(first)] = np.arange(1, len(roots) + 1, dtype=np.int32)
    regions = np.zeros((h, w), dtype=np.int32)
    regions[fgm] = rank[inv]
    stats = np.zeros((len(roots) + 1, 5), dtype=np.int32)
    stats[:, 4] = np.bincount(regions.ravel(), minlength=len(roots) + 1)
    return len(roots) + 1, regions, stats, None


def install_cv2_stand_in():
    mod = types.ModuleType("cv2")
    mod.connectedComponentsWithStats = connected_components_with_stats
    mod.__doc__ = "sam-engine test stand-in: connectedComponentsWithStats only"
    sys.modules["cv2"] = mod


# --------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------
OPTION_TYPES = {
    "points_per_side": int,
    "points_per_batch": int,
    "pred_iou_thresh": float,
    "stability_score_thresh": float,
    "stability_score_offset": float,
    "box_nms_thresh": float,
    "crop_n_layers": int,
    "crop_nms_thresh": float,
    "crop_overlap_ratio": float,
    "crop_n_points_downscale_factor": int,
    "min_mask_region_area": int,
}


def metadata_csv(masks):
    """scripts/amg.py: write_masks_to_folder's metadata.csv text."""
    header = "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,crop_box_x0,crop_box_y0,crop_box_w,crop_box_h"  # noqa
    metadata = [header]
    for i, mask_data in enumerate(masks):
        mask_metadata = [
            str(i),
            str(mask_data["area"]),
            *[str(x) for x in mask_data["bbox"]],
            *[str(x) for x in mask_data["point_coords"][0]],
            str(mask_data["predicted_iou"]),
            str(mask_data["stability_score"]),
            *[str(x) for x in mask_data["crop_box"]],
        ]
        metadata.append(",".join(mask_metadata))
    return "\n".join(metadata)


def load_sam(pth, variant):
    from segment_anything import sam_model_registry

    if variant == "tiny":
        from sam_configs import build_model

        sam = build_model("tiny")
        sam.load_state_dict(torch.load(pth, map_location="cpu"))
    else:
        sam = sam_model_registry[variant](checkpoint=pth)
    sam.eval()
    return sam


def cmd_generate(args):
    torch.set_num_threads(args.threads)
    kwargs = {k: getattr(args, k) for k in OPTION_TYPES if getattr(args, k) is not None}
    if kwargs.get("min_mask_region_area", 0) > 0:
        install_cv2_stand_in()
    from segment_anything import SamAutomaticMaskGenerator

    os.makedirs(args.out, exist_ok=True)
    if args.image:
        img = np.array(Image.open(args.image).convert("RGB"))
    else:
        w, h, seed = args.random_image
        img = make_image(w, h, seed)
    Image.fromarray(img).save(os.path.join(args.out, "image.png"))
    sam = load_sam(args.pth, args.variant)
    gen = SamAutomaticMaskGenerator(sam, output_mode="uncompressed_rle", **kwargs)
    t0 = time.perf_counter()
    masks = gen.generate(img)
    seconds = time.perf_counter() - t0
    with open(os.path.join(args.out, "options.json"), "w") as f:
        json.dump(kwargs, f)
    with open(os.path.join(args.out, "records.json"), "w") as f:
        json.dump(masks, f)
    with open(os.path.join(args.out, "metadata.csv"), "w") as f:
        f.write(metadata_csv(masks))
    stats = {
        "generate_seconds": seconds,
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "torch_threads": torch.get_num_threads(),
        "masks": len(masks),
        "image_size": [int(img.shape[1]), int(img.shape[0])],
    }
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f)
    print(json.dumps(stats))


# --------------------------------------------------------------------------------------
# utils
# --------------------------------------------------------------------------------------
def blobby_masks(rng, n, h, w):
    """Random masks with islands and holes of many sizes (thresholded smoothed noise)."""
    noise = torch.as_tensor(rng.normal(size=(n, 1, h, w)).astype(np.float32))
    k = torch.ones(1, 1, 5, 5) / 25
    smooth = F.conv2d(noise, k, padding=2)[:, 0]
    return (smooth > torch.as_tensor(rng.uniform(-0.2, 0.2, size=(n, 1, 1)).astype(np.float32))).numpy()


def cmd_utils(args):
    from torchvision.ops.boxes import batched_nms

    from segment_anything.utils import amg

    install_cv2_stand_in()
    rng = np.random.default_rng(1234)
    out = {}

    out["point_grids"] = {str(n): amg.build_point_grid(n).tolist() for n in (1, 2, 3, 7, 16, 32, 64)}
    out["all_layer_point_grids"] = [
        {"n": n, "layers": l, "scale": s, "grids": [g.tolist() for g in amg.build_all_layer_point_grids(n, l, s)]}
        for (n, l, s) in ((32, 0, 1), (32, 2, 2), (16, 3, 2), (10, 2, 3))
    ]
    crop_cases = []
    for (h, w, layers, ratio) in ((213, 320, 1, 512 / 1500), (1200, 1800, 2, 512 / 1500), (300, 97, 3, 0.25),
                                  (1, 1, 1, 512 / 1500), (683, 1024, 2, 0.0), (640, 427, 1, 0.6)):
        boxes, idxs = amg.generate_crop_boxes((h, w), layers, ratio)
        crop_cases.append({"h": h, "w": w, "layers": layers, "ratio": ratio, "boxes": boxes, "layer_idxs": idxs})
    out["crop_boxes"] = crop_cases

    # Stability score on logits with many values at and near the thresholds.
    logits = rng.normal(0, 2, size=(12, 37, 53)).astype(np.float32)
    logits[0] = 0
    logits[1, :5] = 1.0
    logits[2, :7] = -1.0
    logits[3] = np.round(logits[3] * 2) / 2
    out["stability"] = {"logits": logits.tolist(), "cases": []}
    for thr, off in ((0.0, 1.0), (0.0, 0.5), (0.0, 0.1)):
        s = amg.calculate_stability_score(torch.as_tensor(logits), thr, off)
        out["stability"]["cases"].append({"threshold": thr, "offset": off, "scores": s.tolist()})

    masks = rng.random((14, 23, 31)) < rng.uniform(0.001, 0.6, size=(14, 1, 1))
    masks[0] = False
    masks[1] = True
    masks[2] = False
    masks[2, 22, 30] = True
    masks[3] = False
    masks[3, 0, 0] = True
    mt = torch.as_tensor(masks)
    rles = amg.mask_to_rle_pytorch(mt)
    out["masks"] = {
        "masks": masks.astype(np.uint8).tolist(),
        "boxes": amg.batched_mask_to_box(mt).tolist(),
        "rles": [r["counts"] for r in rles],
        "areas": [amg.area_from_rle(r) for r in rles],
        "decoded_equal": [bool((amg.rle_to_mask(r) == m).all()) for r, m in zip(rles, masks)],
    }
    # uncrop_masks into a 40x50 image from a crop box.
    crop = [7, 11, 38, 34]  # x0, y0, x1, y1: 31 x 23
    out["uncrop_masks"] = {"crop_box": crop, "orig_h": 40, "orig_w": 50,
                           "masks": amg.uncrop_masks(mt, crop, 40, 50).numpy().astype(np.uint8).tolist()}

    # is_box_near_crop_edge / uncrop_boxes_xyxy / uncrop_points.
    cb = [100, 50, 300, 250]
    orig = [0, 0, 320, 250]
    boxes = torch.as_tensor(np.stack([rng.integers(0, 60, 200), rng.integers(0, 60, 200),
                                      rng.integers(140, 201, 200), rng.integers(140, 201, 200)], 1))
    boxes[:10] = torch.tensor([0, 0, 200, 200])  # exactly on the crop / image edges
    boxes[10:20, 0] = 20
    boxes[20:30, 0] = 21
    out["near_edge"] = {"crop_box": cb, "orig_box": orig, "boxes": boxes.tolist(),
                        "near": amg.is_box_near_crop_edge(boxes, cb, orig).tolist(),
                        "uncropped": amg.uncrop_boxes_xyxy(boxes, cb).tolist()}
    pts = torch.as_tensor(rng.random((5, 2)) * 100)
    out["uncrop_points"] = {"crop_box": cb, "points": pts.tolist(), "uncropped": amg.uncrop_points(pts, cb).tolist()}

    # batched_nms as the generator calls it (one category): below and above 1000 boxes
    # (torchvision switches implementation there), with many tied scores.
    nms_cases = []
    for n, n_scores, thr in ((300, 0, 0.7), (300, 4, 0.7), (1500, 5, 0.7), (2500, 0, 0.5), (2500, 3, 0.9),
                             (1001, 2, 0.7), (1000, 2, 0.7)):
        x0 = rng.integers(0, 200, n)
        y0 = rng.integers(0, 150, n)
        b = np.stack([x0, y0, x0 + rng.integers(0, 60, n), y0 + rng.integers(0, 60, n)], 1)
        if n_scores:
            sc = (1.0 / rng.integers(1, n_scores + 1, n)).astype(np.float32)
        else:
            sc = rng.random(n).astype(np.float32)
        bt = torch.as_tensor(b).float()
        keep = batched_nms(bt, torch.as_tensor(sc), torch.zeros(n), iou_threshold=thr)
        nms_cases.append({"boxes": b.tolist(), "scores": sc.tolist(), "threshold": thr, "keep": keep.tolist()})
    out["nms"] = nms_cases

    # remove_small_regions (official logic, OpenCV stand-in for the labelling).
    rs = blobby_masks(rng, 24, 41, 57)
    rs[0] = False
    rs[1] = True
    rs[2] = False
    rs[2, 3:5, 3:5] = True
    rs[2, 30:33, 40:43] = True  # two islands of 4 and 9 pixels: all small -> keep the largest
    rs[3] = False
    rs[3, 0:2, 0:2] = True
    rs[3, 10:12, 10:12] = True  # two equal islands: OpenCV's label order decides
    rs[4] = False
    rs[4, 5, 5] = True
    rs[4, 6, 6] = True  # diagonal neighbours: one region with 8-connectivity
    small = []
    for i, m in enumerate(rs):
        for area in (5, 30, 200):
            for mode in ("holes", "islands"):
                res, changed = amg.remove_small_regions(m, area, mode)
                small.append({"index": i, "area": area, "mode": mode, "changed": bool(changed),
                              "mask": np.asarray(res).astype(np.uint8).tolist()})
    out["small_regions"] = {"masks": rs.astype(np.uint8).tolist(), "cases": small}

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "utils.json"), "w") as f:
        json.dump(out, f)
    print(f"wrote {os.path.join(args.out, 'utils.json')}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--pth", required=True)
    g.add_argument("--variant", required=True, choices=VARIANTS)
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--image")
    src.add_argument("--random-image", type=int, nargs=3, metavar=("W", "H", "SEED"))
    g.add_argument("--out", required=True)
    g.add_argument("--threads", type=int, default=2)
    for name, t in OPTION_TYPES.items():
        g.add_argument("--" + name.replace("_", "-"), dest=name, type=t, default=None)
    u = sub.add_parser("utils")
    u.add_argument("--out", required=True)
    args = ap.parse_args()
    with torch.no_grad():
        cmd_generate(args) if args.cmd == "generate" else cmd_utils(args)


if __name__ == "__main__":
    main()
