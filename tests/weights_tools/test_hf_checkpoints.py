#!/usr/bin/env python3
"""sam-convert on the other published forms of the SAM weights.

Run by ctest (see tests/CMakeLists.txt) after tests/reference/prepare_test_data.sh:
    test_hf_checkpoints.py --bin BUILD/bin --data BUILD/testdata --pyhf BUILD/pyhf [--variants tiny,vit_b]

* Ultralytics sam_b.pt / sam_l.pt: the official state_dict re-saved with torch.save
  (ultralytics/models/sam/build.py loads it with torch.load + load_state_dict); also the
  same state_dict wrapped as {'model': state_dict, ...}.
* Hugging Face model.safetensors: the official state_dict renamed by transformers' own
  convert_sam_to_hf.replace_keys, loaded strictly into transformers' SamModel and written
  by save_pretrained (model.safetensors + config.json), with config.json as written, in
  full (the hub's form), or absent.
Every converted file must hold exactly the tensors (names, dtypes, shapes, bytes) of
sam-convert on the original .pth, and `sam segment` on it must give identical masks,
scores and logits. Broken HF files and config.json files are refused with one line.

transformers (4.40, the last line that runs on this torch 1.13) is installed into --pyhf
without dependencies when it is not there; without network the test is skipped (77).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

PINNED = ["transformers==4.40.2", "huggingface_hub==0.23.4", "tokenizers==0.19.1", "safetensors==0.4.3",
          "regex", "tqdm", "filelock", "fsspec==2024.3.1", "packaging==24.0"]
ULTRALYTICS_NAME = {"vit_b": "sam_b.pt", "vit_l": "sam_l.pt", "vit_h": "sam_h.pt", "tiny": "sam_tiny.pt"}

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def ensure_transformers(pyhf):
    """Makes transformers importable from pyhf; False when it cannot be installed."""
    sys.path.insert(0, pyhf)
    try:
        import transformers  # noqa: F401
        return True
    except ImportError:
        pass
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", pyhf, "--no-deps"] + PINNED,
                       capture_output=True, text=True)
    if p.returncode != 0:
        print("pip install failed:", p.stderr[-1000:])
        return False
    import importlib
    importlib.invalidate_caches()
    import transformers  # noqa: F401
    return True


def read_safetensors(path):
    """(header without __metadata__, metadata, data bytes)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    return header, meta, data


def same_tensors(a, b, what):
    """The two converted files hold the same tensors (names, dtypes, shapes, bytes)."""
    ha, _, da = read_safetensors(a)
    hb, mb, db = read_safetensors(b)
    if sorted(ha) != sorted(hb):
        diff = sorted(set(ha) ^ set(hb))
        fail(f"{what}: {len(diff)} tensor names differ from the .pth conversion, e.g. {diff[:3]}")
        return False
    bad = []
    for name, ea in ha.items():
        eb = hb[name]
        (a0, a1), (b0, b1) = ea["data_offsets"], eb["data_offsets"]
        if ea["dtype"] != eb["dtype"] or ea["shape"] != eb["shape"] or da[a0:a1] != db[b0:b1]:
            bad.append(name)
    if bad:
        fail(f"{what}: {len(bad)} tensors differ from the .pth conversion, e.g. {bad[:3]}")
        return False
    print(f"   ok  {what}: {len(hb)} tensors identical to the .pth conversion (source_format "
          f"{mb.get('source_format')}, variant {mb.get('variant')})")
    return True


def convert(bin_dir, src, dst, *extra):
    rc, out, err = run([os.path.join(bin_dir, "sam-convert"), src, dst, "-q", "--overwrite"] + list(extra))
    if rc != 0:
        fail(f"sam-convert {os.path.basename(src)}: rc {rc}: {err.strip()}")
    return rc == 0


def segment_outputs(bin_dir, model, image, point, out):
    logits = out + "_logits.npy"
    rc, _, err = run([os.path.join(bin_dir, "sam"), "segment", "-m", model, "-i", image, "-p", point, "-o", out,
                      "--save-logits", logits, "--threads", "2"])
    if rc != 0:
        fail(f"sam segment -m {os.path.basename(model)}: rc {rc}: {err.strip()}")
        return None
    res = {name: open(os.path.join(out, name), "rb").read() for name in sorted(os.listdir(out)) if name.endswith(".png")}
    result = json.load(open(os.path.join(out, "result.json")))
    res["masks"] = json.dumps(result.get("masks"), sort_keys=True)
    res["logits"] = open(logits, "rb").read()
    return res


