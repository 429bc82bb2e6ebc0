"""Rows of the bad-input table for sam-convert and sam segment, and what every row file shares:
the Case record and the input-file makers. The runner and its contract: test_bad_inputs.py."""
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
                 warning=None, check=None, during=None):
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
        self.check = check      # accepted rows: (ctx, rc, stdout, stderr) -> (status, detail) instead of the default
        self.during = during    # ctx -> True once done: called every millisecond while the command runs


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
    segment("sam: error: {image}: cannot decode JPEG image: truncated (9000x11000 pixels need at least 290508 bytes "
            "of coded data; 2763 bytes follow the header)",
            "JPEG whose header claims 9000x11000 pixels (the data holds 64x48; refused before any pixel memory)",
            make=lying_jpeg,
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
    segment("sam: error: {image}: cannot decode PNG image: truncated or corrupt (its pixel data inflates to 10 "
            "bytes; the image needs 30100)",
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
    segment("sam: error: {file}: mask input of dtype '<i4'; expected float32 logits ('<f4', as --save-logits "
            "writes)",
            "mask input of the wrong dtype (int32)",
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
