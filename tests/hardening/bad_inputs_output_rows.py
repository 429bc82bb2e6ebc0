"""Rows of the bad-input table: output cases of issue 15 (see test_bad_inputs.py for the contract).

The output contract (README "Outputs"): no input is ever written; outputs never overlap; an existing
non-empty output is refused before any work unless --overwrite; --overwrite replaces only what the
command itself writes (recognised by its layout); results appear complete or not at all. Inputs that a
row must not write are copied into the row's slot first, so that the runner's check (the slot unchanged:
names, sizes, mtimes) sees any write."""
import fcntl
import glob
import os
import shutil
import subprocess

from bad_inputs_rows import *  # noqa: F401,F403 (Case, makers, convert/segment helpers, OK, W, H, ...)
from bad_inputs_everything_rows import everything, everything_input, everything_model, FAST, ALL  # noqa: F401

P = ["-p", "10,10"]


def copy_in(c, src, name):
    """A copy of an input in the row's slot (whose listing the runner compares)."""
    path = os.path.join(c.outdir, name)
    shutil.copy(src, path)
    return path


def earlier_segment(c, extra=()):
    """OUT holds a result of an earlier `sam segment` run."""
    subprocess.run([c.sam, "segment", "-m", c.model, "-i", c.image, "-o", c.out] + P + list(extra), check=True,
                   capture_output=True)


def foreign_folder(c, name):
    """A user's folder NAME (with notes.txt in it)."""
    os.makedirs(name)
    with open(os.path.join(name, "notes.txt"), "w") as f:
        f.write("mine\n")


