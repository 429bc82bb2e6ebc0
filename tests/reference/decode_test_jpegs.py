#!/usr/bin/env python3
"""Decodes the generated JPEG test set (tests/reference/write_test_jpegs.cpp) the way the
official pipeline reads images, for the bit-for-bit decoder test:

    /usr/bin/python3 decode_test_jpegs.py DIR

For each name in DIR/manifest.txt writes DIR/<name>.pil.npy, uint8 [H,W,3] from
PIL's Image.open(path).convert("RGB") (the official notebooks), and, where OpenCV is
installed, DIR/<name>.cv2.npy from cv2.imread(path) with BGR -> RGB (amg.py). cv2 is
skipped for CMYK / YCCK files: OpenCV converts CMYK by another formula than PIL, so
the two readers disagree there and PIL is the reference.
"""
import os
import sys

import numpy as np
from PIL import Image

try:
    import cv2
except ImportError:
    cv2 = None


def main():
    d = sys.argv[1]
    names = [n for n in open(os.path.join(d, "manifest.txt")).read().split() if n]
    cv2_count = 0
    for name in names:
        path = os.path.join(d, name + ".jpg")
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        np.save(os.path.join(d, name + ".pil.npy"), np.ascontiguousarray(rgb))
        if cv2 is not None and not name.startswith(("cmyk", "ycck")):
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            np.save(os.path.join(d, name + ".cv2.npy"), np.ascontiguousarray(bgr[..., ::-1]))
            cv2_count += 1
    print(f"decoded {len(names)} JPEGs with PIL {Image.__version__}"
          + (f", {cv2_count} with OpenCV {cv2.__version__}" if cv2 is not None else " (OpenCV not installed)"))


if __name__ == "__main__":
    main()
