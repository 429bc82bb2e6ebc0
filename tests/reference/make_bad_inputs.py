#!/usr/bin/python3
"""Write corrupt / hostile inputs for the converter's error-path tests.

    PYTHONPATH=PYREF_DIR /usr/bin/python3 make_bad_inputs.py --tiny-pth TINY.pth --out DIR

TINY.pth is a checkpoint from ``make_checkpoint.py --variant tiny``.  Every file is small
(the largest are ~1.4 MB tiny-derived checkpoints).  Torch-style zips are written with
torch's own zip writer (torch._C.PyTorchFileWriter into a buffer, i.e. prefix "archive/",
64-byte aligned stored records, "version" record), exactly like torch.save.  The hostile
pickles are assembled from raw pickle opcodes and are NEVER unpickled here.
DIR/README lists every file and the error category it must trigger.
"""

import argparse
import io
import json
import os
import random
import struct
import sys
import zipfile
from collections import OrderedDict

import torch

# ---------------------------------------------------------------------------------------
# helpers


def torch_zip_bytes(records):
    """records: list of (name_without_prefix, bytes).  Returns torch-style zip bytes.

    The writer adds the "archive/" prefix and, at end of file, a "version" record when
    none was given.
    """
    buf = io.BytesIO()
    w = torch._C.PyTorchFileWriter(buf)
    for name, data in records:
        w.write_record(name, data, len(data))
    w.write_end_of_file()
    return buf.getvalue()


def read_torch_zip(path):
    """Return [(name_without_prefix, bytes)] in archive order (without 'version')."""
    out = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            prefix, _, rest = info.filename.partition("/")
            if rest == "version":
                continue
            out.append((rest, z.read(info)))
    return out


def torch_save_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _binunicode(s):
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def malicious_pickle(module, name, arg):
    """Protocol-2 pickle: {'image_encoder.pos_embed': module.name(arg)}, built by hand.

    Opcodes: PROTO 2, EMPTY_DICT, BINUNICODE key, GLOBAL 'module\\nname\\n',
    BINUNICODE arg, TUPLE1, REDUCE, SETITEM, STOP.
    """
    return (
        b"\x80\x02"
        + b"}"
        + _binunicode("image_encoder.pos_embed")
        + b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        + _binunicode(arg)
        + b"\x85"
        + b"R"
        + b"s"
        + b"."
    )


def st_bytes(header, body, pad=True):
    """safetensors bytes from a header dict (or raw header bytes) and a body."""
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + body


def st_base():
    """Two small F32 tensors: a [2,3] at [0,24), b [4] at [24,40)."""
    a = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4
    b = torch.tensor([1.0, -2.0, 3.5, 1e-3], dtype=torch.float32)
    body = a.numpy().tobytes() + b.numpy().tobytes()
    header = {
        "__metadata__": {"variant": "tiny", "note": "sam-engine bad-input test"},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 40]},
    }
    return header, body


def _with(header, name, **changes):
    h = json.loads(json.dumps(header))
    h[name].update(changes)
    return h


# ---------------------------------------------------------------------------------------


