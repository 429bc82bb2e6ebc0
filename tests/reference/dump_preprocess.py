#!/usr/bin/env python3
"""Official preprocessing outputs for images of awkward sizes.

    PYTHONPATH=PYREF /usr/bin/python3 dump_preprocess.py --out DIR [--img-size 1024]

For each size WxH in SIZES writes DIR/WxH.png (a deterministic RGB image: gradients,
noise and hard edges), DIR/WxH_resized.npy (uint8 [h,w,3], ResizeLongestSide.apply_image,
i.e. PIL bilinear with antialiasing) and DIR/WxH_input.npy (float32 [1,3,S,S], the official
Sam.preprocess: normalise with pixel_mean/std, zero-pad bottom/right).
"""
import argparse
import os

import numpy as np
import torch
from PIL import Image
from segment_anything.utils.transforms import ResizeLongestSide

# downscale (1800x1200, 4000x3000 -> odd ratios), upscale (640x427, 300x1000 tall), extremes
SIZES = [(1800, 1200), (640, 427), (427, 900), (1023, 1025), (1, 1), (5000, 7), (3, 2000), (1024, 1024)]

PIXEL_MEAN = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
PIXEL_STD = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)


def make_image(w, h, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 255 * (xx / max(w - 1, 1))
    g = 255 * (yy / max(h - 1, 1))
    b = 127.5 + 127.5 * np.sin(xx / 7.0 + yy / 11.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 25, (h, w, 3))
    img[(xx // 37 + yy // 29) % 2 == 0] *= 0.5  # hard edges
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--img-size", type=int, default=1024)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t = ResizeLongestSide(args.img_size)
    for i, (w, h) in enumerate(SIZES):
        img = make_image(w, h, i)
        name = f"{w}x{h}"
        Image.fromarray(img).save(os.path.join(args.out, name + ".png"))
        resized = t.apply_image(img)
        np.save(os.path.join(args.out, name + "_resized.npy"), resized)
        x = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None]
        x = (x - PIXEL_MEAN) / PIXEL_STD
        ph, pw = args.img_size - x.shape[-2], args.img_size - x.shape[-1]
        x = torch.nn.functional.pad(x, (0, pw, 0, ph))
        np.save(os.path.join(args.out, name + "_input.npy"), x.numpy().astype(np.float32))
    print(f"wrote {len(SIZES)} preprocessing cases to {args.out}")


if __name__ == "__main__":
    main()
