#!/usr/bin/env python3
"""MobileSAM reference outputs: the official MobileSAM code (PyPI mobilesam-mirror, which
packages github.com/ChaoningZhang/MobileSAM's mobile_sam/ unchanged) on seeded random
weights at the real shapes (build_sam.py's registry key "vit_t": TinyViT-5M + SAM's
prompt encoder and mask decoder).

    PYTHONPATH=PYMS:PYREF /usr/bin/python3 mobilesam_reference.py --out DIR [--seed 0]

PYMS: tests/reference/setup_mobilesam.sh's install (mobile_sam, timm); PYREF: the official
segment-anything (setup_reference.sh), for dump_suite.py's case runner, which only calls
the predictor it is given (MobileSAM's SamPredictor is segment-anything's).

Writes:
  DIR/mobile_sam.pt     the state_dict as MobileSAM saves it (torch.save of
                        Sam.state_dict(): BatchNorm running stats and num_batches_tracked,
                        attention_biases, and the unused classifier image_encoder.norm_head.* /
                        image_encoder.head.*); DIR/vit_t.pth is a hard link to it (the name
                        tests/sam/test_predictor.cpp's suite runner opens)
  DIR/suite_vit_t/      dump_suite.py's layout for the "vit" images (PNG and JPEG) and every
                        prompt kind: image_embedding.npy, per case low_res_logits.npy,
                        iou_predictions.npy, masks.npy
  DIR/layers_vit_t/     the first image's image-encoder module outputs (forward hooks, the
                        official layouts), named by module path, for debugging and sam trace

Random initialisation: every floating state_dict entry gets its own generator seeded from
sha256(f"{seed}:{key}"). Conv / Linear weights N(0, (g / sqrt(fan_in))^2) (fan_in per
group: 9 for the depthwise convs), biases N(0, 0.05^2), LayerNorm weights 1 + N(0, 0.1^2);
BatchNorm: weight 1 + N(0, 0.2^2), bias N(0, 0.1^2), running_mean N(0, 0.2^2),
running_var exp(N(0, 0.3^2)), so that folding BatchNorm into the convolutions is really
tested; attention_biases N(0, 0.5^2); nn.Embedding tables and the random-Fourier matrix
N(0, 1). The model is in eval() mode, and eval() is called again AFTER the weights are set:
TinyViT's Attention caches `ab = attention_biases[:, attention_bias_idxs]` when eval()
runs (build_sam_vit_t calls it before loading a checkpoint; MobileSAM's README calls it
again after loading, as here).
"""
import argparse
import hashlib
import math
import os
import re
import sys
import warnings

import numpy as np
import torch
from PIL import Image

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dump_suite  # noqa: E402
from dump_preprocess import make_image  # noqa: E402

from mobile_sam import SamPredictor, sam_model_registry  # noqa: E402
from mobile_sam.modeling.tiny_vit_sam import Attention as TinyAttention  # noqa: E402

RESIDUAL_OUT_GAIN = 0.7


def generator(seed, key):
    digest = hashlib.sha256(f"{int(seed)}:{key}".encode()).digest()
    g = torch.Generator(device="cpu")
    g.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return g


def spec(module, local, key, t):
    """(kind, a, b) for one state_dict entry: ("normal", mean, std) or ("lognormal", 0, std)."""
    nn = torch.nn
    if isinstance(module, nn.BatchNorm2d):
        return {"weight": ("normal", 1.0, 0.2), "bias": ("normal", 0.0, 0.1),
                "running_mean": ("normal", 0.0, 0.2), "running_var": ("lognormal", 0.0, 0.3)}[local]
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        if local == "bias":
            return ("normal", 0.0, 0.05)
        if isinstance(module, nn.ConvTranspose2d):
            fan_in = t.shape[0] * t.shape[2] * t.shape[3] / (module.stride[0] * module.stride[1])
        else:
            fan_in = float(np.prod(t.shape[1:]))
        residual = key.endswith("attn.proj.weight") or key.endswith("mlp.fc2.weight") or \
            key.endswith(".out_proj.weight") or key.endswith("mlp.lin2.weight")
        return ("normal", 0.0, (RESIDUAL_OUT_GAIN if residual else 1.0) / math.sqrt(fan_in))
    if type(module).__name__ in ("LayerNorm", "LayerNorm2d"):
        return ("normal", 1.0, 0.1) if local == "weight" else ("normal", 0.0, 0.05)
    if isinstance(module, nn.Embedding):
        return ("normal", 0.0, 1.0)
    if isinstance(module, TinyAttention) and local == "attention_biases":
        return ("normal", 0.0, 0.5)
    if local == "positional_encoding_gaussian_matrix":
        return ("normal", 0.0, 1.0)
    raise KeyError(f"no rule for state_dict entry {key!r} ({type(module).__name__})")


