#!/usr/bin/env python3
"""Times the official segment-anything predictor the way `sam bench` times ours.

    PYTHONPATH=PYREF /usr/bin/python3 bench/bench_official.py --pth MODEL.pth --variant vit_b \
        [--image IMG] [--runs 3] [--decoder-runs 10] [--threads 2] [--json]

--variant vit_t times the official MobileSAM code (mobile_sam.pt; PYTHONPATH=PYMS:PYREF with
tests/reference/setup_mobilesam.sh's install; bench/bench_mobilesam.sh runs both sides).

encoder_ms: SamPredictor.set_image (preprocess + image encoder), median of --runs;
decoder_ms: SamPredictor.predict with one foreground point, multimask, masks upscaled to the
original size and thresholded (prompt encoder + mask decoder + postprocess), median of
--decoder-runs; total_ms: image decode + set_image + predict; peak_rss_mb: ru_maxrss.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from sam_configs import build_model  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402


def synthetic_image():
    # the same picture as `sam bench` without --image
    w, h = 1800, 1200
    x = np.arange(w)[None, :].repeat(h, 0)
    y = np.arange(h)[:, None].repeat(w, 1)
    img = np.stack([(x * 255) // w, (y * 255) // h, ((x // 60 + y // 40) % 2) * 200 + 30], -1)
    return img.astype(np.uint8)


def load(path):
    return np.array(Image.open(path).convert("RGB")) if path else synthetic_image()


def median(v):
    return float(sorted(v)[len(v) // 2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pth", required=True)
    ap.add_argument("--variant", default="vit_b")
    ap.add_argument("--image", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--decoder-runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.variant == "vit_t":
        # MobileSAM: the official mobile_sam code (PYTHONPATH must hold setup_mobilesam.sh's install);
        # eval() after loading, as MobileSAM's README does (it caches TinyViT's attention biases).
        from mobile_sam import SamPredictor as MobileSamPredictor, sam_model_registry as mobile_registry
        sam = mobile_registry["vit_t"](checkpoint=None)
        sam.load_state_dict(torch.load(args.pth, map_location="cpu"))
        sam.eval()
        pred = MobileSamPredictor(sam)
    else:
        sam = build_model(args.variant)
        sam.load_state_dict(torch.load(args.pth, map_location="cpu"))
        sam.eval()
        pred = SamPredictor(sam)
    load_ms = (time.perf_counter() - t0) * 1e3
    img = load(args.image)
    h, w = img.shape[:2]
    point = np.array([[w * 0.45, h * 0.55]], dtype=np.float32)
    label = np.array([1])
    with torch.no_grad():
        pred.set_image(img)
        pred.predict(point, label, multimask_output=True)
        enc, dec, e2e = [], [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            pred.set_image(img)
            enc.append((time.perf_counter() - t0) * 1e3)
        for _ in range(args.decoder_runs):
            t0 = time.perf_counter()
            pred.predict(point, label, multimask_output=True)
            dec.append((time.perf_counter() - t0) * 1e3)
        for _ in range(args.runs):
            t0 = time.perf_counter()
            im = load(args.image)
            pred.set_image(im)
            pred.predict(point, label, multimask_output=True)
            e2e.append((time.perf_counter() - t0) * 1e3)
    impl = "official MobileSAM" if args.variant == "vit_t" else "official segment-anything"
    out = {"impl": f"{impl} (torch {torch.__version__})", "variant": args.variant,
           "threads": args.threads, "load_ms": load_ms, "encoder_ms": median(enc), "decoder_ms": median(dec),
           "total_ms": median(e2e), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:12} {v:.1f}" if isinstance(v, float) else f"{k:12} {v}")


if __name__ == "__main__":
    main()
