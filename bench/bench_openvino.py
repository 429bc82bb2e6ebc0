#!/usr/bin/env python3
"""sam-engine's image encoder next to OpenVINO's, in one run (issue 14's bf16 baseline).

    /usr/bin/python3 bench/bench_openvino.py [--build build/release] [--runs 5] [--threads 2] \
        [--pth vit_b.pth] [--model vit_b.safetensors] [--image IMG] [--work DIR] [--pyov DIR]

The engines, all on the same random vit_b weights and the same image:
  ours f32 / ours bf16  `sam bench -m MODEL -i IMG --runs 1 --decoder-runs 1 --threads N --json` with
                        SAM_PRECISION=f32 / bf16, one fresh process per sample; its encoder_ms is one
                        timed Predictor::set_image after a warm-up one (preprocessing of the image, a
                        no-op resize at 1024x1024 + normalise + pad, then the encoder).
  OpenVINO default / f32  the official ImageEncoderViT converted with ov.convert_model, compiled for
                        CPU with INFERENCE_NUM_THREADS=N and its default precision hint (bf16 on a CPU
                        with AMX or AVX512-BF16; the chosen one is printed), and again with
                        INFERENCE_PRECISION_HINT=f32; one timed infer() of the preprocessed
                        1x3x1024x1024 tensor per sample, after warm-up.
Samples are interleaved (ours f32, ours bf16, OV default, OV f32, repeat --runs times); the table has
their medians. Fidelity: rel L2 of each engine's image embedding to the official torch fp32 encoder's
on the same preprocessed input (ours through `sam segment --save-embedding`).

Setup (all on demand, none at build time): OpenVINO from PyPI (pip install --target PYOV, default
BUILD/pyov; its dir goes at the END of sys.path so that the system numpy/torch stay in use); the
official segment-anything from BUILD/pyref (tests/reference/setup_reference.sh); the checkpoint
BUILD/testdata/vit_b.pth if present, else made with tests/reference/make_checkpoint.py --seed 0;
MODEL, if not given, converted from it with BUILD/bin/sam-convert. If OpenVINO's PyTorch frontend
cannot read this torch (it needs a newer one than Debian's 1.13), the encoder goes through
torch.onnx.export (opset 17) and ov.convert_model reads the ONNX file: the same graph, said in the
output.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PY = "/usr/bin/python3"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_openvino(pyov, spec):
    """pip install --target, moved into place only when complete (as setup_reference.sh does)."""
    if os.path.isdir(os.path.join(pyov, "openvino")):
        return
    os.makedirs(pyov, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".install.", dir=pyov)
    try:
        log(f"installing {spec} into {pyov} (pip, once)")
        # --no-deps: its numpy requirement is met by the system numpy, which torch is built against
        cmd = [PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--no-deps",
               "--target", tmp, spec, "openvino-telemetry"]
        env = dict(os.environ, PIP_ROOT_USER_ACTION="ignore")
        if subprocess.call(cmd, env=env) != 0:
            sys.exit(f"error: {' '.join(cmd)} failed")
        names = [n for n in os.listdir(tmp) if n != "openvino"]
        for n in names + ["openvino"]:  # the package dir last: it marks the install complete
            dst = os.path.join(pyov, n)
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            elif os.path.exists(dst):
                os.remove(dst)
            shutil.move(os.path.join(tmp, n), dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def synthetic_image(size=1024):
    # bench_official.py's picture at 1024x1024: gradients and a checkerboard
    x = np.arange(size)[None, :].repeat(size, 0)
    y = np.arange(size)[:, None].repeat(size, 1)
    img = np.stack([(x * 255) // size, (y * 255) // size, ((x // 60 + y // 40) % 2) * 200 + 30], -1)
    return img.astype(np.uint8)


def rel_l2(x, ref):
    x = np.asarray(x, np.float64).reshape(-1)
    ref = np.asarray(ref, np.float64).reshape(-1)
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def type_name(t):
    # ov.Type -> "bf16" / "f32"
    for attr in ("to_string", "get_type_name"):
        if hasattr(t, attr):
            try:
                return getattr(t, attr)()
            except Exception:  # noqa: BLE001
                pass
    return str(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"),
                    help="build dir with bin/sam, bin/sam-convert, pyref/ and testdata/ (read only)")
    ap.add_argument("--pyref", default=None, help="official segment-anything (default BUILD/pyref)")
    ap.add_argument("--pyov", default=None, help="OpenVINO install dir (default BUILD/pyov; installed on demand)")
    ap.add_argument("--openvino", default="openvino", help="pip spec for OpenVINO (e.g. openvino==2026.4.1)")
    ap.add_argument("--pth", default=None, help="official-format checkpoint (default BUILD/testdata/vit_b.pth)")
    ap.add_argument("--model", default=None, help="our converted model of the same weights (default: made from --pth)")
    ap.add_argument("--variant", default="vit_b")
    ap.add_argument("--image", default=None, help="image file (default: a synthetic 1024x1024 picture)")
    ap.add_argument("--work", default=None, help="scratch dir (default BUILD/bench_openvino)")
    ap.add_argument("--runs", type=int, default=5, help="samples per engine (interleaved); the table has medians")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    pyref = os.path.abspath(args.pyref or os.path.join(build, "pyref"))
    pyov = os.path.abspath(args.pyov or os.path.join(build, "pyov"))
    work = os.path.abspath(args.work or os.path.join(build, "bench_openvino"))
    sam_bin = os.path.join(build, "bin", "sam")
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(args.threads)

    if not os.path.isdir(os.path.join(pyref, "segment_anything")):
        sys.exit(f"error: no segment_anything in {pyref}: run tests/reference/setup_reference.sh {pyref}")
    sys.path.insert(0, pyref)
    sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
    from sam_configs import build_model  # noqa: E402
    from segment_anything.utils.transforms import ResizeLongestSide  # noqa: E402

    ensure_openvino(pyov, args.openvino)
    sys.path.append(pyov)  # last: the system numpy stays the one torch uses
    import openvino as ov  # noqa: E402

    # weights: one checkpoint for the official model, OpenVINO and (converted) ours
    pth = args.pth or os.path.join(build, "testdata", f"{args.variant}.pth")
    if not os.path.isfile(pth):
        pth = os.path.join(work, f"{args.variant}.pth")
        if not os.path.isfile(pth):
            log(f"making {pth} (random weights, seed 0)")
            subprocess.check_call([PY, os.path.join(ROOT, "tests", "reference", "make_checkpoint.py"), "--variant",
                                   args.variant, "--seed", "0", "--out", pth], env=dict(os.environ, PYTHONPATH=pyref))
    model = args.model
    if not model:
        model = os.path.join(work, f"{args.variant}.safetensors")
        if not os.path.isfile(model) or os.path.getmtime(model) < os.path.getmtime(pth):
            log(f"converting {pth} -> {model}")
            subprocess.check_call([os.path.join(build, "bin", "sam-convert"), "-q", "--overwrite", pth, model])

    sam = build_model(args.variant)
    sam.load_state_dict(torch.load(pth, map_location="cpu"))
    sam.eval()
    encoder = sam.image_encoder

    # the image and its preprocessed tensor, as SamPredictor.set_image makes it
    image_path = args.image
    if image_path:
        img = np.array(Image.open(image_path).convert("RGB"))
    else:
        img = synthetic_image()
        image_path = os.path.join(work, "synthetic_1024.png")
        Image.fromarray(img).save(image_path)
    resized = ResizeLongestSide(encoder.img_size).apply_image(img)
    with torch.no_grad():
        x = sam.preprocess(torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None, :, :, :].float())
        log("official torch fp32 encoder (the fidelity reference)")
        ref = encoder(x).numpy()
    x_np = np.ascontiguousarray(x.numpy())

    # OpenVINO: convert once, compile twice
    route = "ov.convert_model(torch module)"
    try:
        ov_model = ov.convert_model(encoder, example_input=torch.zeros(1, 3, encoder.img_size, encoder.img_size))
    except Exception as e:  # noqa: BLE001  (OpenVINO's PyTorch frontend needs a newer torch than Debian's)
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        log(f"ov.convert_model on the torch module failed ({type(e).__name__}: {msg}); going through ONNX")
        onnx_path = os.path.join(work, f"{args.variant}_image_encoder.onnx")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on SAM's shape arithmetic (constant here)
            torch.onnx.export(encoder, torch.zeros(1, 3, encoder.img_size, encoder.img_size), onnx_path,
                              opset_version=17, input_names=["image"], output_names=["embedding"])
        ov_model = ov.convert_model(onnx_path)
        route = "torch.onnx.export (opset 17) -> ov.convert_model(onnx)"
    core = ov.Core()
    compiled = {
        "default": core.compile_model(ov_model, "CPU", {"INFERENCE_NUM_THREADS": args.threads}),
        "f32": core.compile_model(ov_model, "CPU", {"INFERENCE_NUM_THREADS": args.threads,
                                                    "INFERENCE_PRECISION_HINT": "f32"}),
    }
    ov_prec, requests, ov_emb = {}, {}, {}
    for name, cm in compiled.items():
        ov_prec[name] = type_name(cm.get_property("INFERENCE_PRECISION_HINT"))
        log(f"OpenVINO {name}: INFERENCE_PRECISION_HINT={ov_prec[name]}, "
            f"INFERENCE_NUM_THREADS={cm.get_property('INFERENCE_NUM_THREADS')}, "
            f"PERFORMANCE_HINT={cm.get_property('PERFORMANCE_HINT')}")
        req = cm.create_infer_request()
        req.infer({0: x_np})
        ov_emb[name] = np.array(req.get_output_tensor(0).data, copy=True)
        requests[name] = req

    # ours: the embedding of the same image through sam segment
    def sam_env(prec):
        return dict(os.environ, SAM_PRECISION=prec)

    ours_emb = {}
    for prec in ("f32", "bf16"):
        out_dir = os.path.join(work, f"segment_{prec}")
        emb = os.path.join(work, f"embedding_{prec}.npy")
        shutil.rmtree(out_dir, ignore_errors=True)
        if os.path.exists(emb):
            os.remove(emb)
        h, w = img.shape[:2]
        subprocess.check_call([sam_bin, "segment", "-m", model, "-i", image_path, "-p", f"{w // 2},{h // 2}", "-o",
                               out_dir, "--save-embedding", emb, "--threads", str(args.threads)],
                              env=sam_env(prec), stdout=subprocess.DEVNULL)
        ours_emb[prec] = np.load(emb)
        if ours_emb[prec].size != ref.size:
            sys.exit(f"error: {emb} has shape {ours_emb[prec].shape}, the official embedding {ref.shape}")

    # timing, interleaved
    def ours_sample(prec):
        out = subprocess.run([sam_bin, "bench", "-m", model, "-i", image_path, "--runs", "1", "--decoder-runs", "1",
                              "--threads", str(args.threads), "--json"], env=sam_env(prec), check=True,
                             capture_output=True, text=True).stdout
        j = json.loads(out)
        if "precision" in j and j["precision"] != prec:
            sys.exit(f"error: sam bench ran precision {j['precision']} with SAM_PRECISION={prec}")
        return j["encoder_ms"]

    def ov_sample(name):
        req = requests[name]
        t0 = time.perf_counter()
        req.infer({0: x_np})
        return (time.perf_counter() - t0) * 1e3

    rows = [("sam-engine", "ours f32", "f32", lambda: ours_sample("f32"), ours_emb["f32"]),
            ("sam-engine", "ours bf16", "bf16", lambda: ours_sample("bf16"), ours_emb["bf16"]),
            (f"OpenVINO {ov.__version__.split('-')[0]}", "OV default", ov_prec["default"],
             lambda: ov_sample("default"), ov_emb["default"]),
            (f"OpenVINO {ov.__version__.split('-')[0]}", "OV f32", ov_prec["f32"], lambda: ov_sample("f32"),
             ov_emb["f32"])]
    samples = {r[1]: [] for r in rows}
    for i in range(args.runs):
        for _, key, _, fn, _ in rows:
            samples[key].append(fn())
            time.sleep(0.3)  # let the previous engine's worker threads go idle
        log(f"round {i + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in samples.items()))

    med = {k: median(v) for k, v in samples.items()}
    base = med["ours bf16"]
    print(f"\nvit_b image encoder, {args.threads} threads, image {os.path.basename(image_path)} "
          f"({img.shape[1]}x{img.shape[0]}), medians of {args.runs} interleaved runs")
    print(f"OpenVINO {ov.__version__}, model via {route}; torch {torch.__version__} fp32 is the reference")
    print(f"{'engine':<18} {'precision':<10} {'encoder ms':>11} {'x ours-bf16':>12} {'emb rel L2':>11}   samples ms")
    results = []
    for engine, key, prec, _, emb in rows:
        err = rel_l2(emb, ref)
        print(f"{engine:<18} {prec:<10} {med[key]:>11.1f} {med[key] / base:>11.2f}x {err:>11.2e}   "
              + " ".join(f"{v:.0f}" for v in samples[key]))
        results.append({"engine": engine, "run": key, "precision": prec, "encoder_ms": med[key],
                        "ratio_to_ours_bf16": med[key] / base, "embedding_rel_l2": err, "samples_ms": samples[key]})
    print("(x ours-bf16: encoder time / ours bf16's, > 1 = slower than ours bf16; emb rel L2: image embedding vs the "
          "official torch fp32 encoder on the same input)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "runs": args.runs, "image": image_path, "openvino": ov.__version__,
                       "route": route, "torch": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
