"""Shared by the dataset-run tests: a tiny model, a few images, output comparison."""
import filecmp
import os
import subprocess

from PIL import Image

# Few prompts and every mask kept: a few hundred ms per image on the tiny model.
FAST = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0"]


def tiny_model(bin_dir, data, work):
    """DATA/tiny.pth (the reference fixture's random tiny checkpoint) converted into WORK."""
    model = os.path.join(work, "tiny.safetensors")
    p = subprocess.run([os.path.join(bin_dir, "sam-convert"), os.path.join(data, "tiny.pth"), model, "-q"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return model


def make_images(data, folder, count, size=None):
    """COUNT distinct images (the amg fixture's image, rotated) in FOLDER; returns their names."""
    os.makedirs(folder, exist_ok=True)
    base = Image.open(os.path.join(data, "amg_tiny_all", "image.png")).convert("RGB")
    if size:
        base = base.resize(size)
    names = []
    for i in range(count):
        name = f"img{i:02d}.png"
        base.rotate(i * 360.0 / count).save(os.path.join(folder, name))
        names.append(name)
    return names


def tree(folder, skip=("logs",)):
    """Relative paths of every file under FOLDER (top-level names in SKIP left out)."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel = os.path.relpath(root, folder)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in skip]
            files = [f for f in files if f not in skip]
        out += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return sorted(out)


def same_trees(a, b):
    """'' if both folders hold the same files byte for byte (logs/ aside), else what differs."""
    ta, tb = tree(a), tree(b)
    if ta != tb:
        return f"different files: only in {a}: {sorted(set(ta) - set(tb))}, only in {b}: {sorted(set(tb) - set(ta))}"
    diff = [f for f in ta if not filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False)]
    return f"files differ: {diff}" if diff else ""


def read_log(path):
    import json
    with open(path) as f:
        return [json.loads(line) for line in f]
