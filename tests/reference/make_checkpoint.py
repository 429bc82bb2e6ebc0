#!/usr/bin/python3
"""Build a randomly initialised SAM checkpoint with the official classes.

    PYTHONPATH=PYREF_DIR /usr/bin/python3 make_checkpoint.py --variant tiny --seed 0 --out tiny.pth

The file is written like the released checkpoints: ``torch.save(sam.state_dict(), f)``
(zip format, float32, keys such as ``image_encoder.patch_embed.proj.weight``).  It is
written to a temporary file object in the target directory and then renamed, so a
partially written file never appears under the final name.  Because torch.save is given
a file object, the zip entries use torch's default "archive/" prefix regardless of the
output name.  Output is deterministic for a given (variant, seed).
"""

import argparse
import hashlib
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sam_configs import VARIANTS, build_random  # noqa: E402


def save_state_dict(state_dict, out_path: str) -> None:
    out_path = os.path.abspath(out_path)
    out_dir = os.path.dirname(out_path)
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_ckpt_", suffix=".pth", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state_dict, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", required=True, choices=VARIANTS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.set_num_threads(2)
    t0 = time.time()
    sam = build_random(args.variant, args.seed)
    sd = sam.state_dict()
    for k, v in sd.items():
        assert v.dtype == torch.float32, (k, v.dtype)
        assert torch.isfinite(v).all(), k
    t1 = time.time()
    save_state_dict(sd, args.out)
    t2 = time.time()
    nparams = sum(v.numel() for v in sd.values())
    print(
        f"wrote {args.out}: variant={args.variant} seed={args.seed} tensors={len(sd)} "
        f"params={nparams} bytes={os.path.getsize(args.out)} sha256={sha256_file(args.out)} "
        f"(build {t1 - t0:.1f}s, save {t2 - t1:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
