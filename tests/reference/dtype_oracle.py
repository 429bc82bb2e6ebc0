#!/usr/bin/python3
"""Oracle for float32 <-> float16 / bfloat16 conversions, as torch does them.

    /usr/bin/python3 dtype_oracle.py --out DIR

Writes (np.save, .npy v1.0, little-endian):
  values_f32.npy      float32 [N]   test inputs (see build_values)
  torch_f16_bits.npy  uint16  [N]   torch.from_numpy(values).half() bit patterns
  torch_bf16_bits.npy uint16  [N]   torch.from_numpy(values).bfloat16() bit patterns
  f16_all_to_f32.npy  float32 [65536]  element i = float(f16 with bit pattern i)
  bf16_all_to_f32.npy float32 [65536]  element i = float(bf16 with bit pattern i)

NaN caveat: torch's NaN outputs are implementation-defined (torch 1.13/AVX2 here gives
sign|0x7E00 for f16 and 0xFFFF for every bf16 NaN; other versions/paths give 0x7FC0).
A converter should be checked for "is NaN" on NaN inputs and bit-exactness elsewhere.
"""

import argparse
import os
import sys

import numpy as np
import torch


def _f32_from_bits(bits) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def build_values(seed: int = 1234) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts = []

    # 1. Specials.
    specials = [
        0x00000000, 0x80000000,              # +0, -0
        0x7F800000, 0xFF800000,              # +inf, -inf
        0x7FC00000, 0xFFC00000,              # canonical quiet NaNs
        0x7FC00001, 0x7FFFFFFF, 0xFFFFFFFF,  # quiet NaNs with payloads
        0x7FD55555, 0x7FE00000, 0xFFC0FFFF,
        0x7F800001, 0xFF800001,              # signalling NaNs (tiny payload)
        0x7FA00000, 0x7FBFFFFF, 0xFFA5A5A5,  # signalling NaNs
        0x7F802000, 0x7F801FFF,              # sNaN whose payload is lost by >>13 / >>16
        0x7F810000, 0x7F80FFFF,
        0x7F7FFFFF, 0xFF7FFFFF,              # +-FLT_MAX
        0x00800000, 0x80800000,              # +-FLT_MIN (smallest normal)
        0x00000001, 0x80000001,              # smallest f32 subnormal
        0x007FFFFF, 0x807FFFFF,              # largest f32 subnormal
        0x00400000, 0x00012345, 0x80654321,
        0x3F800000, 0xBF800000,              # +-1
        0x7F7F8000, 0x7F7F7FFF, 0x7F7F8001,  # bf16 overflow tie / neighbours
        0x7F7F0000, 0xFF7F8000,
        0x477FE000, 0x477FEFFF, 0x477FF000,  # 65504, just below tie, 65520 (f16 overflow tie)
        0xC77FF000, 0x477FF001, 0x47800000,  # -65520, above tie, 65536
        0x33000000, 0x33000001, 0xB3000000,  # 2^-25 (half of smallest f16 subnormal: tie to 0)
        0x33400000, 0x32FFFFFF,              # 1.5*2^-25, just below 2^-25
        0x33800000, 0x387FC000, 0x38800000,  # smallest f16 subnormal, largest, smallest normal
        0x387FE000, 0x387FF000,              # ties between f16 subnormal max and FLT16 min normal
    ]
    parts.append(_f32_from_bits(specials))

    # 2. Random magnitudes spread over all exponents (log-uniform), random signs.
    n = 120_000
    exps = rng.uniform(-149.0, 128.0, n)
    mant = rng.uniform(1.0, 2.0, n)
    with np.errstate(over="ignore", under="ignore"):
        v = (mant * np.exp2(exps)).astype(np.float32)
    v *= np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)
    parts.append(v)

    # 3. Random f32 bit patterns (uniform over the whole encoding space, incl. NaNs).
    parts.append(rng.integers(0, 1 << 32, 20_000, dtype=np.uint64).astype(np.uint32).view(np.float32))

    # 4. Dense coverage of the f16 range of interest.
    parts.append((rng.uniform(-1, 1, 20_000) * 70000).astype(np.float32))
    parts.append((rng.uniform(-1, 1, 5_000) * 7e-5).astype(np.float32))  # f16 subnormal range
    parts.append((np.exp2(rng.uniform(-27, -13, 5_000)) * np.sign(rng.uniform(-1, 1, 5_000))).astype(np.float32))

    # 5. Exact f16 rounding ties: midpoints between consecutive finite f16 values
    #    (normal and subnormal), lower neighbour with even and with odd mantissa,
    #    plus the f32 neighbours of each midpoint.
    f16_bits = np.concatenate([
        rng.integers(0, 0x7BFF, 6_000),            # lower neighbour: any finite positive f16 < max
        np.arange(0, 0x400),                       # every subnormal (and 0) as lower neighbour
        np.array([0x7BFE, 0x03FF, 0x0400, 0x3BFF, 0x3C00]),
    ]).astype(np.uint16)
    f16_bits = np.concatenate([f16_bits & 0xFFFE, f16_bits | 0x0001])  # even and odd lower neighbours
    f16_bits = f16_bits[f16_bits < 0x7BFF]  # need an upper neighbour that is finite (0x7BFF is max)
    a = f16_bits.view(np.float16).astype(np.float32).astype(np.float64)
    b = (f16_bits + 1).astype(np.uint16).view(np.float16).astype(np.float32).astype(np.float64)
    mid = ((a + b) / 2).astype(np.float32)
    assert np.all(mid.astype(np.float64) == (a + b) / 2), "f16 midpoint not exact in f32"
    midbits = mid.view(np.uint32)
    sign = np.where(rng.random(mid.size) < 0.5, 0, 0x80000000).astype(np.uint32)
    for m in (midbits, midbits - 1, midbits + 1):
        parts.append((m | sign).view(np.float32))
    parts.append(mid)  # positive copies as well

    # 6. Exact bf16 rounding ties: low 16 bits == 0x8000, lower neighbour even and odd,
    #    plus 0x7FFF / 0x8001 neighbours; includes subnormal and near-overflow ranges.
    hi = np.concatenate([
        rng.integers(0, 0x7F80, 6_000),
        np.arange(0, 0x80),                        # bf16 subnormals
        np.arange(0x7F00, 0x7F80),                 # largest finite exponent (0x7F7F + tie -> inf)
    ]).astype(np.uint32)
    hi = np.concatenate([hi & 0xFFFE, hi | 0x0001])
    hi = hi[hi < 0x7F80]
    sign = np.where(rng.random(hi.size) < 0.5, 0, 0x80000000).astype(np.uint32)
    for low in (0x8000, 0x7FFF, 0x8001, 0x0000, 0xFFFF):
        parts.append(((hi << 16) | low | sign).astype(np.uint32).view(np.float32))

    # 7. Integers and simple fractions (exactly representable or not).
    parts.append(np.arange(-2100, 2100, dtype=np.float32))
    parts.append((np.arange(-3000, 3000, dtype=np.float32) / np.float32(7)).astype(np.float32))

    values = np.concatenate(parts).astype(np.float32)
    return values