def build(tiny_pth):
    files = OrderedDict()  # name -> (bytes, category, description)
    rng = random.Random(20240601)
    tiny = open(tiny_pth, "rb").read()
    sd = torch.load(tiny_pth, map_location="cpu")
    recs = read_torch_zip(tiny_pth)
    rec_names = [n for n, _ in recs]
    assert "data.pkl" in rec_names, rec_names

    def add(name, data, category, desc):
        files[name] = (data, category, desc)

    # --- container-level corruption -----------------------------------------------------
    add("empty.pth", b"", "io/format", "0-byte file")
    add("truncated.pth", tiny[: int(len(tiny) * 0.6)], "zip",
        "tiny checkpoint cut to 60% of its length (no end-of-central-directory)")
    junk = bytes(rng.getrandbits(8) for _ in range(4096))
    if junk[:2] == b"PK":
        junk = b"\x00" + junk[1:]
    add("wrong_magic.pth", junk, "format", "4096 random bytes, not a zip (no PK magic)")
    add("truncated_zip_header.pth", tiny[:30], "zip", "first 30 bytes of the tiny checkpoint")

    # --- hostile pickles inside a valid torch zip ----------------------------------------
    dummy_storage = torch.zeros(16, dtype=torch.float32).numpy().tobytes()
    add("forbidden_global.pth",
        torch_zip_bytes([("data.pkl", malicious_pickle("os", "system", "echo pwned > /tmp/pwned")),
                         ("data/0", dummy_storage)]),
        "pickle-security",
        "data.pkl: GLOBAL os.system + REDUCE ('echo pwned > /tmp/pwned'); must be refused, never executed")
    add("builtins_eval.pth",
        torch_zip_bytes([("data.pkl", malicious_pickle(
            "builtins", "eval", "__import__('os').system('echo pwned > /tmp/pwned')")),
                         ("data/0", dummy_storage)]),
        "pickle-security", "data.pkl: GLOBAL builtins.eval + REDUCE; must be refused")
    garbage = bytes(rng.getrandbits(8) for _ in range(2048))
    add("garbage_opcodes.pth",
        torch_zip_bytes([("data.pkl", garbage), ("data/0", dummy_storage)]),
        "pickle", "data.pkl is 2048 random bytes (invalid opcodes / no STOP)")
    trunc_recs = [(n, d[: len(d) // 2] if n == "data.pkl" else d) for n, d in recs]
    add("bad_pickle_truncated.pth", torch_zip_bytes(trunc_recs), "pickle",
        "tiny checkpoint whose data.pkl is cut in half (all storages present)")

    # --- valid pickles, wrong content ------------------------------------------------------
    torch.manual_seed(0)  # deterministic init of the unrelated model
    other = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                                torch.nn.ReLU(), torch.nn.Linear(16, 4))
    add("other_model.pth", torch_save_bytes(other.state_dict()), "schema",
        "state_dict of an unrelated 3-layer MLP (keys 0.weight, 0.bias, 2.weight, ...)")

    def variant_sd(mutate):
        d = OrderedDict((k, v.clone()) for k, v in sd.items())
        mutate(d)
        return torch_save_bytes(d)

    def wrong_shape(d):
        d["mask_decoder.iou_token.weight"] = torch.zeros(2, d["mask_decoder.iou_token.weight"].shape[1] + 1)
    add("wrong_shape.pth", variant_sd(wrong_shape), "schema",
        "tiny, mask_decoder.iou_token.weight has shape [2,33] instead of [1,32]")

    def missing_key(d):
        del d["mask_decoder.iou_prediction_head.layers.2.bias"]
    add("missing_key.pth", variant_sd(missing_key), "schema",
        "tiny without mask_decoder.iou_prediction_head.layers.2.bias")

    def extra_key(d):
        d["image_encoder.extra.weight"] = torch.ones(4, 4)
    add("extra_key.pth", variant_sd(extra_key), "schema",
        "tiny plus unexpected key image_encoder.extra.weight [4,4]")

    def wrong_dtype(d):
        d["image_encoder.pos_embed"] = d["image_encoder.pos_embed"].long()
    add("wrong_dtype.pth", variant_sd(wrong_dtype), "dtype",
        "tiny, image_encoder.pos_embed stored as int64 (torch.LongStorage)")

    drop = "data/1"
    assert drop in rec_names
    add("missing_storage.pth", torch_zip_bytes([(n, d) for n, d in recs if n != drop]), "zip/storage",
        f"tiny checkpoint with the zip entry archive/{drop} removed (still referenced by data.pkl)")

    # --- a VALID control: tensors that are views into shared / offset storage ----------------
    def views(d):
        w = d["image_encoder.neck.0.weight"]
        bias = d["image_encoder.blocks.0.mlp.lin1.bias"]
        base = torch.zeros(7 + w.numel() + bias.numel() + 5)
        base[7 : 7 + w.numel()] = w.reshape(-1)
        base[7 + w.numel() : 7 + w.numel() + bias.numel()] = bias
        d["image_encoder.neck.0.weight"] = base[7 : 7 + w.numel()].view_as(w)  # storage offset 7
        d["image_encoder.blocks.0.mlp.lin1.bias"] = base[7 + w.numel() : 7 + w.numel() + bias.numel()]
        lin = d["image_encoder.blocks.0.mlp.lin1.weight"]  # [256, 64]
        d["image_encoder.blocks.0.mlp.lin1.weight"] = lin.t().contiguous().t()  # strides (1, 256)
    add("valid_views.pth", variant_sd(views), "VALID (must convert OK)",
        "tiny with views: neck.0.weight at storage offset 7 and blocks.0.mlp.lin1.bias in the same "
        "storage (padded storage), blocks.0.mlp.lin1.weight with transposed (non-contiguous) strides; "
        "tensor VALUES are identical to TINY.pth (file sha256 differs)")

    # --- safetensors ---------------------------------------------------------------------------
    hdr, body = st_base()
    add("st_valid_control.safetensors", st_bytes(hdr, body), "VALID (must parse OK)",
        "the well-formed base file all st_* cases are derived from: a F32 [2,3] @[0,24), b F32 [4] @[24,40)")
    add("st_lying_offsets.safetensors", st_bytes(_with(hdr, "b", data_offsets=[1000, 1016]), body),
        "safetensors-offsets", "b.data_offsets = [1000,1016], beyond the end of the 40-byte data area")
    add("st_overlap.safetensors", st_bytes(_with(hdr, "b", data_offsets=[8, 24]), body),
        "safetensors-offsets", "b.data_offsets = [8,24] overlaps a [0,24)")
    good = st_bytes(hdr, body)
    add("st_huge_header.safetensors", struct.pack("<Q", 2 ** 40) + good[8:], "safetensors-header",
        "header length field = 2**40 on a small file (must not allocate 1 TiB)")
    add("st_header_too_long.safetensors", struct.pack("<Q", len(good) + 100) + good[8:],
        "safetensors-header", "header length field = file size + 100 (> bytes available)")
    add("st_size_mismatch.safetensors", st_bytes(_with(hdr, "a", data_offsets=[0, 20]), body),
        "safetensors-size", "a is F32 [2,3] (24 bytes) but data_offsets = [0,20]")
    add("st_bad_json.safetensors", st_bytes(b'{"a": {"dtype": "F32", "shape": [2,3], not json!!', body),
        "safetensors-header", "header bytes are not valid JSON")
    add("st_bad_dtype.safetensors", st_bytes(_with(hdr, "a", dtype="Q7"), body), "safetensors-dtype",
        'a.dtype = "Q7"')
    add("st_negative.safetensors", st_bytes(_with(hdr, "b", data_offsets=[-8, 8]), body),
        "safetensors-offsets", "b.data_offsets = [-8,8] (negative begin; length still 16)")
    add("st_empty.safetensors", b"", "safetensors-header", "0-byte file")
    add("st_short.safetensors", good[:5], "safetensors-header", "5 bytes (shorter than the u64 length)")
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny-pth", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    files = build(args.tiny_pth)
    lines = [
        "Bad inputs for the sam-engine converter, generated by tests/reference/make_bad_inputs.py",
        f"from {os.path.basename(args.tiny_pth)}.  Format: FILE  [expected error category]  description.",
        "Every file except those marked VALID must be rejected with a clear error, no crash,",
        "no huge allocation, no code execution (/tmp/pwned must never appear).",
        "",
    ]
    for name, (data, cat, desc) in files.items():
        tmp = os.path.join(args.out, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(args.out, name))
        lines.append(f"{name}  [{cat}]  {desc}")
        print(f"{os.path.join(args.out, name)}  ({len(data)} bytes)  [{cat}]")
    with open(os.path.join(args.out, "README"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(os.path.join(args.out, "README"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
