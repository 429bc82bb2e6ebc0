#!/usr/bin/env python3
"""The table of bad inputs (docs/bad_inputs.md) and its test, from one list: CASES.

    test_bad_inputs.py --bin BUILD/bin --data BUILD/testdata            # run every row; check the doc is current
    test_bad_inputs.py --bin BUILD/bin --data BUILD/testdata --write-doc  # also rewrite the table in the doc

Every row runs the real command. A refused input must give exactly the documented
message as the only line on stderr, the documented exit code (1: bad input, 2: usage)
and no partial output: the output (file or folder) does not exist afterwards and its
parent folder is left exactly as it was (no temporary or staging files). An accepted
row (grayscale, RGBA, 16-bit, 1x1 images) must exit 0 and write masks of the image's size;
for `sam everything` it must also print nothing on stderr (or exactly the row's warning line)
and leave exactly one complete result folder per processed image (N.png, metadata.csv,
overlay.png) and nothing else.

Messages are templates: {model}, {image}, {in}, {out} and {file} stand for the paths
the row uses (the doc shows them as MODEL, IMAGE, IN, OUT and FILE).

Rows marked `mount` need a tmpfs (a tiny or a read-only one): they run where mount(2)
is permitted (root in CI) and are reported as skipped elsewhere.

`sam everything` rows use the tiny model, 64x48 images and --points-per-side 4 (16 prompts)
unless the row is about that option, so that each runs in well under a second.

Needs BUILD/testdata from tests/reference/prepare_test_data.sh (tiny.pth, bad/), numpy
and Pillow.
"""
import argparse
import io
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.normpath(os.path.join(HERE, "..", "..", "docs", "bad_inputs.md"))
BEGIN = "<!-- BEGIN GENERATED TABLE: tests/hardening/test_bad_inputs.py --write-doc -->"
END = "<!-- END GENERATED TABLE -->"

W, H = 64, 48  # the test image
OK = None  # message of an accepted input


class Case:
    def __init__(self, tool, what, args, message, code=1, make=None, fsize=None, mount=None, out_kind=None,
                 warning=None):
        self.tool = tool        # "sam-convert" | "sam segment" | "sam everything"
        self.what = what        # the bad input, as the doc's table shows it (markdown)
        self.args = args        # ctx -> argv after the program name
        self.message = message  # template of the one stderr line; OK for an accepted input
        self.code = code
        self.make = make        # ctx -> path of the input file this row needs (ctx.file)
        self.fsize = fsize      # RLIMIT_FSIZE in bytes
        self.mount = mount      # None | "small" (64 KiB tmpfs) | "ro" (read-only tmpfs)
        self.out_kind = out_kind
        self.warning = warning  # accepted rows: template of the one stderr line (None: stderr empty)


# --------------------------------------------------------------------------------------
# Input files (each maker returns a path under ctx.work)
# --------------------------------------------------------------------------------------

def png_chunks(width, height, raw=b"", depth=8, ctype=2, idat=None, idat_length=None):
    """A PNG: IHDR, one IDAT (zlib of `raw`, or the bytes `idat`, declared `idat_length` long), IEND."""
    def chunk(t, d, length=None):
        return (struct.pack(">I", len(d) if length is None else length) + t + d +
                struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw) if idat is None else idat, idat_length) + chunk(b"IEND", b""))


