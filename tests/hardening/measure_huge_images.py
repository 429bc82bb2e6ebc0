#!/usr/bin/env python3
"""Peak memory of `sam segment` on images at the pixel limit (docs/bad_inputs.md).

    measure_huge_images.py --bin BUILD/bin --model MODEL.safetensors [--pixels 100000000] [--work DIR]

Writes images of --pixels pixels (10000 x 10000 by default, the kMaxImagePixels limit)
in the formats whose decoding needs the most memory, runs `sam segment` on each with one
point (3 masks) and reports the peak RSS (getrusage of the child) and the time. Not part
of CI (minutes, GBs of temporary files): the numbers go into docs/bad_inputs.md.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
from PIL import Image


def png_streamed(path, w, h, depth, ctype, channels):
    """A PNG whose rows are a smooth gradient, compressed row by row (no full raw image in memory)."""
    bpp = channels * depth // 8
    comp = zlib.compressobj(6)
    with open(path, "wb") as f:
        def chunk(t, d):
            f.write(struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF))
        f.write(b"\x89PNG\r\n\x1a\n")
        chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
        row = (np.arange(w * bpp) % 251).astype(np.uint8).tobytes()
        out = bytearray()
        for y in range(h):
            out += comp.compress(b"\x00" + row[y % 7:] + row[:y % 7])
            if len(out) > (8 << 20):
                chunk(b"IDAT", bytes(out))
                out.clear()
        out += comp.flush()
        chunk(b"IDAT", bytes(out))
        chunk(b"IEND", b"")


def jpeg(path, w, h, progressive):
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    img = np.empty((h, w, 3), np.uint8)
    for c in range(3):  # channel by channel: a 100 MP float image would need 1.2 GB
        img[..., c] = ((x * (c + 1) + y) % 256).astype(np.uint8)
    Image.fromarray(img).save(path, "JPEG", quality=90, progressive=progressive)


def peak_rss(cmd):
    t0 = time.time()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024.0, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pixels", type=int, default=100_000_000)
    ap.add_argument("--work", default=None)
    ap.add_argument("--formats", default="png_rgb8,png_rgba16,png_gray8,jpeg_baseline,jpeg_progressive")
    ap.add_argument("--boxes", type=int, default=0, help="prompt with this many boxes (3 masks each) instead of a point")
    args = ap.parse_args()
    side = int(args.pixels ** 0.5)
    w, h = side, args.pixels // side
    work = tempfile.mkdtemp(prefix="sam_huge_", dir=args.work)
    makers = {
        "png_rgb8": lambda p: png_streamed(p, w, h, 8, 2, 3),
        "png_rgba16": lambda p: png_streamed(p, w, h, 16, 6, 4),
        "png_gray8": lambda p: png_streamed(p, w, h, 8, 0, 1),
        "jpeg_baseline": lambda p: jpeg(p, w, h, False),
        "jpeg_progressive": lambda p: jpeg(p, w, h, True),
    }
    masks = 3 * max(args.boxes, 1)
    print(f"{w}x{h} = {w * h / 1e6:.0f} M pixels, {masks} masks, model {args.model}")
    print(f"{'format':<18} {'file MB':>8} {'peak RSS MB':>12} {'bytes/pixel':>12} {'seconds':>8}  result")
    try:
        for name in args.formats.split(","):
            path = os.path.join(work, name + (".png" if name.startswith("png") else ".jpg"))
            makers[name](path)
            out = os.path.join(work, "out")
            prompt = ["-p", f"{w // 2},{h // 2}"]
            if args.boxes:
                prompt = [a for i in range(args.boxes) for a in ("-b", f"{i},{i},{w // 2 + i},{h // 2 + i}")]
            rc, rss, secs = peak_rss([os.path.join(args.bin, "sam"), "segment", "-m", args.model, "-i", path, "-o",
                                      out] + prompt)
            size = os.path.getsize(path) / 2**20
            print(f"{name:<18} {size:8.0f} {rss:12.0f} {rss * 2**20 / (w * h):12.1f} {secs:8.1f}  "
                  f"{'ok' if rc == 0 else f'exit {rc}'}", flush=True)
            os.remove(path)
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
