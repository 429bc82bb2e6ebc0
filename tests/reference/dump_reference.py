#!/usr/bin/python3
"""Run the official SamPredictor and dump reference tensors as .npy files.

    PYTHONPATH=PYREF_DIR /usr/bin/python3 dump_reference.py --pth FILE.pth --variant V \
        (--image IMG.png | --random-image W H SEED) --out DIR \
        [--point X,Y,L ...] [--box X0,Y0,X1,Y1 ...] [--multimask 0|1] \
        [--mask-input LOWRES.npy] [--layers]

Prompts are in ORIGINAL image pixel coordinates (as SamPredictor.predict takes them);
L is 1 (foreground) or 0 (background).  With zero or one --box the call is
``predictor.predict(point_coords, point_labels, box, mask_input, multimask_output)``.
With several boxes the boxes go batched through ``predictor.transform.apply_boxes_torch``
and ``predictor.predict_torch`` (as in the official README); any --point prompts are then
repeated for every box.  --mask-input takes a low-res logits array ([1,256,256] or
[B,1,256,256] for the full variants, 4*grid for tiny), e.g. a previous low_res_logits.npy
slice.

Outputs in DIR (float32 unless noted; a leading batch dim B is always kept):
  image.png                (only with --random-image) the generated RGB test image
  input_resized_u8.npy     uint8 [h,w,3]  ResizeLongestSide.apply_image(image)
  input_image.npy          [1,3,S,S]      normalised + padded encoder input (model.preprocess)
  image_embedding.npy      [1,C,G,G]      image encoder output (predictor.features)
  image_pe.npy             [1,C,G,G]      prompt_encoder.get_dense_pe()
  sparse_embeddings.npy    [B,N,C]        prompt encoder outputs
  dense_embeddings.npy     [B,C,G,G]
  low_res_logits.npy       [B,M,4G,4G]    mask decoder logits (M = 3 or 1)
  iou_predictions.npy      [B,M]
  mask_logits.npy          [B,M,H,W]      upscaled logits at original image size
  masks.npy                uint8 [B,M,H,W]  mask_logits > model.mask_threshold (0.0)
  layers/NAME.npy          (--layers) output of every submodule, NAME = module path
                           (e.g. image_encoder.blocks.3.attn); tuple outputs -> NAME.K.npy;
                           a module run k>0 extra times -> NAME@k.npy.  Non-tensors skipped.
  meta.json                prompts (original and transformed), variant, sizes, shapes, files
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sam_configs import VARIANTS, build_model  # noqa: E402

from segment_anything import SamPredictor  # noqa: E402


def random_image(w: int, h: int, seed: int) -> np.ndarray:
    """Deterministic smooth-gradients-plus-shapes-plus-noise RGB uint8 image [h,w,3]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx / max(w - 1, 1), yy / max(h - 1, 1)
    f = rng.uniform(0.5, 3.0, 6)
    ph = rng.uniform(0, 2 * np.pi, 3)
    r = 0.5 + 0.5 * np.sin(2 * np.pi * (f[0] * u + f[1] * v) + ph[0])
    g = 0.2 + 0.6 * u * (1 - 0.5 * v) + 0.2 * np.cos(2 * np.pi * f[2] * v + ph[1])
    b = 0.5 + 0.5 * np.cos(2 * np.pi * f[3] * np.hypot(u - 0.5, v - 0.5) + ph[2])
    img = np.stack([r, g, b], axis=-1) * 255.0
    # a few flat-coloured shapes so that masks have structure
    for _ in range(int(rng.integers(3, 7))):
        colour = rng.uniform(0, 255, 3)
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        rx, ry = rng.uniform(0.05, 0.25) * w, rng.uniform(0.05, 0.25) * h
        if rng.random() < 0.5:
            inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        else:
            inside = (np.abs(xx - cx) <= rx) & (np.abs(yy - cy) <= ry)
        img[inside] = 0.3 * img[inside] + 0.7 * colour
    img += rng.normal(0.0, 8.0, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def parse_floats(s, n, what):
    parts = [p for p in s.replace(" ", "").split(",") if p != ""]
    if len(parts) != n:
        raise argparse.ArgumentTypeError(f"{what} needs {n} comma-separated numbers, got {s!r}")
    return [float(p) for p in parts]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_np(t):
    return t.detach().cpu().contiguous().numpy().copy()


class LayerRecorder:
    def __init__(self, model):
        self.outputs = {}  # name -> np array (insertion order = call order)
        self.calls = {}
        self.handles = []
        for name, mod in model.named_modules():
            if name == "":
                continue
            self.handles.append(mod.register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def fn(module, inputs, output):
            k = self.calls.get(name, 0)
            self.calls[name] = k + 1
            base = name if k == 0 else f"{name}@{k}"
            if isinstance(output, torch.Tensor):
                self.outputs[base] = to_np(output)
            elif isinstance(output, (tuple, list)):
                for i, o in enumerate(output):
                    if isinstance(o, torch.Tensor):
                        self.outputs[f"{base}.{i}"] = to_np(o)
        return fn

    def remove(self):
        for h in self.handles:
            h.remove()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pth", required=True)
    ap.add_argument("--variant", required=True, choices=VARIANTS)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--image")
    src.add_argument("--random-image", nargs=3, type=int, metavar=("W", "H", "SEED"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--point", action="append", default=[], type=lambda s: parse_floats(s, 3, "--point"),
                    help="X,Y,L in original image pixels; L=1 foreground, 0 background (repeatable)")
    ap.add_argument("--box", action="append", default=[], type=lambda s: parse_floats(s, 4, "--box"),
                    help="X0,Y0,X1,Y1 in original image pixels (repeatable; >1 box => batched)")
    ap.add_argument("--multimask", type=int, choices=(0, 1), default=1)
    ap.add_argument("--mask-input", default=None, help=".npy low-res mask logits")
    ap.add_argument("--layers", action="store_true", help="dump every submodule output to DIR/layers/")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed (nothing here is random)")
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    saved = []

    def save(name, arr, dtype=np.float32):
        arr = np.ascontiguousarray(arr, dtype=dtype)
        np.save(os.path.join(args.out, name), arr, allow_pickle=False)
        saved.append(name)

    # image
    if args.random_image:
        w, h, seed = args.random_image
        img = random_image(w, h, seed)
        img_path = os.path.join(args.out, "image.png")
        Image.fromarray(img, "RGB").save(img_path)
        saved.append("image.png")
    else:
        img_path = args.image
    image = np.array(Image.open(img_path).convert("RGB"))
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    H, W = image.shape[:2]

    # model
    sam = build_model(args.variant)
    sd = torch.load(args.pth, map_location="cpu")
    sam.load_state_dict(sd, strict=True)
    sam.eval()
    predictor = SamPredictor(sam)

    recorder = LayerRecorder(sam) if args.layers else None
    captured = {}
    h_pre = sam.image_encoder.register_forward_pre_hook(
        lambda m, inp: captured.__setitem__("input_image", to_np(inp[0])))
    h_pe = sam.prompt_encoder.register_forward_hook(
        lambda m, inp, out: captured.update(sparse=to_np(out[0]), dense=to_np(out[1])))

    with torch.no_grad():
        resized = predictor.transform.apply_image(image)
        save("input_resized_u8.npy", resized, np.uint8)
        predictor.set_image(image, image_format="RGB")
        save("input_image.npy", captured["input_image"])
        save("image_embedding.npy", to_np(predictor.features))

        pts = np.array([p[:2] for p in args.point], dtype=np.float64).reshape(-1, 2)
        lbl = np.array([int(p[2]) for p in args.point], dtype=np.int64)
        boxes = np.array(args.box, dtype=np.float64).reshape(-1, 4)
        mask_in = np.load(args.mask_input).astype(np.float32) if args.mask_input else None
        multimask = bool(args.multimask)
        meta_prompts = {
            "points": pts.tolist(), "labels": lbl.tolist(), "boxes": boxes.tolist(),
            "points_transformed": predictor.transform.apply_coords(pts, (H, W)).tolist() if len(pts) else [],
            "boxes_transformed": predictor.transform.apply_boxes(boxes, (H, W)).tolist() if len(boxes) else [],
            "mask_input": os.path.abspath(args.mask_input) if args.mask_input else None,
        }

        if len(boxes) <= 1:
            mode = "predict"
            if mask_in is not None and mask_in.ndim == 4:
                mask_in = mask_in[0]
            logits, iou, low = predictor.predict(
                point_coords=pts if len(pts) else None,
                point_labels=lbl if len(pts) else None,
                box=boxes[0] if len(boxes) else None,
                mask_input=mask_in,
                multimask_output=multimask,
                return_logits=True,
            )
            logits, iou, low = logits[None], iou[None], low[None]
        else:
            mode = "predict_torch"
            B = len(boxes)
            boxes_t = predictor.transform.apply_boxes_torch(
                torch.as_tensor(boxes, dtype=torch.float, device=predictor.device), (H, W))
            coords_t = labels_t = None
            if len(pts):
                coords_t = predictor.transform.apply_coords_torch(
                    torch.as_tensor(pts, dtype=torch.float, device=predictor.device), (H, W))
                coords_t = coords_t[None].repeat(B, 1, 1)
                labels_t = torch.as_tensor(lbl, dtype=torch.int, device=predictor.device)[None].repeat(B, 1)
            mask_t = None
            if mask_in is not None:
                mask_t = torch.as_tensor(mask_in, dtype=torch.float)
                if mask_t.ndim == 3:
                    mask_t = mask_t[None].repeat(B, 1, 1, 1)
            logits_t, iou_t, low_t = predictor.predict_torch(
                coords_t, labels_t, boxes=boxes_t, mask_input=mask_t,
                multimask_output=multimask, return_logits=True)
            logits, iou, low = to_np(logits_t), to_np(iou_t), to_np(low_t)

    h_pre.remove()
    h_pe.remove()
    if recorder is not None:
        recorder.remove()
    with torch.no_grad():
        image_pe = to_np(sam.prompt_encoder.get_dense_pe())

    save("image_pe.npy", image_pe)
    save("sparse_embeddings.npy", captured["sparse"])
    save("dense_embeddings.npy", captured["dense"])
    save("low_res_logits.npy", low)
    save("iou_predictions.npy", iou)
    save("mask_logits.npy", logits)
    save("masks.npy", (logits > sam.mask_threshold).astype(np.uint8), np.uint8)

    layer_names = []
    if recorder is not None:
        ldir = os.path.join(args.out, "layers")
        os.makedirs(ldir, exist_ok=True)
        for name, arr in recorder.outputs.items():
            np.save(os.path.join(ldir, name + ".npy"), np.ascontiguousarray(arr), allow_pickle=False)
            layer_names.append(name)

    shapes = {n: list(np.load(os.path.join(args.out, n), mmap_mode="r").shape)
              for n in saved if n.endswith(".npy")}
    meta = {
        "variant": args.variant,
        "pth": os.path.abspath(args.pth),
        "pth_sha256": sha256_file(args.pth),
        "image": os.path.abspath(img_path),
        "random_image": args.random_image,
        "image_size_hw": [H, W],
        "input_size_hw": list(predictor.input_size),
        "encoder_img_size": sam.image_encoder.img_size,
        "pixel_mean": sam.pixel_mean.flatten().tolist(),
        "pixel_std": sam.pixel_std.flatten().tolist(),
        "mask_threshold": sam.mask_threshold,
        "multimask_output": multimask,
        "mode": mode,
        **meta_prompts,
        "shapes": shapes,
        "files": saved,
        "layers": layer_names,
        "torch_version": torch.__version__,
    }
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)

    finite = all(np.isfinite(np.load(os.path.join(args.out, n))).all()
                 for n in saved if n.endswith(".npy"))
    print(
        f"wrote {args.out}: variant={args.variant} image={W}x{H} mode={mode} "
        f"low_res_logits {list(low.shape)} range [{low.min():.3f}, {low.max():.3f}] "
        f"pos-frac {float((low > 0).mean()):.3f}; iou {np.round(iou, 4).tolist()}; "
        f"masks on-frac {float((logits > 0).mean()):.3f}; layers={len(layer_names)}; finite={finite}"
    )
    return 0 if finite else 1


if __name__ == "__main__":
    sys.exit(main())