def tiny_hf_config(transformers):
    """transformers' SamConfig for the registry's test-only 'tiny' variant."""
    return transformers.SamConfig(
        vision_config=dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, image_size=256,
                           window_size=6, global_attn_indexes=[1, 3], output_channels=32, num_pos_feats=16,
                           mlp_dim=256),
        prompt_encoder_config=dict(hidden_size=32, image_size=256, mask_input_channels=8),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32))


def make_hf(variant, pth, out_dir, full_config):
    """The official .pth as transformers' SamModel saves it (model.safetensors + config.json)."""
    import torch
    import transformers
    from transformers.models.sam import convert_sam_to_hf as hf_conv
    sd = torch.load(pth, map_location="cpu")
    hf_sd = hf_conv.replace_keys(dict(sd))
    config = tiny_hf_config(transformers) if variant == "tiny" else hf_conv.get_config(f"sam_{variant}")
    model = transformers.SamModel(config)
    model.load_state_dict(hf_sd, strict=True)  # the keys are exactly SamModel's
    model.save_pretrained(out_dir)
    if full_config:  # the hub's config.json lists every field
        config.to_json_file(os.path.join(out_dir, "config.json"), use_diff=False)
    return hf_sd


def check_ultralytics(args, variant, pth, ref, work):
    import torch
    print(f"== {variant}: Ultralytics checkpoint names")
    sd = torch.load(pth, map_location="cpu")
    name = ULTRALYTICS_NAME[variant]
    plain = os.path.join(work, name)
    torch.save(sd, plain)
    wrapped = os.path.join(work, "wrapped_" + name)
    torch.save({"model": sd, "epoch": 0, "date": "2023-04-01"}, wrapped)
    for src in (plain, wrapped):
        dst = os.path.join(work, os.path.basename(src) + ".safetensors")
        if convert(args.bin, src, dst):
            same_tensors(ref, dst, os.path.basename(src))
        os.remove(dst)
        os.remove(src)


def check_hf(args, variant, pth, ref, work, image, point):
    print(f"== {variant}: Hugging Face model.safetensors")
    hf_dir = os.path.join(work, f"hf_{variant}")
    hf_sd = make_hf(variant, pth, hf_dir, full_config=(variant == "tiny"))
    st = os.path.join(hf_dir, "model.safetensors")
    got = os.path.join(work, "from_hf.safetensors")
    if convert(args.bin, st, got):
        same_tensors(ref, got, f"{variant} model.safetensors + config.json")
    # Without config.json: the variant from the keys and shapes.
    bare_dir = os.path.join(work, "bare")
    os.makedirs(bare_dir, exist_ok=True)
    shutil.copy(st, os.path.join(bare_dir, "model.safetensors"))
    bare = os.path.join(work, "from_bare.safetensors")
    if convert(args.bin, os.path.join(bare_dir, "model.safetensors"), bare):
        same_tensors(ref, bare, f"{variant} model.safetensors without config.json")
    # Both tied positional tables stored (safetensors' save_file of the full state_dict).
    from safetensors.torch import save_file
    both = os.path.join(bare_dir, "model.safetensors")
    save_file({k: v.clone().contiguous() for k, v in hf_sd.items()}, both, metadata={"format": "pt"})
    if convert(args.bin, both, bare):
        same_tensors(ref, bare, f"{variant} model.safetensors with both tied tables")
    # bf16: the same narrowing as from the .pth.
    ref16, got16 = os.path.join(work, "ref_bf16.safetensors"), os.path.join(work, "hf_bf16.safetensors")
    if convert(args.bin, pth, ref16, "--dtype", "bf16") and convert(args.bin, st, got16, "--dtype", "bf16"):
        same_tensors(ref16, got16, f"{variant} model.safetensors --dtype bf16")
    # sam segment: identical masks, scores and logits.
    if os.path.exists(got):
        a = segment_outputs(args.bin, ref, image, point, os.path.join(work, "seg_pth"))
        b = segment_outputs(args.bin, got, image, point, os.path.join(work, "seg_hf"))
        if a is not None and b is not None:
            if a != b:
                fail(f"{variant}: sam segment differs: {[k for k in a if a.get(k) != b.get(k)]}")
            else:
                print(f"   ok  {variant}: sam segment masks, scores and logits identical ({len(a) - 2} PNGs)")
    return hf_dir, hf_sd


