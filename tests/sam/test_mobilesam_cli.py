#!/usr/bin/env python3
"""MobileSAM (vit_t) through the command-line tools, on the official MobileSAM code's data
(tests/reference/prepare_mobilesam.sh: mobile_sam.pt with seeded random weights, suite_vit_t/,
layers_vit_t/).

    test_mobilesam_cli.py --bin BUILD/bin --data BUILD/testdata_mobilesam

* sam-convert reads mobile_sam.pt (the state_dict as MobileSAM saves it, classifier and
  num_batches_tracked included): variant vit_t, the classifier left out; f32 and bf16;
* a TinyViT state_dict that fits no variant (a tensor missing, a wrong shape) is refused with
  one line naming the reason, and no output file;
* sam segment: masks, scores and low-res logits equal the official MobileSAM outputs
  (640x427 PNG and the JPEG, a point prompt and a box), --precision bf16 runs;
* the embedding cache refuses an embedding of another variant (tiny <-> vit_t);
* sam trace --compare finds every image-encoder layer within 1e-4 of the official hooks;
* sam everything (small settings) and sam bench run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def check_segment(sam, model, suite, name, case, work, extra=()):
    """sam segment on one suite image and case (one prompt set): masks / scores / logits."""
    info = next(i for i in suite["images"] if i["name"] == name)
    c = next(x for x in info["cases"] if x["name"] == case)
    d = os.path.join(os.path.dirname(suite["_path"]), name)
    args = []
    for p in c.get("points", []):
        args += ["-p", f"{p[0]},{p[1]},{p[2]}"]
    for b in c.get("boxes", []):
        args += ["-b", ",".join(str(v) for v in b)]
    if not c["multimask"]:
        args.append("--single-mask")
    out = os.path.join(work, f"seg_{name}_{case}" + "".join(extra).replace("-", "_"))
    logits = out + "_logits.npy"
    rc, stdout, err = run([sam, "segment", "-m", model, "-i", os.path.join(d, info["file"]), "-o", out,
                           "--save-logits", logits, "--threads", "2", *args, *extra])
    if rc != 0:
        fail(f"segment {name} {case}: rc {rc}: {err.strip()}")
        return
    result = json.load(open(os.path.join(out, "result.json")))
    official = np.load(os.path.join(d, case, "masks.npy"))[0]
    iou = np.load(os.path.join(d, case, "iou_predictions.npy"))[0]
    order = np.argsort(-iou, kind="stable")
    bf16 = "bf16" in extra
    for k, m in enumerate(result["masks"]):
        got = np.array(Image.open(os.path.join(out, m["file"]))) == 255
        want = official[order[k]].astype(bool)
        inter, union = (got & want).sum(), (got | want).sum()
        if not bf16 and union and inter / union < 0.999:
            fail(f"segment {name} {case} {m['file']}: IoU {inter / union:.5f} with the official mask")
        if not bf16 and abs(m["score"] - float(iou[order[k]])) > 1e-4:
            fail(f"segment {name} {case} {m['file']}: score {m['score']} vs official {iou[order[k]]}")
    low, want_low = np.load(logits), np.load(os.path.join(d, case, "low_res_logits.npy"))
    err_l2 = np.linalg.norm(low - want_low) / np.linalg.norm(want_low)
    if err_l2 > (2e-2 if bf16 else 1e-4):
        fail(f"segment {name} {case}: low-res logits rel L2 {err_l2:.2e}")
    else:
        print(f"   ok  segment {name} {case}{' bf16' if bf16 else ''}: logits rel L2 {err_l2:.1e}")


def check_refusals(convert, data, work):
    sd = torch.load(os.path.join(data, "mobile_sam.pt"))
    bad = {
        "missing": ({k: v for k, v in sd.items() if k != "image_encoder.layers.2.blocks.5.attn.qkv.bias"},
                    "missing 1 (image_encoder.layers.2.blocks.5.attn.qkv.bias)"),
        "shape": (dict(sd, **{"image_encoder.layers.1.blocks.0.attn.attention_biases": torch.zeros(4, 50)}),
                  "image_encoder.layers.1.blocks.0.attn.attention_biases [4, 50] (expected [4, 49])"),
    }
    for what, (state, reason) in bad.items():
        src = os.path.join(work, f"bad_{what}.pt")
        torch.save(state, src)
        out = os.path.join(work, f"bad_{what}.safetensors")
        rc, _, err = run([convert, src, out, "-q"])
        lines = err.strip().splitlines()
        if rc != 1 or len(lines) != 1 or reason not in err or "not vit_t" not in err or os.path.exists(out):
            fail(f"sam-convert of a TinyViT state_dict with a {what} tensor: rc {rc}, {err.strip()!r}")
        else:
            print(f"   ok  refused ({what}): {lines[0]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    sam, convert = os.path.join(args.bin, "sam"), os.path.join(args.bin, "sam-convert")
    work = tempfile.mkdtemp(prefix="sam_mobilesam_test_")
    try:
        model = os.path.join(work, "vit_t.safetensors")
        rc, stdout, err = run([convert, os.path.join(args.data, "mobile_sam.pt"), model])
        if rc != 0 or "vit_t" not in stdout:
            fail(f"sam-convert mobile_sam.pt: rc {rc}: {stdout} {err}")
            return 1
        rc, stdout, err = run([sam, "info", "-m", model])
        if rc != 0 or "vit_t" not in stdout:
            fail(f"sam info: rc {rc}: {stdout} {err}")
        model16 = os.path.join(work, "vit_t.bf16.safetensors")
        rc, _, err = run([convert, os.path.join(args.data, "mobile_sam.pt"), model16, "--dtype", "bf16", "-q"])
        if rc != 0:
            fail(f"sam-convert --dtype bf16: {err}")
        print("   ok  sam-convert mobile_sam.pt -> vit_t (f32, bf16)")
        check_refusals(convert, args.data, work)

        suite_path = os.path.join(args.data, "suite_vit_t", "suite.json")
        suite = json.load(open(suite_path))
        suite["_path"] = suite_path
        check_segment(sam, model, suite, "640x427", "point", work)
        check_segment(sam, model, suite, "1800x1200_jpeg", "box", work)
        check_segment(sam, model, suite, "640x427", "point", work, ("--precision", "bf16"))

        # The embedding cache: an embedding is only ever used with the model that made it.
        img = os.path.join(args.data, "suite_vit_t", "640x427", "image.png")
        tiny = os.path.join(work, "tiny.safetensors")
        run([convert, "--random", "tiny", tiny, "-q"])
        emb_t, emb_tiny = os.path.join(work, "emb_vit_t.npy"), os.path.join(work, "emb_tiny.npy")
        for m, e in ((model, emb_t), (tiny, emb_tiny)):
            rc, _, err = run([sam, "segment", "-m", m, "-i", img, "-p", "100,100", "-o", e + "_out",
                              "--save-embedding", e])
            if rc != 0:
                fail(f"--save-embedding with {m}: {err}")
        for m, e in ((model, emb_tiny), (tiny, emb_t)):
            out = os.path.join(work, "refused_" + os.path.basename(e))
            rc, _, err = run([sam, "segment", "-m", m, "-i", img, "-p", "100,100", "-o", out, "--load-embedding", e])
            if rc != 1 or "another model" not in err or os.path.exists(out):
                fail(f"--load-embedding of another variant's embedding: rc {rc} {err.strip()!r}")
        rc, stdout, err = run([sam, "segment", "-m", model, "-i", img, "-p", "100,100", "-o",
                               os.path.join(work, "cached"), "--load-embedding", emb_t])
        if rc != 0:
            fail(f"--load-embedding of its own embedding: {err}")
        print("   ok  the embedding cache refuses another variant's embedding")

        trace_dir = os.path.join(work, "trace")
        rc, stdout, err = run([sam, "trace", "-m", model, "-i", os.path.join(args.data, "suite_vit_t", "1800x1200",
                               "image.png"), "-p", "810,660", "-o", trace_dir, "--compare",
                               os.path.join(args.data, "layers_vit_t")])
        if rc != 0 or "image_encoder.layers.2.blocks.5" not in stdout:
            fail(f"trace --compare: rc {rc}: {stdout[-1500:]} {err}")
        elif not os.path.exists(os.path.join(trace_dir, "image_encoder.layers.3.blocks.1.npy")):
            fail("trace: no image_encoder.layers.3.blocks.1.npy")
        else:
            print("   ok  sam trace --compare: the image encoder's layers match the official hooks")

        ev = os.path.join(work, "everything")
        rc, stdout, err = run([sam, "everything", "-m", model, "--input", img, "--output", ev, "--points-per-side", "4",
                               "--pred-iou-thresh", "0", "--stability-score-thresh", "0", "--threads", "2"])
        if rc != 0 or not os.path.exists(os.path.join(ev, "image", "metadata.csv")):
            fail(f"everything: rc {rc}: {stdout[-500:]} {err}")
        else:
            print("   ok  sam everything")
        rc, stdout, err = run([sam, "bench", "-m", model, "-i", img, "--runs", "1", "--decoder-runs", "2", "--json",
                               "--threads", "2"])
        try:
            bench = json.loads(stdout)
            assert bench["encoder_ms"] > 0
            print(f"   ok  sam bench: encoder {bench['encoder_ms']:.0f} ms")
        except Exception as e:  # noqa: BLE001
            fail(f"bench: rc {rc}: {e}: {stdout[-300:]} {err}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("FAILED" if failures else "all MobileSAM CLI checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