@torch.no_grad()
def randomize_(model, seed):
    modules = dict(model.named_modules())
    for key, t in model.state_dict(keep_vars=True).items():
        if not t.is_floating_point():
            continue  # num_batches_tracked (int64): unused in eval mode
        mod_name, _, local = key.rpartition(".")
        kind, a, b = spec(modules[mod_name], local, key, t)
        v = torch.randn(tuple(t.shape), generator=generator(seed, key), dtype=torch.float32) * b + a
        t.copy_(v.exp() if kind == "lognormal" else v)
    model.eval()  # recomputes every Attention's cached `ab` from the new attention_biases
    for m in model.modules():
        if isinstance(m, TinyAttention):
            assert torch.equal(m.ab, m.attention_biases[:, m.attention_bias_idxs])
    return model


def dump_layers(sam, image_input, out_dir):
    """Every image-encoder submodule's output for one input, named by module path."""
    os.makedirs(out_dir, exist_ok=True)
    hooks = []
    for name, m in sam.image_encoder.named_modules():
        # Stages, blocks, patch merging, and the neck: the modules sam trace reports.
        if not re.fullmatch(r"patch_embed|layers\.\d+(\.blocks\.\d+|\.downsample)?|neck(\.\d)?", name):
            continue

        def hook(_m, _inp, out, name=name):
            if isinstance(out, torch.Tensor):
                np.save(os.path.join(out_dir, f"image_encoder.{name}.npy"),
                        np.ascontiguousarray(out.detach().numpy(), dtype=np.float32))
        hooks.append(m.register_forward_hook(hook))
    emb = sam.image_encoder(image_input)
    for h in hooks:
        h.remove()
    np.save(os.path.join(out_dir, "image_encoder.npy"), emb.numpy().astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", default="vit", choices=sorted(dump_suite.IMAGES))
    ap.add_argument("--checkpoint-only", action="store_true", help="write mobile_sam.pt only (benchmarks)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)

    sam = randomize_(sam_model_registry["vit_t"](checkpoint=None), args.seed)
    sd = sam.state_dict()
    assert any(k.startswith("image_encoder.norm_head.") for k in sd)
    ckpt = os.path.join(args.out, "mobile_sam.pt")
    tmp = ckpt + ".tmp"
    torch.save(sd, tmp)
    os.replace(tmp, ckpt)
    link = os.path.join(args.out, "vit_t.pth")
    if os.path.exists(link):
        os.remove(link)
    os.link(ckpt, link)
    print(f"wrote {ckpt}: {len(sd)} entries, {sum(v.numel() for v in sd.values())} elements")
    if args.checkpoint_only:
        return

    # The suite, exactly as dump_suite.py writes it for SAM, through MobileSAM's predictor.
    pred = SamPredictor(sam)
    suite_dir = os.path.join(args.out, "suite_vit_t")
    suite = {"variant": "vit_t", "images": []}
    family = args.images
    with torch.no_grad():
        for i, (w, h, fmt) in enumerate(dump_suite.IMAGES[family]):
            name = f"{w}x{h}" + ("_jpeg" if fmt == "jpg" else "")
            d = os.path.join(suite_dir, name)
            os.makedirs(d, exist_ok=True)
            img = make_image(w, h, 100 + i)
            file = "image." + fmt
            if fmt == "jpg":
                Image.fromarray(img).save(os.path.join(d, file), "JPEG", **dump_suite.JPEG_OPTIONS[family])
                with Image.open(os.path.join(d, file)) as im:
                    img = np.asarray(im.convert("RGB"))
            else:
                Image.fromarray(img).save(os.path.join(d, file))
            pred.set_image(img)
            x = sam.preprocess(torch.as_tensor(pred.transform.apply_image(img)).permute(2, 0, 1)[None].float())
            np.save(os.path.join(d, "input_image.npy"), x.numpy().astype(np.float32))
            np.save(os.path.join(d, "image_embedding.npy"), pred.features.numpy().astype(np.float32))
            if i == 0:
                dump_layers(sam, x, os.path.join(args.out, "layers_vit_t"))
            cases = dump_suite.cases_for(w, h)
            results = {}
            for case in cases:
                dump_suite.run_case(pred, case, os.path.join(d, case["name"]), results)
            suite["images"].append({"name": name, "file": file, "width": w, "height": h, "cases": cases})
            print(f"{name}: {len(cases)} cases", flush=True)
    import json
    with open(os.path.join(suite_dir, "suite.json"), "w") as f:
        json.dump(suite, f, indent=1)


if __name__ == "__main__":
    main()
