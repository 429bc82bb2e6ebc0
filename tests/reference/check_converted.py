#!/usr/bin/python3
"""Oracle for the C++ checkpoint converter (.pth -> .safetensors).

    /usr/bin/python3 check_converted.py --pth FILE.pth --safetensors FILE.safetensors \
        --dtype {f32,f16,bf16} [--variant {vit_b,vit_l,vit_h,tiny}]

The .pth is loaded with torch.load(map_location="cpu").  The .safetensors file is parsed
here with json + numpy (no safetensors package): 8-byte little-endian u64 header length N,
N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}, data offsets relative to the first byte after the header.

Checks:
  * identical key sets and shapes;
  * --dtype f32: every tensor stored as F32, bit-identical to the torch tensor;
  * --dtype f16/bf16 ("large matrices" policy): keys ending in ".weight" with ndim >= 2
    that are not embeddings (key contains point_embeddings, not_a_point_embed,
    no_mask_embed, iou_token or mask_tokens) are stored as F16/BF16 and bit-identical to
    torch's .half()/.bfloat16() of the f32 tensor (raw uint16 compare; two NaNs count as
    equal whatever their payload); every other tensor stays F32, bit-identical;
  * __metadata__ has "variant" (== --variant when given) and "source_sha256" (or, for a
    file re-converted from a converted file, "origin_sha256") == sha256
    hex of the .pth file;
  * the tensors' order in the data area: f32 ones, then 16-bit ones, each in the state_dict's order
    (the official module order);
  * structural sanity of the file (offsets inside the data area, sizes == numel*itemsize,
    no overlapping ranges).
Exit 0 with a one-line summary, or print the first 20 problems and exit 1.
"""

import argparse
import hashlib
import json
import mmap
import os
import struct
import sys

import numpy as np
import torch

EMBEDDING_MARKERS = ("point_embeddings", "not_a_point_embed", "no_mask_embed", "iou_token", "mask_tokens")
VARIANTS = ("vit_b", "vit_l", "vit_h", "tiny")

