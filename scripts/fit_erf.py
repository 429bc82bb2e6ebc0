#!/usr/bin/python3
"""Fits the piecewise erf polynomials of kernels/cpu/simd/erf_table.h.

erf(z) for z in [0, 4) is cut into 8 pieces of width 1/2. With s = 2 z, piece i covers
s in [i, i + 1) and holds a degree-7 polynomial in t = s - i - 1/2 (|t| <= 1/2), fitted
near-minimax (Lawson's iteration on 400 Chebyshev nodes, erf from mpmath at 30 digits)
and rounded to float. Beyond z = 4 float erf is 1: the kernels clamp s below 8.

Prints the C++ table and the largest error of a float evaluation (Horner with fused
multiply-adds) over a dense grid.
Run: /usr/bin/python3 scripts/fit_erf.py > kernels/cpu/simd/erf_table.h
"""
import sys

import mpmath as mp
import numpy as np

mp.mp.dps = 30
PIECES, DEGREE, NODES = 8, 7, 400


def fit_piece(i):
    t = 0.5 * np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES)
    f = np.array([float(mp.erf((mp.mpf(i) + 0.5 + mp.mpf(v)) / 2)) for v in t])
    vand = np.vander(t, DEGREE + 1, increasing=True)
    w = np.ones(NODES)
    for _ in range(100):  # Lawson: weights grow where the error is largest
        coef, *_ = np.linalg.lstsq(vand * w[:, None], f * w, rcond=None)
        w = w * np.abs(vand @ coef - f) ** 0.3
        w /= w.max()
    return coef.astype(np.float32)


def eval_float(table, s):
    """Horner in float with one rounding per step, as an FMA does."""
    s = np.minimum(s.astype(np.float32), np.float32(np.nextafter(np.float32(8), np.float32(0))))
    idx = np.floor(s).astype(np.int64)
    t = ((s - np.float32(0.5)).astype(np.float32) - idx.astype(np.float32)).astype(np.float32)
    r = table[DEGREE][idx]
    for k in range(DEGREE - 1, -1, -1):
        r = (r.astype(np.float64) * t.astype(np.float64) + table[k][idx].astype(np.float64)).astype(np.float32)
    return r


def main():
    pieces = [fit_piece(i) for i in range(PIECES)]
    table = np.array(pieces).T  # [coefficient][piece]
    z = np.linspace(0, 4.5, 90001)
    ref = np.array([float(mp.erf(mp.mpf(v))) for v in z])
    err = np.abs(eval_float(table, (2 * z).astype(np.float32)).astype(np.float64) - ref)
    print("// Piecewise polynomials for erf, written by scripts/fit_erf.py (rerun it to change them).")
    print("// Piece i covers z in [i/2, (i+1)/2), i.e. s = 2z in [i, i+1); the polynomial is in")
    print("// t = s - i - 1/2, |t| <= 1/2: kErfPiece[k][i] is the coefficient of t^k.")
    print("#pragma once\n\nnamespace kernels::simd {\n")
    print(f"// max |error| over {len(z)} points of [0, 4.5]: {err.max():.3g} (at z = {z[err.argmax()]:.4f})")
    print(f"inline constexpr float kErfPiece[{DEGREE + 1}][{PIECES}] = {{")
    for k in range(DEGREE + 1):
        print("    {" + ", ".join(f"{float(c):.9g}f" for c in table[k]) + "},")
    print("};")
    print("\n}  // namespace kernels::simd")
    return 0


if __name__ == "__main__":
    sys.exit(main())
