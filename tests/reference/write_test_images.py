#!/usr/bin/env python3
"""Writes the BMP and EXIF-JPEG test set and decodes it the way the official pipeline reads
images, for the bit-for-bit decoder test (tests/sam/test_image_reference.cpp):

    /usr/bin/python3 write_test_images.py DIR

BMPs are written byte by byte here (every header size, depth, bitfield layout, palette
size, bottom-up and top-down rows, odd widths); JPEGs by PIL with an APP1 Exif segment
built here (Orientation 1..8, little- and big-endian TIFF, plus garbage Exif that must be
ignored). For each name in DIR/manifest.txt writes DIR/<name>.<ext> and DIR/<name>.pil.npy,
uint8 [H,W,3] from PIL: Image.open(path).convert("RGB"), after ImageOps.exif_transpose for
JPEGs (the picture viewers show). Where OpenCV is installed the JPEGs also get
DIR/<name>.cv2.npy from cv2.imread (which applies the orientation itself), BGR -> RGB.
"""
import io
import os
import struct
import sys

import numpy as np
from PIL import Image, ImageOps

try:
    import cv2
except ImportError:
    cv2 = None


def pattern(w, h, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------ BMP

def bmp(w, h, bits, rows, compression=0, header_size=40, palette=b"", masks=b"", colors=0, top_down=False,
        offset=None):
    """A BMP file: `rows` are the stored rows (unpadded bytes, top row first in the picture)."""
    stride = ((w * bits + 31) // 32) * 4
    stored = rows if top_down else rows[::-1]
    data = b"".join(r + bytes(stride - len(r)) for r in stored)
    if header_size == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        info = struct.pack("<IiiHHIIiiII", header_size, w, -h if top_down else h, 1, bits, compression,
                           len(data), 2835, 2835, colors, 0)
        info += masks[:header_size - 40] if header_size > 40 else b""
        info += bytes(header_size - len(info))
    extra = masks if header_size == 40 else b""
    end = 14 + len(info) + len(extra) + len(palette)
    start = end if offset is None else offset  # pixel data after a gap of zeros
    return (b"BM" + struct.pack("<IHHI", start + len(data), 0, 0, start) + info + extra + palette +
            bytes(start - end) + data)


def pack_indices(idx, bits):
    out = bytearray()
    per = 8 // bits
    for i in range(0, len(idx), per):
        b = 0
        for k, v in enumerate(idx[i:i + per]):
            b |= int(v) << (8 - bits * (k + 1))
        out.append(b)
    return bytes(out)


def bmp_cases():
    cases = {}
    for w, h in ((1, 1), (7, 5), (33, 20)):
        px = pattern(w, h, w * 100 + h)
        bgr = [px[y, :, ::-1].tobytes() for y in range(h)]
        for td in (False, True):
            sfx = f"{w}x{h}" + ("_topdown" if td else "")
            cases[f"bmp24_{sfx}"] = bmp(w, h, 24, bgr, top_down=td)
            bgrx = [b"".join(px[y, x, ::-1].tobytes() + bytes([x * 7 % 256]) for x in range(w)) for y in range(h)]
            cases[f"bmp32_{sfx}"] = bmp(w, h, 32, bgrx, top_down=td)
            for bits in (1, 4, 8):
                n = 1 << bits
                rng = np.random.default_rng(bits * 1000 + w)
                pal_rgb = rng.integers(0, 256, (n, 3), dtype=np.uint8)
                pal = b"".join(bytes([c[2], c[1], c[0], 0]) for c in pal_rgb)
                idx = rng.integers(0, n, (h, w))
                rows = [pack_indices(idx[y], bits) for y in range(h)]
                cases[f"bmp{bits}_{sfx}"] = bmp(w, h, bits, rows, palette=pal, top_down=td)
            v = np.random.default_rng(w).integers(0, 65536, (h, w)).astype("<u2")
            rows16 = [v[y].tobytes() for y in range(h)]
            cases[f"bmp16_555_{sfx}"] = bmp(w, h, 16, rows16, top_down=td)
            cases[f"bmp16_565_{sfx}"] = bmp(w, h, 16, rows16, compression=3, top_down=td,
                                            masks=struct.pack("<III", 0xF800, 0x7E0, 0x1F))
    w, h = 9, 6
    px = pattern(w, h, 5)
    alpha = pattern(w, h, 6)[..., 0]
    # 32-bit BI_BITFIELDS layouts, in a 40-byte header (three masks after it) and in a V5 header
    for name, order, masks in (("bgrx", "BGRX", (0xFF0000, 0xFF00, 0xFF, 0)),
                               ("xbgr", "XBGR", (0xFF000000, 0xFF0000, 0xFF00, 0)),
                               ("abgr", "ABGR", (0xFF000000, 0xFF0000, 0xFF00, 0xFF)),
                               ("rgba", "RGBA", (0xFF, 0xFF00, 0xFF0000, 0xFF000000)),
                               ("bgra", "BGRA", (0xFF0000, 0xFF00, 0xFF, 0xFF000000))):
        chan = {"R": px[..., 0], "G": px[..., 1], "B": px[..., 2], "A": alpha, "X": 255 - alpha}
        rows = [b"".join(bytes(int(chan[c][y, x]) for c in order) for x in range(w)) for y in range(h)]
        cases[f"bmp32_bitfields_{name}_v5"] = bmp(w, h, 32, rows, compression=3, header_size=124,
                                                  masks=struct.pack("<IIII", *masks))
        if masks[3] == 0:
            cases[f"bmp32_bitfields_{name}_v3"] = bmp(w, h, 32, rows, compression=3,
                                                      masks=struct.pack("<III", *masks[:3]))
    bgr = [px[y, :, ::-1].tobytes() for y in range(h)]
    cases["bmp24_bitfields"] = bmp(w, h, 24, bgr, compression=3, masks=struct.pack("<III", 0xFF0000, 0xFF00, 0xFF))
    cases["bmp24_v4_header"] = bmp(w, h, 24, bgr, header_size=108)
    cases["bmp24_v5_header_topdown"] = bmp(w, h, 24, bgr, header_size=124, top_down=True)
    # OS/2 core header: 3-byte palette entries
    rng = np.random.default_rng(9)
    idx = rng.integers(0, 256, (h, w))
    pal_rgb = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    cases["bmp8_core_header"] = bmp(w, h, 8, [idx[y].astype(np.uint8).tobytes() for y in range(h)], header_size=12,
                                    palette=b"".join(bytes([c[2], c[1], c[0]]) for c in pal_rgb))
    cases["bmp24_core_header"] = bmp(w, h, 24, bgr, header_size=12)
    # a short palette (biClrUsed = 5) with indices beyond it: PIL reads those as grey
    pal5 = b"".join(bytes([c[2], c[1], c[0], 0]) for c in pal_rgb[:5])
    cases["bmp8_short_palette"] = bmp(w, h, 8, [idx[y].astype(np.uint8).tobytes() for y in range(h)], palette=pal5,
                                      colors=5)
    # a grey ramp palette (PIL reads it as mode L) and a black/white 1-bit one (mode 1)
    ramp = b"".join(bytes([i, i, i, 0]) for i in range(256))
    cases["bmp8_grey_palette"] = bmp(w, h, 8, [idx[y].astype(np.uint8).tobytes() for y in range(h)], palette=ramp)
    bits = rng.integers(0, 2, (h, w))
    cases["bmp1_black_white"] = bmp(w, h, 1, [pack_indices(bits[y], 1) for y in range(h)],
                                    palette=b"\0\0\0\0\xff\xff\xff\0")
    # pixel data after a gap, and trailing bytes after it
    cases["bmp24_gap_and_trailer"] = bmp(w, h, 24, bgr, offset=14 + 40 + 30) + b"trailing bytes"
    return cases


# ------------------------------------------------------------------------------ EXIF JPEG

def exif_segment(orientation, big_endian=False, extra_before=0, value_type=3):
    """The APP1 payload: "Exif\\0\\0" + a TIFF header + IFD0 with `extra_before` other tags, then Orientation."""
    e = ">" if big_endian else "<"
    entries = [struct.pack(e + "HHI", 0x010F + k, 2, 4) + b"abc\0" for k in range(extra_before)]
    if value_type == 3:
        entries.append(struct.pack(e + "HHIH", 0x0112, 3, 1, orientation) + b"\0\0")
    else:
        entries.append(struct.pack(e + "HHII", 0x0112, value_type, 1, orientation))
    ifd = struct.pack(e + "H", len(entries)) + b"".join(entries) + struct.pack(e + "I", 0)
    return b"Exif\0\0" + (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8) + ifd


def exif_cases():
    cases = {}
    px = pattern(40, 24, 11)  # not square, odd in neither: rotations change the size
    px[:8, :8] = (255, 0, 0)  # a red corner to see where the top-left went
    for o in range(1, 9):
        for big in (False, True):
            cases[f"exif_o{o}_{'mm' if big else 'ii'}"] = (px, exif_segment(o, big, extra_before=o % 3))
    cases["exif_o6_long"] = (px, exif_segment(6, value_type=4))
    garbage = {
        "exif_value_9": exif_segment(9),
        "exif_value_0": exif_segment(0),
        "exif_bad_byte_order": b"Exif\0\0XX" + exif_segment(6)[8:],
        "exif_ifd_past_end": exif_segment(6)[:10] + struct.pack("<I", 0xFFFFFF00) + exif_segment(6)[14:],
        "exif_count_past_end": exif_segment(6)[:14] + struct.pack("<H", 5000) + exif_segment(6)[16:],
        "exif_cut_short": exif_segment(6)[:20],
        "exif_header_only": b"Exif\0\0",
    }
    for name, seg in garbage.items():
        cases[name] = (px, seg)
    return cases


def jpeg_with_app1(px, payload):
    b = io.BytesIO()
    Image.fromarray(px).save(b, "JPEG", quality=92)
    data = b.getvalue()
    seg = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + seg + data[2:]  # right after SOI (before PIL's JFIF APP0: as cameras write)


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    names = []
    for name, data in bmp_cases().items():
        path = os.path.join(d, name + ".bmp")
        open(path, "wb").write(data)
        with Image.open(path) as im:
            np.save(os.path.join(d, name + ".pil.npy"), np.ascontiguousarray(np.asarray(im.convert("RGB"))))
        names.append(name + ".bmp")
    cv2_count = 0
    for name, (px, payload) in exif_cases().items():
        path = os.path.join(d, name + ".jpg")
        open(path, "wb").write(jpeg_with_app1(px, payload))
        with Image.open(path) as im:
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        np.save(os.path.join(d, name + ".pil.npy"), np.ascontiguousarray(rgb))
        if cv2 is not None:
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            np.save(os.path.join(d, name + ".cv2.npy"), np.ascontiguousarray(bgr[..., ::-1]))
            cv2_count += 1
        names.append(name + ".jpg")
    open(os.path.join(d, "manifest.txt"), "w").write("\n".join(names) + "\n")
    print(f"wrote {len(names)} images, decoded with PIL {Image.__version__}"
          + (f", {cv2_count} JPEGs with OpenCV {cv2.__version__}" if cv2 is not None else " (OpenCV not installed)"))


if __name__ == "__main__":
    main()