def hold_lock(c):
    """Another run holds OUT: its lock (flock on the folder) taken by the test."""
    os.makedirs(c.out)
    fd = os.open(c.out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    c.held = getattr(c, "held", []) + [fd]


def truncate_model_when_written(c):
    """While the run writes its masks (after the model was used): the model cut to half, in place."""
    if not glob.glob(os.path.join(c.out, ".sam-staging-*", "mask_0.png")):
        return False
    os.truncate(c.file, os.path.getsize(c.file) // 2)
    return True


def model_copy_and_big_image(c):
    """A copy of the model (outside the slot: the row changes it) and a 2000x1500 image (slow PNGs to write)."""
    c.big = pil(c, "big.png", np.zeros((1500, 2000, 3), np.uint8))
    path = os.path.join(c.work, "model_to_truncate.safetensors")
    shutil.copy(c.model, path)
    return path


def only(c, folder, names):
    got = sorted(os.listdir(folder))
    return ("ok", f"{folder} holds {', '.join(got)}") if got == sorted(names) else \
        ("FAIL", f"{folder} holds {got}, expected {sorted(names)}")


def check_single_after_multi(c, rc, out, err):
    if rc != 0 or err.strip():
        return "FAIL", f"exit code {rc}: {err.strip()}"
    return only(c, c.out, ["mask_0.png", "overlay.png", "result.json"])


def stale_staging(c):
    """OUT/.sam-staging-PID-XXXXXX of a run that was killed (SIGKILL: its pid is gone)."""
    os.makedirs(os.path.join(c.out, ".sam-staging-2147483646-abcdef"))
    with open(os.path.join(c.out, ".sam-staging-2147483646-abcdef", "mask_0.png"), "wb") as f:
        f.write(b"partial")


def check_stale_removed(c, rc, out, err):
    if rc != 0 or err.strip():
        return "FAIL", f"exit code {rc}: {err.strip()}"
    return only(c, c.out, ["mask_0.png", "mask_1.png", "mask_2.png", "overlay.png", "result.json"])


def stale_temporaries(c):
    """Temporaries of killed runs (pids gone) beside OUT and a --save-logits file, and one of a live run."""
    for name in (".out.safetensors.tmp-2147483646-abcdef", ".logits.npy.sam-pending-2147483646-abcdef",
                 f".out.safetensors.tmp-{os.getpid()}-abcdef"):
        with open(os.path.join(c.outdir, name), "wb") as f:
            f.write(b"partial")
    return None


def check_only_live_temporary(names):
    def check(c, rc, out, err):
        if rc != 0 or err.strip():
            return "FAIL", f"exit code {rc}: {err.strip()}"
        return only(c, c.outdir, names + [f".out.safetensors.tmp-{os.getpid()}-abcdef"])
    return check


def symlink_loop_folder(c):
    folder = os.path.join(c.work, "folder_loop")
    os.makedirs(folder, exist_ok=True)
    pil(c, os.path.join("folder_loop", "a.png"), rgb_array())
    loop = os.path.join(folder, "loop.png")
    if not os.path.lexists(loop):
        os.symlink("loop.png", loop)
    return loop


def trace(message, what, args, make=None, **kw):
    return Case("sam trace", what, args, message, 1, make, **kw)


def demo(message, what, extra=(), make=None):
    return Case("sam demo-image", what, lambda c: ["demo-image", c.file] + list(extra), message, 1, make)


SEG = lambda c, extra: ["segment", "-m", c.model, "-i", c.image, "-o", c.out] + P + extra  # noqa: E731

OUTPUT_CASES = [
    # ------------------------------------------------------------ outputs never overwrite inputs
    segment("sam: error: --save-logits {file}: is the --image input; outputs never overwrite inputs",
            "`--save-logits` onto the input image", make=lambda c: copy_in(c, c.image, "image.png"),
            args=lambda c: ["segment", "-m", c.model, "-i", c.file, "-o", c.out] + P + ["--save-logits", c.file]),
    segment("sam: error: --save-embedding {file}: is the --model input; outputs never overwrite inputs",
            "`--save-embedding` onto the model", make=lambda c: copy_in(c, c.model, "model.safetensors"),
            args=lambda c: ["segment", "-m", c.file, "-i", c.image, "-o", c.out] + P + ["--save-embedding", c.file]),
    segment("sam: error: --save-logits {file}: is the --model input; outputs never overwrite inputs",
            "`--save-logits` onto a hard link of the model (same file, other name)",
            make=lambda c: (os.link(copy_in(c, c.model, "model.safetensors"), os.path.join(c.outdir, "link.npy")),
                            os.path.join(c.outdir, "link.npy"))[1],
            args=lambda c: ["segment", "-m", os.path.join(c.outdir, "model.safetensors"), "-i", c.image, "-o", c.out]
            + P + ["--save-logits", c.file]),
    segment("sam: error: {out}/overlay.png: is the --image input; outputs never overwrite inputs",
            "`--overwrite` of a result whose `overlay.png` is the input image",
            make=lambda c: (earlier_segment(c), os.path.join(c.out, "overlay.png"))[1],
            args=lambda c: ["segment", "-m", c.model, "-i", c.file, "-o", c.out] + P + ["--overwrite"]),
    demo("sam: error: {file}: already exists (use --overwrite to replace it)", "`sam demo-image` onto the model file",
         make=lambda c: copy_in(c, c.model, "model.safetensors")),
    demo("sam: error: {file}: not written by sam demo-image (not a PNG image); --overwrite replaces only such files",
         "`sam demo-image --overwrite` onto the model file", ["--overwrite"],
         make=lambda c: copy_in(c, c.model, "model.safetensors")),

    # ------------------------------------------------------------ outputs never overlap
    segment("sam: error: --save-embedding {file}: is also the --save-logits output",
            "`--save-logits` and `--save-embedding` the same file", make=lambda c: os.path.join(c.outdir, "x.npy"),
            args=lambda c: SEG(c, ["--save-logits", c.file, "--save-embedding", c.file])),
    segment("sam: error: --save-logits {file}: lies inside the output folder {out}; choose a path outside it",
            "`--save-logits` inside the `-o` folder", make=lambda c: os.path.join(c.out, "logits.npy"),
            args=lambda c: SEG(c, ["--save-logits", c.file])),

    # ------------------------------------------------------------ existing outputs, --overwrite
    segment("sam: error: {out}: not empty (use --overwrite to replace a result of sam segment in it)",
            "`-o` folder holding an earlier result (no `--overwrite`): refused before any work",
            make=lambda c: earlier_segment(c), args=lambda c: SEG(c, [])),
    segment("sam: error: {out}: not a result of sam segment (it holds notes.txt); --overwrite replaces only such "
            "results", "`--overwrite` onto a user's folder (not a result of sam segment)",
            make=lambda c: foreign_folder(c, c.out), args=lambda c: SEG(c, ["--overwrite"])),
    segment(OK, "`--overwrite` of a 6-mask result by a `--single-mask` run (accepted: no stale mask_1..5 stays)",
            make=lambda c: earlier_segment(c, ["-b", "1,1,20,20", "-b", "5,5,40,40"]),
            args=lambda c: SEG(c, ["--single-mask", "--overwrite"]), check=check_single_after_multi),
    segment(OK, "staging folder of a killed earlier run in `-o` (accepted: removed, its pid being gone)",
            make=stale_staging, args=lambda c: SEG(c, []), check=check_stale_removed),
    segment("sam: error: {file}: already exists (use --overwrite to replace it)",
            "`--save-logits` onto an existing file (no `--overwrite`)",
            make=lambda c: write(c, "old_logits.npy", b"user data\n"), args=lambda c: SEG(c, ["--save-logits", c.file])),
    segment("sam: error: {file}: not written by sam segment (not a .npy file); --overwrite replaces only such files",
            "`--save-logits --overwrite` onto a file that is not a .npy",
            make=lambda c: write(c, "notes.npy", b"user data\n"),
            args=lambda c: SEG(c, ["--save-logits", c.file, "--overwrite"])),
    segment("sam: error: {out}: another sam command is writing into this folder; try again when it ends",
            "two runs into one `-o` folder at once (the second refused at once)", make=hold_lock,
            args=lambda c: SEG(c, [])),
    trace("sam: error: {out}: not empty (use --overwrite to replace a result of sam trace in it)",
          "`sam trace -o` into a folder holding a result of sam segment",
          lambda c: ["trace", "-m", c.model, "-i", c.image, "-o", c.out] + P, make=lambda c: earlier_segment(c)),
    convert("sam-convert: error: {out}: already exists (use --overwrite to replace it)",
            "existing output file (no `--overwrite`)", args=lambda c: [c.tiny_pth, c.out],
            make=lambda c: shutil.copy(c.image, c.out)),
    convert("sam-convert: error: {out}: not written by sam-convert (not a safetensors file); --overwrite replaces "
            "only such files", "`--overwrite` onto a file that is not a safetensors file",
            args=lambda c: [c.tiny_pth, c.out, "--overwrite"], make=lambda c: shutil.copy(c.image, c.out)),
    everything("sam: error: {out}/image.json: not a result of sam everything (a folder); --overwrite replaces only "
               "such results", "`--convert-to-rle --overwrite` with a user's folder named `<stem>.json`",
               ["--convert-to-rle", "--overwrite"], make=lambda c: foreign_folder(c, os.path.join(c.out, "image.json"))),
    everything("sam: error: {out}/image: not a result of sam everything (it holds notes.txt); --overwrite replaces "
               "only such results", "`--overwrite` with a user's folder named `<stem>`",
               ["--overwrite"], make=lambda c: foreign_folder(c, os.path.join(c.out, "image"))),
    everything("sam: error: {out}/image_overlay.png: already exists (use --overwrite to replace it)",
               "`--convert-to-rle` with an existing `<stem>_overlay.png` (no `--overwrite`)", ["--convert-to-rle"],
               make=lambda c: (os.makedirs(c.out), shutil.copy(c.image, os.path.join(c.out, "image_overlay.png")))[0]),

    # ------------------------------------------------------------ inputs changing, unreadable entries
    segment("sam: error: {file}: changed while in use (truncated or rewritten in place); no result is kept",
            "the model truncated in place while the run uses it (was SIGBUS)", make=model_copy_and_big_image,
            args=lambda c: ["segment", "-m", c.file, "-i", c.big, "-o", c.out] + P,
            during=truncate_model_when_written),
    convert(OK, "temporaries of killed runs beside OUT (accepted: OUT's removed, their pids being gone; a live "
            "run's and other files' kept)",
            args=lambda c: [c.tiny_pth, c.out, "-q"], make=stale_temporaries,
            check=check_only_live_temporary(["out.safetensors", ".logits.npy.sam-pending-2147483646-abcdef"])),
    segment(OK, "`--save-logits` temporaries of killed runs (accepted: that file's removed, their pids being gone)",
            make=stale_temporaries, args=lambda c: SEG(c, ["--save-logits", os.path.join(c.outdir, "logits.npy")]),
            check=check_only_live_temporary(["out", "logits.npy", ".out.safetensors.tmp-2147483646-abcdef"])),
    everything(OK, "a folder input with a symlink loop in it (accepted: that entry skipped with a warning, "
               "the image processed)", make=symlink_loop_folder,
               args=lambda c: ["everything", "-m", c.model, "--input", os.path.dirname(c.file), "--output", c.out] +
               ALL, warning="sam: warning: skipping {file}: Too many levels of symbolic links"),
]