def torch_bits(values: np.ndarray, dtype) -> np.ndarray:
    t = torch.from_numpy(values.copy())
    return t.to(dtype).view(torch.int16).numpy().view(np.uint16).copy()


def all_to_f32(dtype) -> np.ndarray:
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16)
    t = torch.from_numpy(bits.copy()).view(dtype)
    return t.float().numpy().copy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)

    values = build_values(args.seed)
    outputs = {
        "values_f32.npy": values,
        "torch_f16_bits.npy": torch_bits(values, torch.float16),
        "torch_bf16_bits.npy": torch_bits(values, torch.bfloat16),
        "f16_all_to_f32.npy": all_to_f32(torch.float16),
        "bf16_all_to_f32.npy": all_to_f32(torch.bfloat16),
    }
    for name, arr in outputs.items():
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        np.save(os.path.join(args.out, name), arr, allow_pickle=False)

    nan = np.isnan(values)
    f16 = outputs["torch_f16_bits.npy"]
    bf16 = outputs["torch_bf16_bits.npy"]
    print(
        f"wrote {args.out}: {values.size} values ({int(nan.sum())} NaN, "
        f"{int(np.isinf(values).sum())} inf, {int((values == 0).sum())} zero); "
        f"f16 inf outputs {int(((f16 & 0x7FFF) == 0x7C00).sum())}, "
        f"bf16 inf outputs {int(((bf16 & 0x7FFF) == 0x7F80).sum())}; "
        f"NaN->f16 bits {sorted({hex(x) for x in f16[nan]})}, NaN->bf16 bits {sorted({hex(x) for x in bf16[nan]})}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