# safetensors dtype -> (numpy dtype used to view the raw bytes, itemsize)
ST_DTYPES = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<u2"), 2),   # compared as raw bits
    "BF16": (np.dtype("<u2"), 2),  # compared as raw bits
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
    "I16": (np.dtype("<i2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("u1"), 1),
}


class SafetensorsError(Exception):
    pass


DATA_ORDER = " data order"  # key of read_safetensors' metadata that lists the tensors in file order


def read_safetensors(path):
    """Return (tensors: {name: (dtype_str, shape tuple, raw np array)}, metadata dict)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise SafetensorsError(f"file too short ({size} bytes)")
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # read-only, lazily paged
    (hlen,) = struct.unpack("<Q", data[:8])
    if hlen > len(data) - 8:
        raise SafetensorsError(f"header length {hlen} exceeds file size {len(data)}")
    try:
        header = json.loads(data[8 : 8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"header is not valid JSON: {e}")
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    body = memoryview(data)[8 + hlen :]
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise SafetensorsError("__metadata__ must be a {str: str} object")
    tensors = {}
    ranges = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise SafetensorsError(f"{name}: entry is not an object")
        dt = info.get("dtype")
        shape = info.get("shape")
        offs = info.get("data_offsets")
        if dt not in ST_DTYPES:
            raise SafetensorsError(f"{name}: unsupported dtype {dt!r}")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise SafetensorsError(f"{name}: bad shape {shape!r}")
        if (
            not isinstance(offs, list)
            or len(offs) != 2
            or not all(isinstance(o, int) for o in offs)
            or offs[0] < 0
            or offs[1] < offs[0]
            or offs[1] > len(body)
        ):
            raise SafetensorsError(f"{name}: bad data_offsets {offs!r} (data area {len(body)} bytes)")
        npdt, size = ST_DTYPES[dt]
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if offs[1] - offs[0] != numel * size:
            raise SafetensorsError(
                f"{name}: byte range {offs[1] - offs[0]} != numel {numel} * {size}"
            )
        arr = np.frombuffer(body[offs[0] : offs[1]], dtype=npdt).reshape(shape)
        tensors[name] = (dt, tuple(shape), arr)
        ranges.append((offs[0], offs[1], name))
    ranges.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(ranges, ranges[1:]):
        if b1 < e0:
            raise SafetensorsError(f"byte ranges of {n0} and {n1} overlap")
    metadata = dict(metadata)
    metadata[DATA_ORDER] = [n for _, _, n in ranges]  # not in the file: the tensors' order in the data area
    return tensors, metadata


def is_large_matrix(key, tensor):
    return (
        key.endswith(".weight")
        and tensor.dim() >= 2
        and not any(m in key for m in EMBEDDING_MARKERS)
    )


def torch_bits16(t, dtype):
    return t.to(dtype).contiguous().view(torch.int16).numpy().view(np.uint16)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def first_diff(a, b):
    idx = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
    return idx.size, (int(idx[0]) if idx.size else -1)


def check(pth, st_path, mode, variant=None):
    problems = []
    sd = torch.load(pth, map_location="cpu")
    if not isinstance(sd, dict):
        return [f"{pth}: torch.load did not return a dict ({type(sd).__name__})"], {}
    tensors, meta = read_safetensors(st_path)

    # metadata
    src_sha = sha256_file(pth)
    if "variant" not in meta:
        problems.append("__metadata__ lacks 'variant'")
    elif meta["variant"] not in VARIANTS:
        problems.append(f"__metadata__ variant {meta['variant']!r} not one of {VARIANTS}")
    elif variant is not None and meta["variant"] != variant:
        problems.append(f"__metadata__ variant {meta['variant']!r} != expected {variant!r}")
    # A file converted from an earlier conversion records the .pth as its origin.
    sha_key = "origin_sha256" if "origin_sha256" in meta else "source_sha256"
    if sha_key not in meta:
        problems.append("__metadata__ lacks 'source_sha256'")
    elif meta[sha_key] != src_sha:
        problems.append(f"__metadata__ {sha_key} {meta[sha_key]} != sha256(pth) {src_sha}")

    order = meta.pop(DATA_ORDER)
    # The data follow the official state_dict's order (the schema's, sam::expected_weights),
    # f32 tensors first, then 16-bit ones (each kept aligned to its size), each group in that order.
    if set(order) == set(sd.keys()):
        for group in ("F32", "16-bit"):
            def member(name):
                return (tensors[name][0] == "F32") == (group == "F32")
            got, want = [n for n in order if member(n)], [k for k in sd.keys() if member(k)]
            if got != want:
                first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
                problems.append(f"{group} tensors' order differs from the state_dict's at position {first}: "
                                f"{got[first]} (state_dict: {want[first]})")
    keys_pth, keys_st = set(sd.keys()), set(tensors.keys())
    for k in sorted(keys_pth - keys_st):
        problems.append(f"missing in safetensors: {k}")
    for k in sorted(keys_st - keys_pth):
        problems.append(f"unexpected in safetensors: {k}")

    counts = {"F32": 0, "F16": 0, "BF16": 0}
    for k in sorted(keys_pth & keys_st):
        t = sd[k]
        dt, shape, arr = tensors[k]
        if tuple(t.shape) != shape:
            problems.append(f"{k}: shape {list(shape)} != torch {list(t.shape)}")
            continue
        if t.dtype != torch.float32:
            problems.append(f"{k}: source tensor is {t.dtype}, expected float32")
            continue
        t = t.contiguous()
        if mode != "f32" and is_large_matrix(k, t):
            want_dt = "F16" if mode == "f16" else "BF16"
        else:
            want_dt = "F32"
        if dt != want_dt:
            problems.append(f"{k}: stored as {dt}, expected {want_dt}")
            continue
        counts[dt] += 1
        if dt == "F32":
            want = t.numpy().view(np.uint32)
            got = arr.view(np.uint32)
            nan_eq = np.isnan(t.numpy()) & np.isnan(arr.view(np.float32))
        else:
            want = torch_bits16(t, torch.float16 if dt == "F16" else torch.bfloat16)
            got = arr
            exp_mask = 0x7C00 if dt == "F16" else 0x7F80
            man_mask = 0x03FF if dt == "F16" else 0x007F
            def isnan16(x):
                return ((x & exp_mask) == exp_mask) & ((x & man_mask) != 0)
            nan_eq = isnan16(want) & isnan16(got)
        bad = (want != got) & ~nan_eq
        if bad.any():
            idx = np.flatnonzero(bad.reshape(-1))
            i = int(idx[0])
            problems.append(
                f"{k}: {idx.size} of {want.size} elements differ ({dt}); first at flat index {i}: "
                f"got 0x{int(got.reshape(-1)[i]):x} want 0x{int(want.reshape(-1)[i]):x}"
            )
    return problems, {"tensors": len(tensors), "counts": counts, "meta": meta, "sha": src_sha}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pth", required=True)
    ap.add_argument("--safetensors", required=True)
    ap.add_argument("--dtype", required=True, choices=("f32", "f16", "bf16"))
    ap.add_argument("--variant", choices=VARIANTS, default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    try:
        problems, info = check(args.pth, args.safetensors, args.dtype, args.variant)
    except SafetensorsError as e:
        print(f"FAIL {args.safetensors}: malformed safetensors: {e}")
        return 1
    if problems:
        print(f"FAIL {args.safetensors}: {len(problems)} problem(s)")
        for p in problems[:20]:
            print("  " + p)
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more")
        return 1
    c = info["counts"]
    print(
        f"OK {args.safetensors}: {info['tensors']} tensors match {os.path.basename(args.pth)} "
        f"(dtype={args.dtype}: F32={c['F32']} F16={c['F16']} BF16={c['BF16']}; "
        f"variant={info['meta'].get('variant')} source_sha256={info['sha'][:16]}...)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
