#!/usr/bin/env python3
"""Writes the small seed corpora of the libFuzzer targets into tests/fuzz/corpus/<target>/.

    python3 tests/fuzz/make_seeds.py [--bad TESTDATA/bad]
    python3 tests/fuzz/make_seeds.py --zip-checkpoint-only OUTDIR [--bad TESTDATA/bad]

Needs numpy, Pillow and torch (Debian: python3-numpy python3-pil python3-torch). The
seeds are committed, except the zip_checkpoint ones: those are checkpoints (.pth), which
the repository never holds, so the tests and scripts/fuzz.sh write them into the build
tree with --zip-checkpoint-only. --bad adds the small hostile files of
tests/reference/make_bad_inputs.py (safetensors, pickle and checkpoint cases).
"""
import argparse
import io
import os
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = {}  # target -> folder, when not tests/fuzz/corpus/<target>


def put(target, name, data):
    d = OUT.get(target, os.path.join(HERE, "corpus", target))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def images():
    rng = np.random.default_rng(0)
    rgb = (rng.random((6, 9, 3)) * 255).astype(np.uint8)

    def save(img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        return b.getvalue()

    put("image", "rgb.png", save(Image.fromarray(rgb), "PNG"))
    put("image", "gray.png", save(Image.fromarray(rgb[..., 0]), "PNG"))
    put("image", "rgba.png", save(Image.fromarray(np.dstack([rgb, rgb[..., :1]])), "PNG"))
    put("image", "gray16.png", save(Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), "PNG"))
    put("image", "palette.png", save(Image.fromarray(rgb).convert("P"), "PNG"))
    put("image", "interlaced.png", save(Image.fromarray(rgb), "PNG", interlace=1))
    put("image", "bilevel.png", save(Image.fromarray(rgb[..., 0] > 128), "PNG"))
    put("image", "baseline.jpg", save(Image.fromarray(rgb), "JPEG", quality=80))
    put("image", "progressive.jpg", save(Image.fromarray(rgb), "JPEG", quality=80, progressive=True))
    put("image", "gray.jpg", save(Image.fromarray(rgb[..., 0]), "JPEG"))
    put("image", "subsampled.jpg", save(Image.fromarray(np.tile(rgb, (3, 2, 1))), "JPEG", subsampling=2))
    put("image", "cmyk.jpg", save(Image.fromarray(np.dstack([rgb, rgb[..., :1]]), "CMYK"), "JPEG"))
    # restart_411.jpg, arithmetic.jpg and ycck.jpg (restart markers with 4:1:1, arithmetic
    # coding, Adobe YCCK) are kept as committed: PIL cannot write them; they come from
    # build/release/tests/write_test_jpegs (restart1_411_33x17, arithmetic_420_97x300, ycck_420_q100_7x5).
    put("image", "rgb.bmp", save(Image.fromarray(rgb), "BMP"))
    put("image", "palette.bmp", save(Image.fromarray(rgb).convert("P"), "BMP"))
    put("image", "rgba.bmp", save(Image.fromarray(np.dstack([rgb, rgb[..., :1]])), "BMP"))


def image_regressions():
    """Inputs like those the fuzzer found problems with in stb_image 2.27 (regress_huffman_overflow.jpg
    is the fuzzer's own input, kept as it is)."""
    def png(w, h, idat, length=None):
        def chunk(t, d, n=None):
            return struct.pack(">I", len(d) if n is None else n) + t + d + struct.pack(">I", zlib.crc32(t + d))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", idat, length) + chunk(b"IEND", b""))
    put("image", "regress_idat_2g.png", png(4, 4, zlib.compress(bytes(52)), 0x7FFFFFF0))
    put("image", "regress_empty_idat.png", png(4, 4, b""))
    put("image", "regress_zlib_bomb.png", png(16, 16, zlib.compress(bytes(1 << 20), 9)))


def npys():
    def npy(a, version=None, comment=None):
        b = io.BytesIO()
        if version:
            np.lib.format.write_array(b, a, version=version)
        else:
            np.save(b, a)
        data = b.getvalue()
        if comment:  # sam-engine's embedding tag: "# ..." after the header dict
            hlen = struct.unpack("<H", data[8:10])[0]
            header = data[10:10 + hlen].rstrip(b" \n") + b" # " + comment.encode()
            header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
            data = data[:8] + struct.pack("<H", len(header)) + header + data[10 + hlen:]
        return data

    put("npy", "f4.npy", npy(np.arange(12, dtype=np.float32).reshape(3, 4)))
    put("npy", "f2.npy", npy(np.arange(5, dtype=np.float16)))
    put("npy", "i4_scalar.npy", npy(np.array(7, dtype=np.int32)))
    put("npy", "u1.npy", npy(np.zeros((2, 2, 2), np.uint8)))
    put("npy", "b1.npy", npy(np.array([True, False])))
    put("npy", "u2.npy", npy(np.arange(4, dtype="<u2")))
    put("npy", "empty.npy", npy(np.zeros((0, 3), np.float32)))
    put("npy", "v2.npy", npy(np.ones((2, 3), np.float32), version=(2, 0)))
    put("npy", "embedding_tag.npy", npy(np.zeros((1, 2, 2, 2), np.float32),
                                        comment='sam-engine-embedding {"model": "x", "image": "y", "width": 4, '
                                                '"height": 3, "variant": "tiny"}'))


