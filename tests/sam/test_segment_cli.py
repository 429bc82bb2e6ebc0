#!/usr/bin/env python3
"""End-to-end tests of `sam segment` and `sam trace` on the tiny model.

    test_segment_cli.py --bin BUILD/bin --data BUILD/testdata

* outputs: mask_K.png (0/255, original size, best score first), overlay.png, result.json
  (score, area, bbox per mask; prompts; timings), --save-logits [N,C,4G,4G] float32;
* the masks equal the official masks (the reference dump of the same image and prompt);
* --save-embedding / --load-embedding give the same masks; another model or another image
  is refused;
* `sam trace --compare` finds every layer within 1e-4 of the official dumps;
* bad input gives one error line, exit code 1 or 2, and no output folder.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    sam = os.path.join(args.bin, "sam")
    convert = os.path.join(args.bin, "sam-convert")
    ref = os.path.join(args.data, "ref_tiny_point")
    meta = json.load(open(os.path.join(ref, "meta.json")))
    work = tempfile.mkdtemp(prefix="sam_segment_test_")
    try:
        model = os.path.join(work, "tiny.safetensors")
        rc, _, err = run([convert, os.path.join(args.data, "tiny.pth"), model, "-q"])
        assert rc == 0, err
        image = os.path.join(ref, "image.png")
        out = os.path.join(work, "out")
        (px, py), label = meta["points"][0], meta["labels"][0]
        point = f"{px},{py},{int(label)}"
        logits = os.path.join(work, "logits.npy")
        emb = os.path.join(work, "emb.npy")
        rc, stdout, err = run([sam, "segment", "-m", model, "-i", image, "-p", point, "-o", out,
                               "--save-logits", logits, "--save-embedding", emb, "--threads", "2"])
        if rc != 0:
            fail(f"segment: rc {rc}: {err}")
            return 1
        files = sorted(os.listdir(out))
        if files != ["mask_0.png", "mask_1.png", "mask_2.png", "overlay.png", "result.json"]:
            fail(f"segment output files: {files}")
        result = json.load(open(os.path.join(out, "result.json")))
        official = np.load(os.path.join(ref, "masks.npy"))[0]  # [3, H, W]
        iou = np.load(os.path.join(ref, "iou_predictions.npy"))[0]
        order = np.argsort(-iou, kind="stable")
        scores = [m["score"] for m in result["masks"]]
        if scores != sorted(scores, reverse=True):
            fail(f"masks not sorted best first: {scores}")
        for k, m in enumerate(result["masks"]):
            png = np.array(Image.open(os.path.join(out, m["file"])))
            if png.shape != official.shape[1:] or set(np.unique(png)) - {0, 255}:
                fail(f"{m['file']}: shape {png.shape} values {np.unique(png)[:5]}")
                continue
            want = official[order[k]].astype(bool)
            got = png == 255
            inter, union = (got & want).sum(), (got | want).sum()
            if union and inter / union < 0.999:
                fail(f"{m['file']}: IoU {inter / union:.5f} with the official mask")
            if m["area"] != int(got.sum()):
                fail(f"{m['file']}: area {m['area']} != {int(got.sum())}")
            if abs(m["score"] - float(iou[order[k]])) > 1e-4:
                fail(f"{m['file']}: score {m['score']} vs official {iou[order[k]]}")
            ys, xs = np.nonzero(got)
            if len(xs) and m["bbox_xywh"] != [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                              int(ys.max() - ys.min() + 1)]:
                fail(f"{m['file']}: bbox {m['bbox_xywh']}")
        for key in ("encoder_ms", "decoder_ms", "total_ms"):
            if key not in result["timing"]:
                fail(f"result.json lacks timing.{key}")
        if result["prompts"]["points"] != [[px, py, int(label)]]:
            fail(f"result.json prompts: {result['prompts']}")
        low = np.load(logits)
        want_low = np.load(os.path.join(ref, "low_res_logits.npy"))
        if low.shape != want_low.shape or low.dtype != np.float32:
            fail(f"--save-logits: {low.shape} {low.dtype}")
        elif np.linalg.norm(low - want_low) / np.linalg.norm(want_low) > 1e-4:
            fail("--save-logits: differs from the official low-res logits")
        if np.load(emb).shape != (1, 32, 16, 16):
            fail(f"--save-embedding: shape {np.load(emb).shape}")
        print("   ok  segment outputs match the official masks, scores and logits")

        out2 = os.path.join(work, "out2")
        rc, stdout, err = run([sam, "segment", "-m", model, "-i", image, "-p", point, "-o", out2, "--load-embedding", emb])
        if rc != 0 or "encoder 0 ms" not in stdout:
            fail(f"--load-embedding: rc {rc} {stdout} {err}")
        elif any(open(os.path.join(out, f), "rb").read() != open(os.path.join(out2, f), "rb").read()
                 for f in ("mask_0.png", "mask_1.png", "mask_2.png")):
            fail("--load-embedding gives different masks")
        else:
            print("   ok  cached embedding gives the same masks")

        # sam bench on the cached embedding: decoder only (first and refinement clicks), no encoder run
        rc, stdout, err = run([sam, "bench", "-m", model, "-i", image, "--load-embedding", emb, "--decoder-runs", "3",
                               "--json", "--threads", "2"])
        try:
            bench = json.loads(stdout)
            assert bench["encoder_ms"] is None and bench["total_ms"] is None, "encoder timed"
            assert bench["decoder_ms"] > 0 and bench["decoder_refine_ms"] > 0, "no decoder times"
            assert not any(r["layer"].startswith("image_encoder") for r in bench["layers"]), "encoder layers listed"
            assert any(r["layer"].startswith("mask_decoder") for r in bench["layers"]), "no decoder layers"
            print(f"   ok  sam bench --load-embedding: decoder {bench['decoder_ms']:.1f} ms, "
                  f"refinement {bench['decoder_refine_ms']:.1f} ms")
        except Exception as e:  # noqa: BLE001
            fail(f"bench --load-embedding: rc {rc}: {e}: {stdout[-300:]} {err}")
        other = os.path.join(work, "other.png")
        Image.new("RGB", (64, 48), (10, 20, 30)).save(other)
        rc, _, err = run([sam, "bench", "-m", model, "-i", other, "--load-embedding", emb, "--decoder-runs", "1"])
        if rc == 0 or "another image" not in err or len(err.strip().splitlines()) != 1:
            fail(f"bench --load-embedding with another image: rc {rc} {err}")
        else:
            print("   ok  sam bench --load-embedding refuses another image's embedding")

        # single mask, boxes, mask input
        out3 = os.path.join(work, "out3")
        mask_in = os.path.join(work, "mask_in.npy")
        np.save(mask_in, want_low[0, int(np.argmax(iou))][None])
        rc, _, err = run([sam, "segment", "-m", model, "-i", image, "-b", "40,30,250,190", "-b", "10,10,120,100",
                          "-p", point, "--mask-input", mask_in, "--single-mask", "-o", out3])
        n = len([f for f in os.listdir(out3) if f.startswith("mask_")]) if rc == 0 else -1
        if rc != 0 or n != 2:
            fail(f"two boxes, single mask: rc {rc}, {n} masks: {err}")
        else:
            print("   ok  two boxes + point + mask input, --single-mask: 2 masks")

        trace_dir = os.path.join(work, "trace")
        rc, stdout, err = run([sam, "trace", "-m", model, "-i", image, "-p", point, "-o", trace_dir, "--compare", ref])
        if rc != 0 or "all within rel L2" not in stdout or " 0 without a reference dump" not in stdout:
            fail(f"trace --compare: rc {rc}: {stdout[-800:]} {err}")
        else:
            print("   ok  " + stdout.strip().splitlines()[-1])

        print("== bad input")
        other_model = os.path.join(work, "other.safetensors")
        run([convert, "--random", "tiny", "--seed", "5", other_model, "-q"])
        other_image = os.path.join(work, "other.png")
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(other_image)
        not_image = os.path.join(work, "not_image.png")
        open(not_image, "wb").write(b"hello, not a png")
        cases = [
            ([], 2, "required"),
            (["-p", "1,2,3,4"], 1, "expected X,Y or X,Y,LABEL"),
            (["-p", "inf,2"], 1, "finite"),
            (["-p", "1,2,7"], 1, "LABEL must be"),
            (["-p", "x,2"], 1, "not a number"),
            (["-p", "9999,2"], 1, "outside"),
            (["-b", "50,50,10,10"], 1, "X1 > X0"),
            (["-b", "1,2,3"], 1, "expected X0,Y0,X1,Y1"),
            ([], 1, "no prompt"),
            (["-p", point, "--mask-input", logits], 1, "mask input of shape"),
            (["-p", point, "--load-embedding", emb, "-m=" + other_model], 1, "another model"),
            (["-p", "5,5", "--load-embedding", emb, "-i=" + other_image], 1, "another image"),
            (["-p", point, "-i=" + not_image], 1, "not a readable image"),
            (["-p", point, "-i=" + os.path.join(work, "missing.png")], 1, "no such file"),
            (["-p", point, "-m=" + os.path.join(args.data, "tiny.pth")], 1, "convert it first: sam-convert"),
            (["-p", point, "--threads", "0"], 2, "--threads"),
        ]
        for extra, code, words in cases:
            target = os.path.join(work, "bad_out")
            # "-m=X" / "-i=X" in a case replace the default model / image
            m = next((e[3:] for e in extra if e.startswith("-m=")), model)
            i = next((e[3:] for e in extra if e.startswith("-i=")), image)
            extra = [e for e in extra if not e.startswith(("-m=", "-i="))]
            cmd = [sam, "segment", "-m", m, "-i", i, "-o", target] + extra
            if extra == [] and code == 2:
                cmd = [sam, "segment"]
            rc, stdout, err = run(cmd)
            lines = err.strip().splitlines()
            what = " ".join(extra) or "(no prompt)"
            if rc != code or len(lines) != 1 or words not in lines[0]:
                fail(f"{what}: rc {rc} (want {code}), stderr {err.strip()[:300]!r}")
            elif os.path.exists(target):
                fail(f"{what}: output folder created")
            else:
                print(f"   ok  {what}: {lines[0][:140]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all sam segment / trace checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