def expect_refused(args, src, words, what):
    out_dir = tempfile.mkdtemp(prefix="hf_bad_out_")
    rc, _, err = run([os.path.join(args.bin, "sam-convert"), src, os.path.join(out_dir, "m.safetensors")])
    lines = err.strip().splitlines()
    if rc != 1 or len(lines) != 1 or words not in lines[0]:
        fail(f"{what}: rc {rc}, stderr {err.strip()[:400]!r}; expected one line with {words!r}")
    else:
        print(f"   ok  {what}: {lines[0][:160]}")
    if os.listdir(out_dir):
        fail(f"{what}: left files behind: {os.listdir(out_dir)}")
    shutil.rmtree(out_dir, ignore_errors=True)


def check_bad_hf(args, hf_sd, config_json, work):
    """Broken HF files and config.json files (vit_b tensors)."""
    import torch
    from safetensors.torch import save_file
    print("== broken Hugging Face files")
    d = os.path.join(work, "bad")
    os.makedirs(d, exist_ok=True)
    st = os.path.join(d, "model.safetensors")
    cfg = os.path.join(d, "config.json")
    tensors = {k: v.contiguous() for k, v in hf_sd.items() if k != "prompt_encoder.shared_embedding.positional_embedding"}

    missing = dict(tensors)
    del missing["mask_decoder.iou_prediction_head.proj_out.bias"]
    save_file(missing, st)
    expect_refused(args, st, "missing 1 (mask_decoder.iou_prediction_head.proj_out.bias)", "HF file missing a tensor")

    renamed = dict(tensors)
    renamed["vision_encoder.layers.0.layer_norm9.weight"] = renamed.pop("vision_encoder.layers.0.layer_norm1.weight")
    save_file(renamed, st)
    expect_refused(args, st, "unexpected 1 (vision_encoder.layers.0.layer_norm9.weight)", "HF file with a stray key")

    tied = dict(tensors)
    tied["prompt_encoder.shared_embedding.positional_embedding"] = torch.zeros_like(
        tensors["shared_image_embedding.positional_embedding"])
    save_file(tied, st)
    expect_refused(args, st, "differ; SamModel ties them", "HF file with two different tied tables")

    save_file(tensors, st)
    base = json.load(open(config_json))
    cases = [
        ("config.json of an unknown variant (SlimSAM-50-like)",
         {"vision_config": {"hidden_size": 384, "mlp_dim": 1536}}, "describes no registered SAM variant"),
        ("config.json of another variant (vit_l)",
         {"vision_config": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                            "global_attn_indexes": [5, 11, 17, 23]}}, "describes SAM vit_l, but the tensors are vit_b"),
        ("config.json of another model type", {"model_type": "sam_hq"}, "model_type is \"sam_hq\""),
        ("config.json with another activation", {"mask_decoder_config": {"hidden_act": "gelu"}},
         "mask_decoder_config.hidden_act"),
    ]
    for what, patch, words in cases:
        c = json.loads(json.dumps(base))
        for k, v in patch.items():
            if isinstance(v, dict):
                c.setdefault(k, {}).update(v)
            else:
                c[k] = v
        json.dump(c, open(cfg, "w"))
        expect_refused(args, st, words, what)
    open(cfg, "w").write("{not json")
    expect_refused(args, st, "not valid JSON", "config.json that is not JSON")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--pyhf", required=True)
    ap.add_argument("--variants", default="tiny,vit_b")
    args = ap.parse_args()
    if not ensure_transformers(args.pyhf):
        print("skipped: transformers could not be installed")
        return 77
    ref_dir = os.path.join(args.data, "ref_tiny_point")
    meta = json.load(open(os.path.join(ref_dir, "meta.json")))
    image = os.path.join(ref_dir, "image.png")
    (px, py), label = meta["points"][0], meta["labels"][0]
    point = f"{px},{py},{int(label)}"
    work = tempfile.mkdtemp(prefix="sam_hf_test_")
    try:
        for variant in args.variants.split(","):
            pth = os.path.join(args.data, f"{variant}.pth")
            ref = os.path.join(work, f"{variant}_ref.safetensors")
            if not convert(args.bin, pth, ref):
                continue
            check_ultralytics(args, variant, pth, ref, work)
            hf_dir, hf_sd = check_hf(args, variant, pth, ref, work, image, point)
            if variant == "vit_b":
                check_bad_hf(args, hf_sd, os.path.join(hf_dir, "config.json"), work)
            for f in os.listdir(work):
                p = os.path.join(work, f)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all checkpoint-format checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
