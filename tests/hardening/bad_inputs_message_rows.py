"""Rows of the bad-input table: message cases of issue 15 (see test_bad_inputs.py for the contract):
control characters from files and arguments (printed as \\xNN escapes, one line, never cut at a NUL),
NaN / infinity in weights and in --mask-input, numbers at the edges of the float range, and files that
are not what the option wants (named for what they are)."""
import json
import os
import shutil
import struct
import subprocess
import warnings
import zipfile

import numpy as np

from bad_inputs_rows import *  # noqa: F401,F403 (Case, makers, convert/segment helpers, OK, W, H, ...)
from bad_inputs_everything_rows import everything, everything_input, everything_model, everything_option, FAST, ALL  # noqa: F401,E501

# ------------------------------------------------------------------------------ makers

def st_file(c, name, header, body):
    """A safetensors file; json.dumps writes control characters as \\u escapes, which decode to the raw bytes."""
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return write(c, name, struct.pack("<Q", len(h)) + h + body)


def hostile_names(c):
    """Two valid f32 tensors named 'a ESC ]0;pwned BEL' (retitles an xterm) and 'b LF c NUL d'."""
    return st_file(c, "hostile_names.safetensors",
                   {"a\x1b]0;pwned\x07": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "b\nc\x00d": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, bytes(16))


def hostile_dtype(c):
    """A tensor named 'x ESC [2J' (clears the screen) whose dtype is 'F ESC [31m 64'."""
    return st_file(c, "hostile_dtype.safetensors",
                   {"x\x1b[2J": {"dtype": "F\x1b[31m64", "shape": [2], "data_offsets": [0, 16]}}, bytes(16))


def binunicode(s):
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def rezip(c, src, name, replace=None, extra=()):
    """A stored zip with the entries of `src` (data.pkl replaced by `replace`), then the (name, bytes) `extra`."""
    path = os.path.join(c.work, name)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zout:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name": the point of one row
            for info in zin.infolist():
                data = zin.read(info)
                if replace is not None and info.filename.endswith("/data.pkl"):
                    data = replace
                zout.writestr(info.filename, data)
            for n, d in extra:
                zout.writestr(n, d)
    return path


def hostile_global(c):
    """A torch zip whose data.pkl calls a STACK_GLOBAL 'os ESC ]0;pwned BEL' . 'sys LF tem NUL' (never run)."""
    pkl = (b"\x80\x04}" + binunicode("image_encoder.pos_embed") + binunicode("os\x1b]0;pwned\x07") +
           binunicode("sys\ntem\x00") + b"\x93" + binunicode("echo pwned > /tmp/pwned") + b"\x85Rs.")
    return rezip(c, os.path.join(c.data, "bad", "forbidden_global.pth"), "hostile_global.pth", replace=pkl)


def duplicate_entry(c):
    """tiny.pth with a second entry named like its data.pkl."""
    with zipfile.ZipFile(c.tiny_pth) as z:
        c.pkl = next(i.filename for i in z.infolist() if i.filename.endswith("/data.pkl"))
    return rezip(c, c.tiny_pth, "duplicate_entry.pth", extra=[(c.pkl, b"\x80\x02}.")])


def patched_model(name, tensor, index, value, dtype=None):
    """The tiny model (f32, or converted with --dtype) with element `index` of `tensor` set to `value`."""
    def make(c):
        src = c.model
        if dtype:
            src = os.path.join(c.work, f"tiny_{dtype}.safetensors")
            if not os.path.exists(src):
                subprocess.run([c.convert, c.tiny_pth, src, "--dtype", dtype, "-q"], check=True)
        data = bytearray(open(src, "rb").read())
        n = struct.unpack("<Q", data[:8])[0]
        entry = json.loads(data[8:8 + n])[tensor]
        item = np.dtype({"F32": np.float32, "F16": np.float16, "BF16": np.uint16}[entry["dtype"]])
        raw = np.array([value], np.float32)
        raw = raw.astype(item) if entry["dtype"] != "BF16" else (raw.view(np.uint32) >> 16).astype(np.uint16)
        start = 8 + n + entry["data_offsets"][0] + index * item.itemsize
        data[start:start + item.itemsize] = raw.tobytes()
        return write(c, name, bytes(data))
    return make


def mask(name, index, value, dtype=np.float32):
    def make(c):
        m = np.zeros((1, 1, 64, 64), dtype)
        if index is not None:
            m.reshape(-1)[index] = value
        return npy(c, name, m)
    return make


def folder_with_hostile_name(c):
    """A folder input: a readable image and a text file named 'notes ESC ]0;x BEL .txt' (the row's file)."""
    os.makedirs(os.path.join(c.work, "folder_esc"), exist_ok=True)
    pil(c, os.path.join("folder_esc", "a.png"), rgb_array())
    return write(c, os.path.join("folder_esc", "notes\x1b]0;x\x07.txt"), b"not an image\n")


def model_row(c):
    return ["segment", "-m", c.file, "-i", c.image, "-o", c.out] + P


def mask_row(c):
    return ["segment", "-m", c.model, "-i", c.image, "-o", c.out, "--mask-input", c.file]


NOT_A_MODEL = "sam: error: {model}: is {kind}, not a model file (.safetensors from sam-convert)"
FINITE = "a model's weights must be finite (a damaged or diverged checkpoint)"
UNKNOWN_IMAGE = "not a readable image: unknown format (PNG, JPEG and BMP are supported)"

MESSAGE_CASES = [
    # ------------------------------------------------- control characters from files and arguments
    convert("sam-convert: error: {in}: not a SAM checkpoint: no image_encoder.patch_embed.proj.weight among its 2 "
            "tensors (a\\x1b]0;pwned\\x07, b\\x0ac\\x00d)",
            "safetensors whose tensor names hold ESC, BEL, a newline and a NUL (escaped; nothing cut)",
            make=hostile_names),
    convert("sam-convert: error: {in}: tensor 'x\\x1b[2J': unsupported dtype 'F\\x1b[31m64'",
            "safetensors tensor name and dtype holding escape sequences", make=hostile_dtype),
    convert("sam-convert: error: {in}: forbidden pickle global 'os\\x1b]0;pwned\\x07.sys\\x0atem\\x00' at offset 61: "
            "only the globals torch.save writes for a state_dict are allowed; nothing from the file was executed",
            "pickle STACK_GLOBAL whose module and name hold ESC, BEL, a newline and a NUL", make=hostile_global),
    segment("sam: error: {model}: not a SAM checkpoint: no image_encoder.patch_embed.proj.weight among its 2 tensors "
            "(a\\x1b]0;pwned\\x07, b\\x0ac\\x00d)", "model whose tensor names hold ESC, BEL, a newline and a NUL",
            make=hostile_names, args=model_row),
    segment("sam: error: {fileparent}/img\\x1b[2J\\x0a.png: " + UNKNOWN_IMAGE,
            "image file name holding ESC and a newline", make=lambda c: write(c, "img\x1b[2J\n.png", b"text\n"),
            args=image_row),
    segment("sam: error: {fileparent}/m\\x1b[2J.safetensors: no such file", "missing model path holding ESC",
            make=lambda c: os.path.join(c.work, "m\x1b[2J.safetensors"), args=model_row),
    segment("sam: error: --point '1\\x1b[2J,2': '1\\x1b[2J' is not a number", "point argument holding ESC",
            ["-p", "1\x1b[2J,2"]),
    segment("sam: error: The following argument was not expected: --bogus\\x1b[2J\\x07 (see sam --help)",
            "unknown option holding ESC and BEL", P + ["--bogus\x1b[2J\x07"], code=2),
    convert("sam-convert: error: --dtype: f\\x1b[2J64 not in {{f32,f16,bf16}} (see --help)",
            "`--dtype` value holding ESC", args=lambda c: [c.tiny_pth, c.out, "--dtype", "f\x1b[2J64"], code=2),
    everything(OK, "a folder input with a non-image file whose name holds ESC and BEL (skipped with a warning "
               "that escapes them)", make=folder_with_hostile_name,
               args=lambda c: ["everything", "-m", c.model, "--input", os.path.dirname(c.file), "--output", c.out] +
               ALL, warning="sam: warning: skipping {fileparent}/notes\\x1b]0;x\\x07.txt: " + UNKNOWN_IMAGE),

    # ------------------------------------------------- NaN and infinity: weights (checked at load) and --mask-input
    segment("sam: error: {model}: tensor 'image_encoder.blocks.0.attn.qkv.weight' holds NaN at index 4099 of its "
            "12288 values; " + FINITE, "model with a NaN weight (f32)",
            make=patched_model("nan_weight.safetensors", "image_encoder.blocks.0.attn.qkv.weight", 4099, np.nan),
            args=model_row),
    segment("sam: error: {model}: tensor 'mask_decoder.iou_prediction_head.layers.2.bias' holds -inf at index 3 of "
            "its 4 values; " + FINITE, "model with an infinite weight: the last element of a tensor",
            make=patched_model("inf_weight.safetensors", "mask_decoder.iou_prediction_head.layers.2.bias", 3,
                               -np.inf), args=model_row),
    segment("sam: error: {model}: tensor 'image_encoder.patch_embed.proj.weight' holds inf at index 0 of its 49152 "
            "values; " + FINITE, "f16 model with an infinite weight (0x7c00; checked after widening)",
            make=patched_model("inf_weight_f16.safetensors", "image_encoder.patch_embed.proj.weight", 0, np.inf,
                               dtype="f16"), args=model_row),
    segment("sam: error: {model}: tensor 'image_encoder.neck.0.weight' holds NaN at index 1021 of its 2048 values; " +
            FINITE, "bf16 model with a NaN weight", make=patched_model(
                "nan_weight_bf16.safetensors", "image_encoder.neck.0.weight", 1021, np.nan, dtype="bf16"),
            args=model_row),
    everything("sam: error: {model}: tensor 'image_encoder.blocks.0.attn.qkv.weight' holds NaN at index 4099 of its "
               "12288 values; " + FINITE, "model with a NaN weight (f32)",
               make=patched_model("nan_weight.safetensors", "image_encoder.blocks.0.attn.qkv.weight", 4099, np.nan),
               args=everything_model),
    segment("sam: error: {file}: mask input holds NaN at index 101; the logits must be finite",
            "`--mask-input` holding a NaN", make=mask("mask_nan.npy", 101, np.nan), args=mask_row),
    segment("sam: error: {file}: mask input holds -inf at index 4095; the logits must be finite",
            "`--mask-input` holding -inf (its last element)", make=mask("mask_inf.npy", 4095, -np.inf),
            args=mask_row),

    # ------------------------------------------------- numbers at the edges of the float range
    segment(OK, "point with a subnormal coordinate `1e-320` (accepted: about 0)", ["-p", "1e-320,10"]),
    segment("sam: error: --point '1e999,2': coordinates must be finite", "point coordinate `1e999` (overflows)",
            ["-p", "1e999,2"]),
    segment("sam: error: --point 'infinity,2': coordinates must be finite", "point coordinate `infinity`",
            ["-p", "infinity,2"]),
    segment("sam: error: --point '-1e39,2': coordinates must be finite",
            "point coordinate `-1e39` (a double, but beyond float)", ["-p", "-1e39,2"]),
    segment("sam: error: --box '0,0,1e999,9': coordinates must be finite", "box coordinate `1e999`",
            ["-b", "0,0,1e999,9"]),
    everything_option("sam: error: --box-nms-thresh: Value infinity is not a finite number (see sam --help)",
                      "`--box-nms-thresh infinity` (as `1e999`)", ["--box-nms-thresh", "infinity"]),
    everything(OK, "`--pred-iou-thresh 1e-320` (accepted: a subnormal is about 0)",
               ["--pred-iou-thresh", "1e-320", "--stability-score-thresh", "0"]),

    # ------------------------------------------------- mask input dtypes: only float32 is accepted
    segment("sam: error: {file}: mask input of dtype '<f8'; expected float32 logits ('<f4', as --save-logits writes)",
            "`--mask-input` of float64", make=mask("mask_f8.npy", None, 0, np.float64), args=mask_row),
    segment("sam: error: {file}: mask input of dtype '<f2'; expected float32 logits ('<f4', as --save-logits writes)",
            "`--mask-input` of float16", make=mask("mask_f2.npy", None, 0, np.float16), args=mask_row),

    # ------------------------------------------------- files that are not a model: named for what they are
    segment(NOT_A_MODEL.replace("{kind}", "a PNG image"), "a PNG image given as model",
            make=lambda c: c.image, args=model_row),
    segment(NOT_A_MODEL.replace("{kind}", "a JPEG image"), "a JPEG image given as model",
            make=lambda c: write(c, "photo.jpg", jpeg_bytes()), args=model_row),
    segment(NOT_A_MODEL.replace("{kind}", "a Python pickle"), "a bare pickle given as model",
            make=lambda c: write(c, "legacy.pt", b"\x80\x02}q\x00."), args=model_row),
    segment(NOT_A_MODEL.replace("{kind}", "a NumPy .npy array"), "a `.npy` given as model",
            make=lambda c: npy(c, "array.npy", np.zeros(4, np.float32)), args=model_row),
    segment("sam: error: {model}: not a model file (.safetensors from sam-convert): it starts with 1e 74 6b 79 c8 42 "
            "95 eb", "random bytes given as model", make=bad("wrong_magic.pth"), args=model_row),
    segment("sam: error: {model}: empty file", "an empty file given as model",
            make=lambda c: write(c, "empty.safetensors", b""), args=model_row),
    everything(NOT_A_MODEL.replace("{kind}", "a PNG image"), "a PNG image given as model",
               make=lambda c: c.image, args=everything_model),
    convert("sam-convert: error: {in}: is a PNG image, not a PyTorch checkpoint (.pth) or a safetensors file",
            "a PNG image as input", make=lambda c: c.image),
    convert("sam-convert: error: {in}: is a JPEG image, not a PyTorch checkpoint (.pth) or a safetensors file",
            "a JPEG image named `.safetensors` as input",
            make=lambda c: write(c, "photo.safetensors", jpeg_bytes())),
    convert("sam-convert: error: {in}: zip archive holds two entries named '{pkl}' (torch.save writes each name once: "
            "a damaged or tampered checkpoint)", "`.pth` with two zip entries of one name", make=duplicate_entry),
]