def write(ctx, name, data):
    path = os.path.join(ctx.work, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def pil(ctx, name, array, fmt=None, **kw):
    path = os.path.join(ctx.work, name)
    Image.fromarray(array).save(path, fmt, **kw)
    return path


def rgb_array():
    rng = np.random.default_rng(1)
    return (rng.random((H, W, 3)) * 255).astype(np.uint8)


def jpeg_bytes():
    b = io.BytesIO()
    Image.fromarray(rgb_array()).save(b, "JPEG", quality=90)
    return b.getvalue()


def png_bytes():
    b = io.BytesIO()
    Image.fromarray(rgb_array()).save(b, "PNG")
    return b.getvalue()


def bad_huffman_jpeg(ctx):
    data = bytearray(jpeg_bytes())
    i = data.index(b"\xff\xc4")  # first DHT segment: its 16 code counts sum to more than 256
    data[i + 5:i + 21] = bytes([32] * 16)
    return write(ctx, "bad_huffman.jpg", bytes(data))


def lying_jpeg(ctx):
    data = bytearray(jpeg_bytes())
    i = data.index(b"\xff\xc0")  # baseline SOF0: precision, height, width
    data[i + 5:i + 9] = (11000).to_bytes(2, "big") + (9000).to_bytes(2, "big")
    return write(ctx, "lying_size.jpg", bytes(data))


def corrupt_zip(ctx):
    """tiny.pth with one byte of data.pkl flipped (a stored entry: only the CRC tells)."""
    src = os.path.join(ctx.data, "tiny.pth")
    data = bytearray(open(src, "rb").read())
    z = zipfile.ZipFile(src)
    info = next(i for i in z.infolist() if i.filename.endswith("/data.pkl"))
    ctx.pkl = info.filename
    # local header: 30 bytes + name + extra, then the stored bytes
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.file_size // 2] ^= 0x55
    return write(ctx, "corrupt_zip.pth", bytes(data))


def truncated_safetensors(ctx):
    data = open(ctx.random_model, "rb").read()
    return write(ctx, "truncated.safetensors", data[: len(data) // 2])


def safetensors_bytes(header):
    return struct.pack("<Q", len(header)) + header


def npy(ctx, name, array):
    path = os.path.join(ctx.work, name)
    np.save(path, array)
    return path


def bad(name):
    return lambda ctx: os.path.join(ctx.data, "bad", name)


# --------------------------------------------------------------------------------------
# The rows
# --------------------------------------------------------------------------------------

def convert(message, what, make=None, args=None, code=1, **kw):
    return Case("sam-convert", what, args or (lambda c: [c.file, c.out]), message, code, make, **kw)


def segment(message, what, extra=None, make=None, code=1, args=None, **kw):
    """sam segment -m MODEL -i IMAGE -o OUT [extra]; `extra` may use ctx (a function)."""
    def argv(c):
        e = extra(c) if callable(extra) else (extra or [])
        return ["segment", "-m", c.model, "-i", c.image, "-o", c.out] + e
    return Case("sam segment", what, args or argv, message, code, make, **kw)


def image_row(c):
    """Rows about the image: the row's file is the image; a point in its corner."""
    return ["segment", "-m", c.model, "-i", c.file, "-o", c.out, "-p", "0,0"]


P = ["-p", "10,10"]  # a valid point prompt

CASES = [
    # ---------------------------------------------------------------- sam-convert IN OUT
    convert("sam-convert: error: {in}: no such file", "missing input path",
            make=lambda c: os.path.join(c.work, "missing.pth")),
    convert("sam-convert: error: {in}: is a directory, expected a file", "a directory as input",
            make=lambda c: c.work),
    convert("sam-convert: error: {in}: empty file", "empty file (0 bytes)", make=bad("empty.pth")),
    convert("sam-convert: error: {in}: not a readable zip archive (Not a zip archive): truncated or corrupt",
            "truncated `.pth` (60% of the file: no zip directory)", make=bad("truncated.pth")),
    convert("sam-convert: error: {in}: not a readable zip archive (Not a zip archive): truncated or corrupt",
            "`.pth` cut to its first 30 bytes", make=bad("truncated_zip_header.pth")),
    convert("sam-convert: error: {in}: entry '{pkl}' is corrupt: CRC error",
            "corrupt zip: one byte of `data.pkl` flipped (CRC mismatch)", make=corrupt_zip),
    convert("sam-convert: error: {in}: not a PyTorch checkpoint (zip) or a safetensors file "
            "(starts with 1e 74 6b 79 c8 42 95 eb ...)", "random bytes (not a zip)", make=bad("wrong_magic.pth")),
    convert("sam-convert: error: {in}: forbidden pickle global 'os.system' at offset 31: only the globals "
            "torch.save writes for a state_dict are allowed; nothing from the file was executed",
            "forbidden pickle global (`os.system` + REDUCE)", make=bad("forbidden_global.pth")),
    convert("sam-convert: error: {in}: forbidden pickle global 'builtins.eval' at offset 31: only the globals "
            "torch.save writes for a state_dict are allowed; nothing from the file was executed",
            "forbidden pickle global (`builtins.eval`)", make=bad("builtins_eval.pth")),
    convert("sam-convert: error: {in}: unsupported pickle opcode 0x44 at offset 0 (not something torch.save "
            "writes for a state_dict)", "`data.pkl` of random bytes", make=bad("garbage_opcodes.pth")),
    convert("sam-convert: error: {in}: pickle data ends early (pickle offset 18051)",
            "`data.pkl` cut in half", make=bad("bad_pickle_truncated.pth")),
    convert("sam-convert: error: {in}: tensor 'image_encoder.patch_embed.proj.weight' refers to storage "
            "'archive/data/1', which the archive lacks", "a storage entry missing from the zip",
            make=bad("missing_storage.pth")),
    convert("sam-convert: error: {in}: not a SAM checkpoint: no image_encoder.patch_embed.proj.weight among its "
            "6 tensors (0.bias, 0.weight, 2.bias, ...)", "checkpoint of another model (an MLP)",
            make=bad("other_model.pth")),
    convert("sam-convert: error: {in}: does not match the SAM tiny layout: wrong shape 1 "
            "(mask_decoder.iou_token.weight [2, 33] (expected [1, 32]))", "wrong shape for a key",
            make=bad("wrong_shape.pth")),
    convert("sam-convert: error: {in}: does not match the SAM tiny layout: missing 1 "
            "(mask_decoder.iou_prediction_head.layers.2.bias)", "a key missing", make=bad("missing_key.pth")),
    convert("sam-convert: error: {in}: does not match the SAM tiny layout: unexpected 1 (image_encoder.extra.weight)",
            "an unexpected key", make=bad("extra_key.pth")),
    convert("sam-convert: error: {in}: tensor 'image_encoder.pos_embed' has dtype int64; SAM weights are float32 "
            "(or float16/bfloat16)", "wrong dtype (int64 storage)", make=bad("wrong_dtype.pth")),
    convert("sam-convert: error: {in}: tensor 'image_encoder.blocks.1.mlp.lin2.bias': data_offsets "
            "[667392, 667648] lie outside the 629996 data bytes",
            "truncated `.safetensors` (a tiny model cut in half)", make=truncated_safetensors),
    convert("sam-convert: error: {in}: not a safetensors file: 5 bytes, too short for the 8-byte header length",
            "`.safetensors` of 5 bytes", make=bad("st_short.safetensors")),
    convert("sam-convert: error: {in}: safetensors header length 332 runs past the end of the file (232 bytes)",
            "safetensors header length beyond the file", make=bad("st_header_too_long.safetensors")),
    convert("sam-convert: error: {in}: safetensors header length 1099511627776 exceeds the limit of 16777216 bytes",
            "safetensors header length 2^40 (must not allocate it)", make=bad("st_huge_header.safetensors")),
    convert("sam-convert: error: {in}: header nests deeper than 8 levels",
            "safetensors header of brackets nested 1 million deep (bounded parser memory)",
            make=lambda c: write(c, "deep.safetensors", safetensors_bytes(b'{"a":' + b"[" * 10**6 + b"]" * 10**6 + b"}"))),
    convert("sam-convert: error: {in}: header is not valid JSON", "safetensors header not JSON",
            make=bad("st_bad_json.safetensors")),
    convert("sam-convert: error: {in}: tensor 'a': unsupported dtype 'Q7'", "unknown safetensors dtype",
            make=bad("st_bad_dtype.safetensors")),
    convert("sam-convert: error: {in}: tensor 'b': data_offsets [1000, 1016] lie outside the 40 data bytes",
            "safetensors offsets beyond the data", make=bad("st_lying_offsets.safetensors")),
    convert("sam-convert: error: {in}: tensor 'b' [8, 24] overlaps the previous tensor (which ends at 24)",
            "overlapping safetensors tensors", make=bad("st_overlap.safetensors")),
    convert("sam-convert: error: {in}: tensor 'b' begin offset is negative (-8)", "negative safetensors offset",
            make=bad("st_negative.safetensors")),
    convert("sam-convert: error: {in}: tensor 'a': 20 bytes of data for shape [2, 3] f32 (expected 24)",
            "safetensors size that does not match the shape", make=bad("st_size_mismatch.safetensors")),
    convert("sam-convert: error: {in}: not a SAM checkpoint: no image_encoder.patch_embed.proj.weight among its "
            "2 tensors (a, b)", "a valid safetensors file of another model", make=bad("st_valid_control.safetensors")),
    convert("sam-convert: error: {out}: is a directory, expected an output file name", "a directory as output",
            args=lambda c: [c.tiny_pth, c.outdir]),
    convert("sam-convert: error: {out}: output directory {outparent} does not exist", "output folder missing",
            args=lambda c: [c.tiny_pth, c.out_in_missing]),
    convert("sam-convert: error: {out}: output would overwrite the input", "output == input",
            args=lambda c: [c.tiny_copy, c.tiny_copy], out_kind="same"),
    convert("sam-convert: error: {out}: cannot create output: No such file or directory",
            "unwritable output folder, even for root (`/proc`)", args=lambda c: [c.tiny_pth, "/proc/sam_out.safetensors"],
            out_kind="proc"),
    convert("sam-convert: error: {out}: cannot create output: Read-only file system",
            "unwritable output folder (read-only tmpfs) `mount`", args=lambda c: [c.tiny_pth, c.out], mount="ro"),
    convert("sam-convert: error: {out}: write failed: File too large", "full disk: file-size rlimit of 64 KiB",
            args=lambda c: [c.tiny_pth, c.out], fsize=64 * 1024),
    convert("sam-convert: error: {out}: write failed: No space left on device", "full disk: 64 KiB tmpfs `mount`",
            args=lambda c: [c.tiny_pth, c.out], mount="small"),
    convert("sam-convert: error: files is required (see --help)", "no arguments", args=lambda c: [], code=2),
    convert("sam-convert: error: --dtype: f64 not in {{f32,f16,bf16}} (see --help)", "unknown `--dtype`",
            args=lambda c: [c.tiny_pth, c.out, "--dtype", "f64"], code=2),

    # ---------------------------------------------------------------- sam segment: model
    segment("sam: error: --model is required (see sam --help)", "no arguments", args=lambda c: ["segment"], code=2),
    segment("sam: error: {model}: no such file", "missing model path", P,
            args=lambda c: ["segment", "-m", os.path.join(c.work, "missing.safetensors"), "-i", c.image, "-o", c.out] + P),
    segment("sam: error: {model}: is a directory, expected a file", "a directory as model",
            args=lambda c: ["segment", "-m", c.work, "-i", c.image, "-o", c.out] + P),
    segment("sam: error: {model}: a PyTorch checkpoint; convert it first: sam-convert {model} MODEL.safetensors",
            "a `.pth` given as model", args=lambda c: ["segment", "-m", c.tiny_pth, "-i", c.image, "-o", c.out] + P),
    segment("sam: error: {model}: tensor 'image_encoder.blocks.1.mlp.lin2.bias': data_offsets [667392, "
            "667648] lie outside the 629996 data bytes", "truncated model `.safetensors`",
            make=truncated_safetensors,
            args=lambda c: ["segment", "-m", c.file, "-i", c.image, "-o", c.out] + P),
    segment("sam: error: {model}: not a SAM checkpoint: no image_encoder.patch_embed.proj.weight among its 2 tensors "
            "(a, b)", "safetensors model of another model", make=bad("st_valid_control.safetensors"),
            args=lambda c: ["segment", "-m", c.file, "-i", c.image, "-o", c.out] + P),

    # ---------------------------------------------------------------- sam segment: image
    segment("sam: error: {image}: no such file", "missing image path",
            make=lambda c: os.path.join(c.work, "missing.png"), args=image_row),
    segment("sam: error: {image}: is a directory, expected a file", "a directory as image",
            make=lambda c: c.work, args=image_row),
    segment("sam: error: {image}: empty file", "empty image file", make=lambda c: write(c, "empty.png", b""),
            args=image_row),
    segment("sam: error: {image}: not a readable image: unknown format (PNG, JPEG and BMP are supported)",
            "non-image file (text)", make=lambda c: write(c, "text.png", b"hello, not a png\n"), args=image_row),
    segment("sam: error: {image}: not a readable image: unknown format (PNG, JPEG and BMP are supported)",
            "GIF (a format stb_image decodes but sam-engine does not accept)",
            make=lambda c: pil(c, "image.gif", rgb_array()), args=image_row),
    segment("sam: error: {image}: cannot decode JPEG image: truncated (Premature end of JPEG file)",
            "truncated JPEG (first half)", make=lambda c: write(c, "truncated.jpg", jpeg_bytes()[: len(jpeg_bytes()) // 2]),
            args=image_row),
    segment("sam: error: {image}: cannot decode PNG image: truncated or corrupt (a chunk runs past the end of the "
            "file)",
            "truncated PNG (first half)", make=lambda c: write(c, "truncated.png", png_bytes()[: len(png_bytes()) // 2]),
            args=image_row),
    segment("sam: error: {image}: cannot decode PNG image: truncated or corrupt (its pixel data inflates to more "
            "than the image's size needs)", "PNG \"zlib bomb\": a 16x16 image whose 64 KiB of data inflate to 64 MiB",
            make=lambda c: write(c, "zlib_bomb.png", png_chunks(16, 16, bytes(64 << 20))), args=image_row),
    segment("sam: error: {image}: cannot decode PNG image: truncated or corrupt (bad zlib data)",
            "PNG whose compressed data is not zlib", make=lambda c: write(c, "bad_zlib.png", png_chunks(4, 4, idat=b"\x78\x9c\xff\xff\xff\xff\xff\xff")),
            args=image_row),
    segment("sam: error: {image}: cannot decode PNG image: truncated or corrupt (a chunk runs past the end of the "
            "file)", "PNG whose IDAT chunk claims 2 GiB (stb_image would allocate that)",
            make=lambda c: write(c, "chunk_2g.png", png_chunks(4, 4, idat_length=0x7FFFFFF0)), args=image_row),
    segment("sam: error: {image}: not a readable JPEG image (Bogus Huffman table definition)",
            "JPEG whose Huffman table has more than 256 codes", make=bad_huffman_jpeg,
            args=image_row),
    segment("sam: error: {image}: cannot decode JPEG image: truncated (Corrupt JPEG data: premature end of data "
            "segment)", "JPEG whose header claims 9000x11000 pixels (the data holds 64x48)", make=lying_jpeg,
            args=image_row),
    segment("sam: error: {image}: PNG image has no pixels (0x0)", "0x0 PNG",
            make=lambda c: write(c, "0x0.png", png_chunks(0, 0)), args=image_row),
    segment(OK, "1x1 PNG (accepted: 1x1 masks)", make=lambda c: pil(c, "1x1.png", np.zeros((1, 1, 3), np.uint8)),
            args=image_row),
    segment("sam: error: image of 20000x2 pixels is too elongated: its short side would shrink to 0 pixels at the "
            "model's 256-pixel input", "20000x2 PNG (the short side rounds to 0 at the model input)",
            make=lambda c: pil(c, "20000x2.png", np.zeros((2, 20000, 3), np.uint8)), args=image_row),
    segment(OK, "4000x20 PNG (accepted: 4000x20 masks; the short side is 1 pixel at the model input)",
            make=lambda c: pil(c, "4000x20.png", np.zeros((20, 4000, 3), np.uint8)), args=image_row),
    segment("sam: error: {image}: PNG image of 20000x20000 pixels exceeds the limit of 100000000 pixels",
            "PNG header claiming 20000x20000 (refused before decoding; the file is 80 bytes)",
            make=lambda c: write(c, "huge.png", png_chunks(20000, 20000)), args=image_row),
    segment("sam: error: {image}: cannot decode PNG image: truncated or corrupt (not enough pixels)",
            "PNG with less pixel data than its header says",
            make=lambda c: write(c, "short_data.png", png_chunks(100, 100, b"\0" * 10)), args=image_row),
    segment(OK, "grayscale PNG (accepted: converted to RGB)", make=lambda c: pil(c, "gray.png", rgb_array()[..., 0]),
            args=image_row),
    segment(OK, "RGBA PNG (accepted: alpha dropped)",
            make=lambda c: pil(c, "rgba.png", np.dstack([rgb_array(), rgb_array()[..., :1]])), args=image_row),
    segment(OK, "16-bit grayscale PNG (accepted: converted to 8-bit RGB)",
            make=lambda c: pil(c, "gray16.png", rgb_array()[..., 0].astype(np.uint16) * 257), args=image_row),
    segment(OK, "palette PNG (accepted)", make=lambda c: (Image.fromarray(rgb_array()).convert("P").save(
        os.path.join(c.work, "palette.png")), os.path.join(c.work, "palette.png"))[1], args=image_row),

    # ---------------------------------------------------------------- sam segment: prompts
    segment("sam: error: --point '1,2,3,4': expected X,Y or X,Y,LABEL", "point with 4 numbers", ["-p", "1,2,3,4"]),
    segment("sam: error: --point 'x,2': 'x' is not a number", "point that is not a number", ["-p", "x,2"]),
    segment("sam: error: --point '1,,2': '' is not a number", "empty number in a point", ["-p", "1,,2"]),
    segment("sam: error: --point 'nan,2': coordinates must be finite", "NaN coordinate", ["-p", "nan,2"]),
    segment("sam: error: --point '3,inf': coordinates must be finite", "infinite coordinate", ["-p", "3,inf"]),
    segment("sam: error: --point '1,2,7': LABEL must be 1 (foreground) or 0 (background)", "point label 7",
            ["-p", "1,2,7"]),
    segment("sam: error: --point '99,10' lies outside the 64x48 image", "point outside the image", ["-p", "99,10"]),
    segment("sam: error: --box '50,10,20,40': needs X1 > X0 and Y1 > Y0", "box with x1 < x0", ["-b", "50,10,20,40"]),
    segment("sam: error: --box '10,10,10,40': needs X1 > X0 and Y1 > Y0", "empty box (x1 == x0)",
            ["-b", "10,10,10,40"]),
    segment("sam: error: --box '1,2,3': expected X0,Y0,X1,Y1", "box with 3 numbers", ["-b", "1,2,3"]),
    segment("sam: error: --box '0,0,nan,9': coordinates must be finite", "box with NaN", ["-b", "0,0,nan,9"]),
    segment("sam: error: --box '0,0,65,9' lies outside the 64x48 image", "box outside the image", ["-b", "0,0,65,9"]),
    segment("sam: error: no prompt given: use -p X,Y[,LABEL], -b X0,Y0,X1,Y1 or --mask-input FILE.npy",
            "no prompt at all", []),
    segment("sam: error: too many points: 65 (at most 64)", "too many prompts: 65 points",
            lambda c: [a for i in range(65) for a in ("-p", f"{i % W},{i % H}")]),
    segment("sam: error: too many boxes: 65 (at most 64)", "too many prompts: 65 boxes",
            lambda c: [a for i in range(65) for a in ("-b", "1,1,20,20")]),
    segment("sam: error: 192 masks of 20000x300 pixels exceed the limit of 1073741824 mask pixels: use fewer boxes "
            "or --single-mask", "masks x pixels over the output bound (64 boxes on 20000x300)",
            make=lambda c: pil(c, "20000x300.png", np.zeros((300, 20000, 3), np.uint8)),
            args=lambda c: ["segment", "-m", c.model, "-i", c.file, "-o", c.out] +
            [a for i in range(64) for a in ("-b", "1,1,20,20")]),
    segment("sam: error: {file}: mask input of shape [1, 1, 32, 32]; expected [1, 1, 64, 64] low-res logits (one "
            "mask, e.g. from --save-logits with --single-mask)", "mask input of the wrong shape",
            lambda c: ["--mask-input", c.file], make=lambda c: npy(c, "mask32.npy", np.zeros((1, 1, 32, 32), np.float32))),
    segment("sam: error: {file}: mask input must be float32 logits", "mask input of the wrong dtype (int32)",
            lambda c: ["--mask-input", c.file], make=lambda c: npy(c, "mask_i4.npy", np.zeros((1, 1, 64, 64), np.int32))),
    segment("sam: error: {file}: not a .npy file (bad magic)", "mask input that is not a .npy",
            lambda c: ["--mask-input", c.file], make=lambda c: write(c, "mask.npy", b"not numpy\n")),
    segment("sam: error: {file}: mask input of 2097280 bytes; low-res logits take at most 1048576",
            "mask input file too large (refused before reading)", lambda c: ["--mask-input", c.file],
            make=lambda c: npy(c, "mask_big.npy", np.zeros((512, 1024), np.float32))),
    segment("sam: error: {file}: embedding was computed with another model (variant tiny), not {model}",
            "embedding file from another model", lambda c: P + ["--load-embedding", c.embedding_other_model]),
    segment("sam: error: {file}: embedding was computed for another image", "embedding file from another image",
            lambda c: P + ["--load-embedding", c.embedding_other_image]),
    segment("sam: error: {file}: not an embedding written by sam segment --save-embedding",
            "a plain .npy as embedding", lambda c: P + ["--load-embedding", c.file],
            make=lambda c: npy(c, "plain.npy", np.zeros((1, 32, 16, 16), np.float32))),

    # ---------------------------------------------------------------- sam segment: outputs
    segment("sam: error: {out}: cannot create output folder: No such file or directory",
            "unwritable output folder, even for root (`/proc/...`)",
            args=lambda c: ["segment", "-m", c.model, "-i", c.image, "-o", "/proc/sam_out"] + P, out_kind="proc"),
    segment("sam: error: {out}: cannot write to output folder: Read-only file system",
            "existing output folder on a read-only tmpfs `mount`", P, mount="ro"),
    segment("sam: error: {out}: exists and is not a directory", "output folder is a file",
            args=lambda c: ["segment", "-m", c.model, "-i", c.image, "-o", c.image] + P, out_kind="image"),
    segment("sam: error: {out}/{staging}/overlay.png: write failed: File too large",
            "full disk: file-size rlimit of 2 KiB (no output folder is left)", P, fsize=2048),
    segment("sam: error: {out}/{staging}/overlay.png: write failed: No space left on device",
            "full disk: 16 KiB tmpfs `mount`", P, mount="small"),
    segment("sam: error: {file}: output directory {fileparent} does not exist", "`--save-logits` into a missing folder",
            lambda c: P + ["--save-logits", c.file], make=lambda c: os.path.join(c.work, "no_dir", "logits.npy")),
    segment("sam: error: --threads: Value 0 not in range 1 to 1024 (see sam --help)", "`--threads 0`",
            P + ["--threads", "0"], code=2),
    segment("sam: error: --save-embedding excludes --load-embedding (see sam --help)",
            "`--save-embedding` with `--load-embedding`", P + ["--save-embedding", "a.npy", "--load-embedding", "b.npy"],
            code=2),
    segment("sam: error: The following argument was not expected: --bogus (see sam --help)", "unknown option",
            P + ["--bogus"], code=2),
]


# ---------------------------------------------------------------------- sam everything
FAST = ["--points-per-side", "4"]  # 16 prompts: each row runs in well under a second
ALL = FAST + ["--pred-iou-thresh", "0", "--stability-score-thresh", "0"]  # accepted rows: keep every mask


def everything(message, what, extra=None, make=None, code=1, args=None, **kw):
    """sam everything -m MODEL --input IMAGE --output OUT --points-per-side 4 [extra]."""
    def argv(c):
        e = extra(c) if callable(extra) else (extra or [])
        return ["everything", "-m", c.model, "--input", c.image, "--output", c.out] + FAST + e
    return Case("sam everything", what, args or argv, message, code, make, **kw)


def everything_option(message, what, options, code=2):
    """A row about everything's own options: the defaults' grid unless the row sets --points-per-side."""
    return Case("sam everything", what,
                lambda c: ["everything", "-m", c.model, "--input", c.image, "--output", c.out] +
                ([] if "--points-per-side" in options else FAST) + options, message, code)


def everything_input(extra=None):
    """Rows about the input: the row's file (or folder) is --input."""
    return lambda c: ["everything", "-m", c.model, "--input", c.file, "--output", c.out] + (extra or FAST)


def everything_model(c):
    return ["everything", "-m", c.file, "--input", c.image, "--output", c.out] + FAST


def existing_result(c):
    """OUT/image/ from an earlier run (with a file in it): the row's output exists already."""
    os.makedirs(os.path.join(c.out, "image"))
    with open(os.path.join(c.out, "image", "0.png"), "wb") as f:
        f.write(png_bytes())
    return None


def folder_with_non_image(c):
    """A folder input: a readable image and a text file; the row's file is the text file."""
    folder = os.path.join(c.work, "folder_in")
    os.makedirs(folder, exist_ok=True)
    pil(c, os.path.join("folder_in", "a.png"), rgb_array())
    return write(c, os.path.join("folder_in", "notes.txt"), b"not an image\n")


CASES += [
    # ------------------------------------------------------------ sam everything: model
    everything("sam: error: --model is required (see sam --help)", "no arguments", args=lambda c: ["everything"],
               code=2),
    everything("sam: error: --input is required (see sam --help)", "`--input` missing",
               args=lambda c: ["everything", "-m", c.model, "--output", c.out] + FAST, code=2),
    everything("sam: error: --output is required (see sam --help)", "`--output` missing",
               args=lambda c: ["everything", "-m", c.model, "--input", c.image] + FAST, code=2),
    everything("sam: error: --model is required (see sam --help)", "`-m` missing",
               args=lambda c: ["everything", "--input", c.image, "--output", c.out] + FAST, code=2),
    everything("sam: error: {model}: no such file", "missing model path",
               make=lambda c: os.path.join(c.work, "missing.safetensors"), args=everything_model),
    everything("sam: error: {model}: is a directory, expected a file", "a directory as model",
               make=lambda c: c.work, args=everything_model),
    everything("sam: error: {model}: a PyTorch checkpoint; convert it first: sam-convert {model} MODEL.safetensors",
               "a `.pth` given as model", make=lambda c: c.tiny_pth, args=everything_model),
    everything("sam: error: {model}: tensor 'image_encoder.blocks.1.mlp.lin2.bias': data_offsets [667392, "
               "667648] lie outside the 629996 data bytes", "truncated model `.safetensors`",
               make=truncated_safetensors, args=everything_model),

    # ------------------------------------------------------------ sam everything: input
    everything("sam: error: {image}: no such file or folder", "missing input path",
               make=lambda c: os.path.join(c.work, "missing.png"), args=everything_input()),
    everything("sam: error: {image}: no files to process", "an empty folder as input",
               make=lambda c: (os.makedirs(os.path.join(c.work, "empty_dir"), exist_ok=True),
                               os.path.join(c.work, "empty_dir"))[1], args=everything_input()),
    everything("sam: error: {image}: empty file", "empty image file", make=lambda c: write(c, "empty.png", b""),
               args=everything_input()),
    everything("sam: error: {image}: not a readable image: unknown format (PNG, JPEG and BMP are supported)",
               "non-image file (text)", make=lambda c: write(c, "text.png", b"hello, not a png\n"),
               args=everything_input()),
    everything("sam: error: {image}: cannot decode JPEG image: truncated (Premature end of JPEG file)",
               "truncated JPEG (first half)",
               make=lambda c: write(c, "truncated.jpg", jpeg_bytes()[: len(jpeg_bytes()) // 2]),
               args=everything_input()),
    everything("sam: error: {image}: cannot decode PNG image: truncated or corrupt (a chunk runs past the end of "
               "the file)", "truncated PNG (first half)",
               make=lambda c: write(c, "truncated.png", png_bytes()[: len(png_bytes()) // 2]),
               args=everything_input()),
    everything("sam: error: {image}: PNG image has no pixels (0x0)", "0x0 PNG",
               make=lambda c: write(c, "0x0.png", png_chunks(0, 0)), args=everything_input()),
    everything("sam: error: {image}: image of 20000x2 pixels is too elongated: its short side would shrink to 0 "
               "pixels at the model's 256-pixel input", "20000x2 PNG (the short side rounds to 0 at the model input)",
               make=lambda c: pil(c, "20000x2.png", np.zeros((2, 20000, 3), np.uint8)), args=everything_input()),
    everything("sam: error: {image}: PNG image of 20000x20000 pixels exceeds the limit of 100000000 pixels",
               "PNG header claiming 20000x20000 (refused before decoding)",
               make=lambda c: write(c, "huge.png", png_chunks(20000, 20000)), args=everything_input()),
    everything(OK, "grayscale PNG (accepted: converted to RGB)",
               make=lambda c: pil(c, "gray.png", rgb_array()[..., 0]), args=everything_input(ALL)),
    everything(OK, "RGBA PNG (accepted: alpha dropped)",
               make=lambda c: pil(c, "rgba.png", np.dstack([rgb_array(), rgb_array()[..., :1]])),
               args=everything_input(ALL)),
    everything(OK, "16-bit grayscale PNG (accepted: converted to 8-bit RGB)",
               make=lambda c: pil(c, "gray16.png", rgb_array()[..., 0].astype(np.uint16) * 257),
               args=everything_input(ALL)),
    everything(OK, "1x1 PNG (accepted: 1x1 masks)", make=lambda c: pil(c, "1x1.png", np.zeros((1, 1, 3), np.uint8)),
               args=everything_input(ALL)),
    everything("sam: error: {image}: image of 1x1 pixels is too small for crop layer 1 (2x2 crops): some would be "
               "empty", "1x1 PNG with `--crop-n-layers 1` (empty crops; refused before any work)",
               make=lambda c: pil(c, "1x1.png", np.zeros((1, 1, 3), np.uint8)),
               args=everything_input(FAST + ["--crop-n-layers", "1"])),
    everything(OK, "a folder input with a non-image file in it (accepted: that file skipped with a warning, "
               "the image processed)", make=folder_with_non_image,
               args=lambda c: ["everything", "-m", c.model, "--input", os.path.dirname(c.file), "--output", c.out] +
               ALL, warning="sam: warning: skipping {file}: not a readable image: unknown format (PNG, JPEG and BMP "
               "are supported)"),

    # ------------------------------------------------------------ sam everything: output
    everything("sam: error: {out}: cannot create output folder: No such file or directory",
               "unwritable output folder, even for root (`/proc/...`)",
               args=lambda c: ["everything", "-m", c.model, "--input", c.image, "--output", "/proc/sam_out"] + FAST,
               out_kind="proc"),
    everything("sam: error: {out}: cannot write to output folder: Read-only file system",
               "existing output folder on a read-only tmpfs `mount`", mount="ro"),
    everything("sam: error: {out}: exists and is not a folder", "output folder is a file",
               args=lambda c: ["everything", "-m", c.model, "--input", c.image, "--output", c.image] + FAST,
               out_kind="image"),
    everything("sam: error: {out}/image: already exists (use --overwrite to replace it)",
               "a result for the image exists already (no `--overwrite`): refused before any work, left as it was",
               make=existing_result),
    everything("sam: error: {out}/{staging}/image/overlay.png: write failed: File too large",
               "full disk: file-size rlimit of 2 KiB (no output folder is left)", fsize=2048),
    everything("sam: error: {out}/{staging}/image/overlay.png: write failed: No space left on device",
               "full disk: 8 KiB tmpfs `mount`", mount="small"),

    # ------------------------------------------------------------ sam everything: its options
    everything_option("sam: error: --points-per-side: Value 0 not in range 1 to 256 (see sam --help)",
                      "`--points-per-side 0`", ["--points-per-side", "0"]),
    everything_option("sam: error: --points-per-side: Value -4 not in range 1 to 256 (see sam --help)",
                      "`--points-per-side -4`", ["--points-per-side", "-4"]),
    everything_option("sam: error: --points-per-side: Value x is not an integer (see sam --help)",
                      "`--points-per-side x` (not a number)", ["--points-per-side", "x"]),
    everything_option("sam: error: --points-per-side: Value 4.5 is not an integer (see sam --help)",
                      "`--points-per-side 4.5`", ["--points-per-side", "4.5"]),
    everything_option("sam: error: --points-per-side: Value 1000000 not in range 1 to 256 (see sam --help)",
                      "`--points-per-side 1000000` (10^12 prompts: refused, not run)", ["--points-per-side", "1000000"]),
    everything_option("sam: error: --points-per-side: Value 99999999999999999999 not in range 1 to 256 (see sam "
                      "--help)", "`--points-per-side` beyond 64 bits", ["--points-per-side", "99999999999999999999"]),
    everything_option("sam: error: 327680 prompt points per image (--points-per-side 256, --crop-n-layers 1, "
                      "--crop-n-points-downscale-factor 1) exceed the limit of 65536 (see sam --help)",
                      "`--points-per-side 256 --crop-n-layers 1` (5 crops of 65536 points: bounded work)",
                      ["--points-per-side", "256", "--crop-n-layers", "1"]),
    everything_option("sam: error: --points-per-batch: Value 0 not in range 1 to 4096 (see sam --help)",
                      "`--points-per-batch 0`", ["--points-per-batch", "0"]),
    everything_option("sam: error: --pred-iou-thresh: Value nan is not a finite number (see sam --help)",
                      "`--pred-iou-thresh nan`", ["--pred-iou-thresh", "nan"]),
    everything_option("sam: error: --pred-iou-thresh: Value 1.5 not in range 0 to 1 (see sam --help)",
                      "`--pred-iou-thresh 1.5`", ["--pred-iou-thresh", "1.5"]),
    everything_option("sam: error: --pred-iou-thresh: Value -0.1 not in range 0 to 1 (see sam --help)",
                      "`--pred-iou-thresh -0.1`", ["--pred-iou-thresh", "-0.1"]),
    everything_option("sam: error: --stability-score-thresh: Value nan is not a finite number (see sam --help)",
                      "`--stability-score-thresh nan`", ["--stability-score-thresh", "nan"]),
    everything_option("sam: error: --stability-score-thresh: Value 2 not in range 0 to 1 (see sam --help)",
                      "`--stability-score-thresh 2`", ["--stability-score-thresh", "2"]),
    everything_option("sam: error: --stability-score-offset: Value inf is not a finite number (see sam --help)",
                      "`--stability-score-offset inf`", ["--stability-score-offset", "inf"]),
    everything_option("sam: error: --stability-score-offset: Value -1 is below 0 (see sam --help)",
                      "`--stability-score-offset -1`", ["--stability-score-offset", "-1"]),
    everything_option("sam: error: --box-nms-thresh: Value nan is not a finite number (see sam --help)",
                      "`--box-nms-thresh nan`", ["--box-nms-thresh", "nan"]),
    everything_option("sam: error: --box-nms-thresh: Value 1e999 is not a finite number (see sam --help)",
                      "`--box-nms-thresh 1e999` (infinite)", ["--box-nms-thresh", "1e999"]),
    everything_option("sam: error: --box-nms-thresh: Value 1.5 not in range 0 to 1 (see sam --help)",
                      "`--box-nms-thresh 1.5`", ["--box-nms-thresh", "1.5"]),
    everything_option("sam: error: --crop-nms-thresh: Value nan is not a finite number (see sam --help)",
                      "`--crop-nms-thresh nan`", ["--crop-nms-thresh", "nan"]),
    everything_option("sam: error: --crop-nms-thresh: Value -0.5 not in range 0 to 1 (see sam --help)",
                      "`--crop-nms-thresh -0.5`", ["--crop-nms-thresh", "-0.5"]),
    everything_option("sam: error: --crop-overlap-ratio: Value nan is not a finite number (see sam --help)",
                      "`--crop-overlap-ratio nan`", ["--crop-overlap-ratio", "nan"]),
    everything_option("sam: error: --crop-overlap-ratio: Value 1 not in range 0 to 0.999 (see sam --help)",
                      "`--crop-overlap-ratio 1`", ["--crop-overlap-ratio", "1"]),
    everything_option("sam: error: --crop-overlap-ratio: Value abc is not a number (see sam --help)",
                      "`--crop-overlap-ratio abc`", ["--crop-overlap-ratio", "abc"]),
    everything_option("sam: error: --crop-n-layers: Value -1 not in range 0 to 6 (see sam --help)",
                      "`--crop-n-layers -1`", ["--crop-n-layers", "-1"]),
    everything_option("sam: error: --crop-n-layers: Value 1000000 not in range 0 to 6 (see sam --help)",
                      "`--crop-n-layers 1000000`", ["--crop-n-layers", "1000000"]),
    everything_option("sam: error: 87376 prompt points per image (--points-per-side 4, --crop-n-layers 6, "
                      "--crop-n-points-downscale-factor 1) exceed the limit of 65536 (see sam --help)",
                      "`--crop-n-layers 6` (5461 crops: bounded work)",
                      ["--points-per-side", "4", "--crop-n-layers", "6"]),
    everything_option("sam: error: crop layer 3 would have no points: --points-per-side 4 / "
                      "--crop-n-points-downscale-factor 2^3 < 1 (see sam --help)",
                      "`--crop-n-points-downscale-factor` leaving a crop layer without points",
                      ["--points-per-side", "4", "--crop-n-layers", "3", "--crop-n-points-downscale-factor", "2"]),
    everything_option("sam: error: --crop-n-points-downscale-factor: Value 0 not in range 1 to 1024 (see sam --help)",
                      "`--crop-n-points-downscale-factor 0`", ["--crop-n-points-downscale-factor", "0"]),
    everything_option("sam: error: --min-mask-region-area: Value -1 not in range 0 to 1073741824 (see sam --help)",
                      "`--min-mask-region-area -1`", ["--min-mask-region-area", "-1"]),
    everything_option("sam: error: --threads: Value 0 not in range 1 to 1024 (see sam --help)", "`--threads 0`",
                      ["--threads", "0"]),
    everything_option("sam: error: The following argument was not expected: --bogus (see sam --help)",
                      "unknown option", ["--bogus"]),
]


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------

class Ctx:
    pass


def run(cmd, fsize=None):
    def preexec():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec)
    out, err = p.communicate()
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def mount_tmpfs(path, options):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path], capture_output=True, text=True)
    return p.returncode == 0


def umount(path):
    subprocess.run(["umount", path], capture_output=True)


def listing(path):
    """Every file and folder under path (relative), to tell that nothing was added."""
    out = set()
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(root, n), path))
    return out


def prepare(args):
    c = Ctx()
    c.bin, c.data = args.bin, args.data
    c.sam, c.convert = os.path.join(args.bin, "sam"), os.path.join(args.bin, "sam-convert")
    c.base = tempfile.mkdtemp(prefix="sam_bad_inputs_")
    c.work = os.path.join(c.base, "work")  # inputs; never written by the commands under test
    os.mkdir(c.work)
    c.tiny_pth = os.path.join(c.data, "tiny.pth")
    c.model = os.path.join(c.work, "tiny.safetensors")
    c.random_model = os.path.join(c.work, "random_tiny.safetensors")
    other_model = os.path.join(c.work, "other_tiny.safetensors")
    for cmd in ([c.convert, c.tiny_pth, c.model, "-q"], [c.convert, "--random", "tiny", c.random_model, "-q"],
                [c.convert, "--random", "tiny", "--seed", "5", other_model, "-q"]):
        rc, _, err = run(cmd)
        if rc != 0:
            sys.exit(f"setup failed: {' '.join(cmd)}: {err}")
    c.image = pil(c, "image.png", rgb_array())
    other_image = pil(c, "other.png", rgb_array()[::-1].copy())
    c.tiny_copy = os.path.join(c.base, "copy", "tiny.pth")
    os.makedirs(os.path.dirname(c.tiny_copy))
    shutil.copy(c.tiny_pth, c.tiny_copy)
    # Embeddings: one of (other model, image), one of (model, other image).
    c.embedding_other_model = os.path.join(c.work, "emb_other_model.npy")
    c.embedding_other_image = os.path.join(c.work, "emb_other_image.npy")
    for m, i, e in ((other_model, c.image, c.embedding_other_model), (c.model, other_image, c.embedding_other_image)):
        rc, _, err = run([c.sam, "segment", "-m", m, "-i", i, "-p", "1,1", "-o", os.path.join(c.base, "emb_out"),
                          "--save-embedding", e])
        if rc != 0:
            sys.exit(f"setup failed: embedding: {err}")
    shutil.rmtree(os.path.join(c.base, "emb_out"))
    return c


def value_of(argv, *flags):
    """The value after the first of `flags` in argv (None if absent)."""
    for i, a in enumerate(argv[:-1]):
        if a in flags:
            return argv[i + 1]
    return None


def check_everything_result(case, names, out_path, rc, err):
    """An accepted `sam everything` row: exit 0, stderr empty (or exactly the row's warning), and in the
    output folder exactly one complete result per readable image: <stem>/ with N.png (0/255, the image's
    size; N >= 1, as metadata.csv lists), metadata.csv and overlay.png (the image's size)."""
    if rc != 0:
        return "FAIL", f"exit code {rc}, expected 0: {err.strip()}"
    want_err = [case.warning.format(**names)] if case.warning else []
    if err.strip().splitlines() != want_err:
        return "FAIL", f"stderr {err.strip()!r}, expected {want_err}"
    src = names["image"]
    images = [os.path.join(src, n) for n in sorted(os.listdir(src))] if os.path.isdir(src) else [src]
    images = [i for i in images if names["file"] != i or not case.warning]  # the skipped file
    stems = {os.path.splitext(os.path.basename(i))[0]: i for i in images}
    if sorted(os.listdir(out_path)) != sorted(stems):
        return "FAIL", f"output folder holds {sorted(os.listdir(out_path))}, expected {sorted(stems)}"
    sizes = []
    for stem, path in stems.items():
        size = Image.open(path).size
        folder = os.path.join(out_path, stem)
        n = len(open(os.path.join(folder, "metadata.csv")).read().split("\n")) - 1
        want = sorted([f"{i}.png" for i in range(n)] + ["metadata.csv", "overlay.png"])
        if n < 1 or sorted(os.listdir(folder)) != want:
            return "FAIL", f"{folder}: {sorted(os.listdir(folder))}, expected {n} >= 1 masks"
        for f in want:
            if f.endswith(".png") and Image.open(os.path.join(folder, f)).size != size:
                return "FAIL", f"{folder}/{f}: size {Image.open(os.path.join(folder, f)).size}, image {size}"
        sizes.append(f"{n} masks of {size[0]}x{size[1]}")
    return "ok", ", ".join(sizes) + (" + the warning" if case.warning else "")


def run_case(c, case, index):
    """Returns (status, detail): status in ok / FAIL / skip."""
    slot = os.path.join(c.base, f"case_{index}")  # the output's parent: must end as it started (empty)
    os.mkdir(slot)
    c.outdir = slot
    c.out = os.path.join(slot, "out.safetensors" if case.tool == "sam-convert" else "out")
    c.out_in_missing = os.path.join(slot, "missing_dir", "out.safetensors")
    mounted = None
    try:
        if case.mount:
            # small: each tool's output does not fit (sam everything writes only metadata.csv and a 9 KiB
            # overlay.png at its defaults on the random tiny model: 16 KiB would hold them)
            opts = {"sam-convert": "size=64k", "sam segment": "size=16k", "sam everything": "size=8k"}[case.tool]
            opts = "ro,size=64k" if case.mount == "ro" else opts
            if not mount_tmpfs(slot, opts):
                return "skip", "mount not permitted here"
            mounted = slot
            if case.mount == "ro" and case.tool != "sam-convert":
                c.out = slot  # an existing folder that cannot be written
            # (a small tmpfs: the output goes inside it, as usual)
        c.file = case.make(c) if case.make else None
        argv = case.args(c)
        prog = c.convert if case.tool == "sam-convert" else c.sam  # sam segment / sam everything
        before = listing(slot)
        rc, out, err = run([prog] + argv, case.fsize)
        lines = err.strip().splitlines()
        # the paths the templates name
        out_path = None
        if case.tool == "sam-convert":
            out_path = argv[1] if len(argv) > 1 else c.out
        else:
            out_path = value_of(argv, "-o", "--output")
        names = {
            "in": argv[0] if case.tool == "sam-convert" and argv else "",
            "out": out_path or "",
            "model": value_of(argv, "-m") or "",
            "image": value_of(argv, "-i", "--input") or "",
            "file": c.file or "",
            "fileparent": os.path.dirname(c.file) if c.file else "",
            "outparent": os.path.dirname(out_path or ""),
            "pkl": getattr(c, "pkl", ""),
            "staging": "\x02",  # the staging folder: .sam-staging-XXXXXX (random)
        }
        if "--load-embedding" in argv:
            names["file"] = argv[argv.index("--load-embedding") + 1]
        if case.message is OK and case.tool == "sam everything":
            return check_everything_result(case, names, out_path, rc, err)
        if case.message is OK:
            if rc != 0:
                return "FAIL", f"exit code {rc}, expected 0: {err.strip()}"
            image = Image.open(names["image"])
            masks = sorted(f for f in os.listdir(out_path) if f.startswith("mask_"))
            if len(masks) != 3:
                return "FAIL", f"{len(masks)} masks written"
            for m in masks:
                if Image.open(os.path.join(out_path, m)).size != image.size:
                    return "FAIL", f"{m}: size {Image.open(os.path.join(out_path, m)).size}, image {image.size}"
            return "ok", f"3 masks of {image.size[0]}x{image.size[1]}"
        want = case.message.format(**names)
        if rc != case.code:
            return "FAIL", f"exit code {rc}, expected {case.code}; stderr: {err.strip()[:400]}"
        if len(lines) != 1:
            return "FAIL", f"{len(lines)} lines on stderr: {err[:600]}"
        if not re.fullmatch(re.escape(want).replace("\x02", r"\.sam-staging-[A-Za-z0-9]{6}"), lines[0]):
            return "FAIL", f"message\n       got:  {lines[0]}\n       want: {want}"
        after = listing(slot)
        if after != before:
            return "FAIL", f"partial output left behind: {sorted(after - before)}"
        if case.out_kind == "same" and open(c.tiny_copy, "rb").read() != open(c.tiny_pth, "rb").read():
            return "FAIL", "the input was modified"
        return "ok", lines[0]
    finally:
        if mounted:
            umount(mounted)
        shutil.rmtree(slot, ignore_errors=True)


# --------------------------------------------------------------------------------------
# The doc's table
# --------------------------------------------------------------------------------------

def doc_table():
    def shown(template):
        text = template.replace("{{", "\x00").replace("}}", "\x01")
        for k, v in (("in", "IN"), ("out", "OUT"), ("model", "MODEL"), ("image", "IMAGE"), ("file", "FILE"),
                     ("fileparent", "DIR"), ("outparent", "DIR"), ("pkl", "PREFIX/data.pkl"),
                     ("staging", ".sam-staging-XXXXXX")):
            text = text.replace("{" + k + "}", v)
        return text.replace("\x00", "{").replace("\x01", "}").replace("|", "\\|")

    rows = ["| # | tool | bad input | exit | message (stderr, one line) |", "|---|---|---|---|---|"]
    for i, case in enumerate(CASES, 1):
        what = case.what.replace("`mount`", "(tmpfs: needs mount)")
        if case.message is OK and case.warning:
            rows.append(f"| {i} | {case.tool} | {what} | 0 | accepted, with the one stderr line "
                        f"`{shown(case.warning)}` |")
        elif case.message is OK:
            rows.append(f"| {i} | {case.tool} | {what} | 0 | accepted: masks at the image's size |")
        else:
            rows.append(f"| {i} | {case.tool} | {what} | {case.code} | `{shown(case.message)}` |")
    return "\n".join(rows) + "\n"


def check_doc(write):
    text = open(DOC).read() if os.path.exists(DOC) else ""
    if BEGIN not in text or END not in text:
        return f"{DOC} lacks the markers {BEGIN} ... {END}"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + doc_table() + END + tail
    if new == text:
        return None
    if write:
        open(DOC, "w").write(new)
        print(f"rewrote the table in {DOC}")
        return None
    return f"{DOC}: the table differs from CASES; run tests/hardening/test_bad_inputs.py --write-doc"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--write-doc", action="store_true", help="rewrite the table in docs/bad_inputs.md")
    ap.add_argument("-k", help="only rows whose input text contains this")
    args = ap.parse_args()
    failures, skipped = [], 0
    doc_problem = check_doc(args.write_doc)
    if doc_problem:
        failures.append(doc_problem)
        print("FAIL:", doc_problem)
    c = prepare(args)
    try:
        for i, case in enumerate(CASES, 1):
            if args.k and args.k not in case.what:
                continue
            status, detail = run_case(c, case, i)
            print(f"{status:>4}  {i:3d} {case.tool:<14} {case.what[:60]:<60} {detail[:160] if status != 'FAIL' else ''}")
            if status == "FAIL":
                print("      " + detail)
                failures.append(f"row {i} ({case.what}): {detail}")
            skipped += status == "skip"
    finally:
        shutil.rmtree(c.base, ignore_errors=True)
    if os.path.exists("/tmp/pwned"):
        failures.append("/tmp/pwned exists: a pickle was executed")
    print(f"{len(CASES)} rows: {len(CASES) - len(failures) - skipped} ok, {skipped} skipped, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