def torch_seeds():
    import torch
    sd = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(3, dtype=torch.float16),
          "t": torch.arange(6, dtype=torch.float32).reshape(3, 2).t(), "v": torch.zeros(4, dtype=torch.bfloat16)[1:],
          "i": torch.arange(3)}
    b = io.BytesIO()
    torch.save(sd, b)
    pth = b.getvalue()
    put("zip_checkpoint", "small_state_dict.pth", pth)
    z = zipfile.ZipFile(io.BytesIO(pth))
    pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
    if "zip_checkpoint" not in OUT:
        put("pickle", "small_state_dict.pkl", z.read(pkl))
    b = io.BytesIO()
    torch.save({"only": torch.zeros(1)}, b)
    put("zip_checkpoint", "one_tensor.pth", b.getvalue())
    put("zip_checkpoint", "truncated.pth", pth[: len(pth) // 2])
    # The same archive with deflated entries (torch.save stores them).
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zz:
        for info in z.infolist():
            zz.writestr(info.filename, z.read(info.filename))
    put("zip_checkpoint", "deflated.pth", out.getvalue())
    if "zip_checkpoint" in OUT:
        return
    # Pickles torch never writes but the reader must refuse cleanly.
    put("pickle", "os_system.pkl", b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.")
    put("pickle", "nested_lists.pkl", b"\x80\x02]q\x00(]q\x01]q\x02h\x01e]q\x03h\x00ae.")
    put("pickle", "ordered_dict.pkl", b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00aK\x01s.")


def safetensors():
    def st(header, data):
        h = header.encode()
        return struct.pack("<Q", len(h)) + h + data

    put("safetensors", "two.safetensors",
        st('{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[4],'
           '"data_offsets":[24,32]},"__metadata__":{"format":"sam-engine","variant":"tiny"}}', bytes(32)))
    put("safetensors", "bf16_scalar.safetensors", st('{"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}', bytes(2)))
    put("safetensors", "empty_tensor.safetensors", st('{"z":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]}}', b""))
    put("safetensors", "sam_key.safetensors",
        st('{"image_encoder.patch_embed.proj.weight":{"dtype":"F32","shape":[1,3,1,1],"data_offsets":[0,12]}}',
           bytes(12)))


def prompts():
    cases = {
        "point.txt": ["segment", "-m", "m.safetensors", "-i", "a.png", "-p", "10,20", "-o", "out"],
        "box_points.txt": ["segment", "-m", "m", "-i", "a.jpg", "-b", "1,2,300,400", "-p", "5.5,6,0", "-p", "7,8,1",
                           "--single-mask", "-o", "o", "--threads", "2"],
        "two_boxes.txt": ["-b", "0,0,10,10", "-b", "3e2,1e1,4e2,2e2"],
        "mask_input.txt": ["segment", "-m", "m", "-i", "i", "--mask-input", "logits.npy", "-o", "o",
                           "--save-logits", "l.npy", "--save-embedding", "e.npy"],
        "bad.txt": ["-p", "nan,inf", "-b", "5,5,1,1", "-p", "1,2,3,4", "-p", ""],
        "trace.txt": ["trace", "-m", "m", "-i", "i", "-p", "1,1", "-o", "d", "--compare", "ref"],
        "info.txt": ["info", "-m", "m.safetensors"],
    }
    for name, args in cases.items():
        put("prompts", name, "\n".join(args).encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bad", help="TESTDATA/bad of tests/reference/make_bad_inputs.py")
    ap.add_argument("--zip-checkpoint-only", metavar="OUTDIR",
                    help="write only the zip_checkpoint seeds (.pth), into OUTDIR")
    args = ap.parse_args()
    if args.zip_checkpoint_only:
        OUT["zip_checkpoint"] = args.zip_checkpoint_only
        torch_seeds()
        if args.bad:
            for name in ("forbidden_global.pth", "builtins_eval.pth", "garbage_opcodes.pth"):
                put("zip_checkpoint", name, open(os.path.join(args.bad, name), "rb").read())
        return
    images()
    image_regressions()
    npys()
    torch_seeds()
    safetensors()
    prompts()
    if args.bad:
        for name in sorted(os.listdir(args.bad)):
            path = os.path.join(args.bad, name)
            if name.startswith("st_") and os.path.getsize(path) < 4096:
                put("safetensors", name, open(path, "rb").read())


if __name__ == "__main__":
    main()
