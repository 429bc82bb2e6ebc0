"""Rows of the bad-input table for sam everything (see test_bad_inputs.py)."""
import os

from bad_inputs_rows import *  # noqa: F401,F403 (Case, makers, OK, W, H, ...)


# ---------------------------------------------------------------------- sam everything
FAST = ["--points-per-side", "4"]  # 16 prompts: each row runs in well under a second
ALL = FAST + ["--pred-iou-thresh", "0", "--stability-score-thresh", "0"]  # accepted rows: keep every mask


def everything(message, what, extra=None, make=None, code=1, args=None, **kw):
    """sam everything -m MODEL --input IMAGE --output OUT --points-per-side 4 [extra]."""
    def argv(c):
        e = extra(c) if callable(extra) else (extra or [])
        return ["everything", "-m", c.model, "--input", c.image, "--output", c.out] + FAST + e
    return Case("sam everything", what, args or argv, message, code, make, **kw)


def everything_option(message, what, options, code=2):
    """A row about everything's own options: the defaults' grid unless the row sets --points-per-side."""
    return Case("sam everything", what,
                lambda c: ["everything", "-m", c.model, "--input", c.image, "--output", c.out] +
                ([] if "--points-per-side" in options else FAST) + options, message, code)


def everything_input(extra=None):
    """Rows about the input: the row's file (or folder) is --input."""
    return lambda c: ["everything", "-m", c.model, "--input", c.file, "--output", c.out] + (extra or FAST)


def everything_model(c):
    return ["everything", "-m", c.file, "--input", c.image, "--output", c.out] + FAST


def existing_result(c):
    """OUT/image/ from an earlier run (with a file in it): the row's output exists already."""
    os.makedirs(os.path.join(c.out, "image"))
    with open(os.path.join(c.out, "image", "0.png"), "wb") as f:
        f.write(png_bytes())
    return None


def folder_with_non_image(c):
    """A folder input: a readable image and a text file; the row's file is the text file."""
    folder = os.path.join(c.work, "folder_in")
    os.makedirs(folder, exist_ok=True)
    pil(c, os.path.join("folder_in", "a.png"), rgb_array())
    return write(c, os.path.join("folder_in", "notes.txt"), b"not an image\n")


EVERYTHING_CASES = [
    # ------------------------------------------------------------ sam everything: model
    everything("sam: error: --model is required (see sam --help)", "no arguments", args=lambda c: ["everything"],
               code=2),
    everything("sam: error: --input is required (see sam --help)", "`--input` missing",
               args=lambda c: ["everything", "-m", c.model, "--output", c.out] + FAST, code=2),
    everything("sam: error: --output is required (see sam --help)", "`--output` missing",
               args=lambda c: ["everything", "-m", c.model, "--input", c.image] + FAST, code=2),
    everything("sam: error: --model is required (see sam --help)", "`-m` missing",
               args=lambda c: ["everything", "--input", c.image, "--output", c.out] + FAST, code=2),
    everything("sam: error: {model}: no such file", "missing model path",
               make=lambda c: os.path.join(c.work, "missing.safetensors"), args=everything_model),
    everything("sam: error: {model}: is a directory, expected a file", "a directory as model",
               make=lambda c: c.work, args=everything_model),
    everything("sam: error: {model}: a PyTorch checkpoint; convert it first: sam-convert {model} MODEL.safetensors",
               "a `.pth` given as model", make=lambda c: c.tiny_pth, args=everything_model),
    everything("sam: error: {model}: tensor 'image_encoder.blocks.1.mlp.lin2.bias': data_offsets [667392, "
               "667648] lie outside the 629996 data bytes", "truncated model `.safetensors`",
               make=truncated_safetensors, args=everything_model),

    # ------------------------------------------------------------ sam everything: input
    everything("sam: error: {image}: no such file or folder", "missing input path",
               make=lambda c: os.path.join(c.work, "missing.png"), args=everything_input()),
    everything("sam: error: {image}: no files to process", "an empty folder as input",
               make=lambda c: (os.makedirs(os.path.join(c.work, "empty_dir"), exist_ok=True),
                               os.path.join(c.work, "empty_dir"))[1], args=everything_input()),
    everything("sam: error: {image}: empty file", "empty image file", make=lambda c: write(c, "empty.png", b""),
               args=everything_input()),
    everything("sam: error: {image}: not a readable image: unknown format (PNG, JPEG and BMP are supported)",
               "non-image file (text)", make=lambda c: write(c, "text.png", b"hello, not a png\n"),
               args=everything_input()),
    everything("sam: error: {image}: cannot decode JPEG image: truncated (Premature end of JPEG file)",
               "truncated JPEG (first half)",
               make=lambda c: write(c, "truncated.jpg", jpeg_bytes()[: len(jpeg_bytes()) // 2]),
               args=everything_input()),
    everything("sam: error: {image}: cannot decode PNG image: truncated or corrupt (a chunk runs past the end of "
               "the file)", "truncated PNG (first half)",
               make=lambda c: write(c, "truncated.png", png_bytes()[: len(png_bytes()) // 2]),
               args=everything_input()),
    everything("sam: error: {image}: PNG image has no pixels (0x0)", "0x0 PNG",
               make=lambda c: write(c, "0x0.png", png_chunks(0, 0)), args=everything_input()),
    everything("sam: error: {image}: image of 20000x2 pixels is too elongated: its short side would shrink to 0 "
               "pixels at the model's 256-pixel input", "20000x2 PNG (the short side rounds to 0 at the model input)",
               make=lambda c: pil(c, "20000x2.png", np.zeros((2, 20000, 3), np.uint8)), args=everything_input()),
    everything("sam: error: {image}: PNG image of 20000x20000 pixels exceeds the limit of 100000000 pixels",
               "PNG header claiming 20000x20000 (refused before decoding)",
               make=lambda c: write(c, "huge.png", png_chunks(20000, 20000)), args=everything_input()),
    everything(OK, "grayscale PNG (accepted: converted to RGB)",
               make=lambda c: pil(c, "gray.png", rgb_array()[..., 0]), args=everything_input(ALL)),
    everything(OK, "RGBA PNG (accepted: alpha dropped)",
               make=lambda c: pil(c, "rgba.png", np.dstack([rgb_array(), rgb_array()[..., :1]])),
               args=everything_input(ALL)),
    everything(OK, "16-bit grayscale PNG (accepted: converted to 8-bit RGB)",
               make=lambda c: pil(c, "gray16.png", rgb_array()[..., 0].astype(np.uint16) * 257),
               args=everything_input(ALL)),
    everything(OK, "1x1 PNG (accepted: 1x1 masks)", make=lambda c: pil(c, "1x1.png", np.zeros((1, 1, 3), np.uint8)),
               args=everything_input(ALL)),
    everything("sam: error: {image}: image of 1x1 pixels is too small for crop layer 1 (2x2 crops): some would be "
               "empty", "1x1 PNG with `--crop-n-layers 1` (empty crops; refused before any work)",
               make=lambda c: pil(c, "1x1.png", np.zeros((1, 1, 3), np.uint8)),
               args=everything_input(FAST + ["--crop-n-layers", "1"])),
    everything(OK, "a folder input with a non-image file in it (accepted: that file skipped with a warning, "
               "the image processed)", make=folder_with_non_image,
               args=lambda c: ["everything", "-m", c.model, "--input", os.path.dirname(c.file), "--output", c.out] +
               ALL, warning="sam: warning: skipping {file}: not a readable image: unknown format (PNG, JPEG and BMP "
               "are supported)"),

    # ------------------------------------------------------------ sam everything: output
    everything("sam: error: {out}: cannot create output folder: No such file or directory",
               "unwritable output folder, even for root (`/proc/...`)",
               args=lambda c: ["everything", "-m", c.model, "--input", c.image, "--output", "/proc/sam_out"] + FAST,
               out_kind="proc"),
    everything("sam: error: {out}: cannot write to output folder: Read-only file system",
               "existing output folder on a read-only tmpfs `mount`", mount="ro"),
    everything("sam: error: {out}: exists and is not a folder", "output folder is a file",
               args=lambda c: ["everything", "-m", c.model, "--input", c.image, "--output", c.image] + FAST,
               out_kind="image"),
    everything("sam: error: {out}/image: already exists (use --overwrite to replace it)",
               "a result for the image exists already (no `--overwrite`): refused before any work, left as it was",
               make=existing_result),
    everything("sam: error: {out}/{staging}/image/overlay.png: write failed: File too large",
               "full disk: file-size rlimit of 2 KiB (no output folder is left)", fsize=2048),
    everything("sam: error: {out}/{staging}/image/overlay.png: write failed: No space left on device",
               "full disk: 8 KiB tmpfs `mount`", mount="small"),

    # ------------------------------------------------------------ sam everything: its options
    everything_option("sam: error: --points-per-side: Value 0 not in range 1 to 256 (see sam --help)",
                      "`--points-per-side 0`", ["--points-per-side", "0"]),
    everything_option("sam: error: --points-per-side: Value -4 not in range 1 to 256 (see sam --help)",
                      "`--points-per-side -4`", ["--points-per-side", "-4"]),
    everything_option("sam: error: --points-per-side: Value x is not an integer (see sam --help)",
                      "`--points-per-side x` (not a number)", ["--points-per-side", "x"]),
    everything_option("sam: error: --points-per-side: Value 4.5 is not an integer (see sam --help)",
                      "`--points-per-side 4.5`", ["--points-per-side", "4.5"]),
    everything_option("sam: error: --points-per-side: Value 1000000 not in range 1 to 256 (see sam --help)",
                      "`--points-per-side 1000000` (10^12 prompts: refused, not run)", ["--points-per-side", "1000000"]),
    everything_option("sam: error: --points-per-side: Value 99999999999999999999 not in range 1 to 256 (see sam "
                      "--help)", "`--points-per-side` beyond 64 bits", ["--points-per-side", "99999999999999999999"]),
    everything_option("sam: error: 327680 prompt points per image (--points-per-side 256, --crop-n-layers 1, "
                      "--crop-n-points-downscale-factor 1) exceed the limit of 65536 (see sam --help)",
                      "`--points-per-side 256 --crop-n-layers 1` (5 crops of 65536 points: bounded work)",
                      ["--points-per-side", "256", "--crop-n-layers", "1"]),
    everything_option("sam: error: --points-per-batch: Value 0 not in range 1 to 4096 (see sam --help)",
                      "`--points-per-batch 0`", ["--points-per-batch", "0"]),
    everything_option("sam: error: --pred-iou-thresh: Value nan is not a finite number (see sam --help)",
                      "`--pred-iou-thresh nan`", ["--pred-iou-thresh", "nan"]),
    everything_option("sam: error: --pred-iou-thresh: Value 1.5 not in range 0 to 1 (see sam --help)",
                      "`--pred-iou-thresh 1.5`", ["--pred-iou-thresh", "1.5"]),
    everything_option("sam: error: --pred-iou-thresh: Value -0.1 not in range 0 to 1 (see sam --help)",
                      "`--pred-iou-thresh -0.1`", ["--pred-iou-thresh", "-0.1"]),
    everything_option("sam: error: --stability-score-thresh: Value nan is not a finite number (see sam --help)",
                      "`--stability-score-thresh nan`", ["--stability-score-thresh", "nan"]),
    everything_option("sam: error: --stability-score-thresh: Value 2 not in range 0 to 1 (see sam --help)",
                      "`--stability-score-thresh 2`", ["--stability-score-thresh", "2"]),
    everything_option("sam: error: --stability-score-offset: Value inf is not a finite number (see sam --help)",
                      "`--stability-score-offset inf`", ["--stability-score-offset", "inf"]),
    everything_option("sam: error: --stability-score-offset: Value -1 is below 0 (see sam --help)",
                      "`--stability-score-offset -1`", ["--stability-score-offset", "-1"]),
    everything_option("sam: error: --box-nms-thresh: Value nan is not a finite number (see sam --help)",
                      "`--box-nms-thresh nan`", ["--box-nms-thresh", "nan"]),
    everything_option("sam: error: --box-nms-thresh: Value 1e999 is not a finite number (see sam --help)",
                      "`--box-nms-thresh 1e999` (infinite)", ["--box-nms-thresh", "1e999"]),
    everything_option("sam: error: --box-nms-thresh: Value 1.5 not in range 0 to 1 (see sam --help)",
                      "`--box-nms-thresh 1.5`", ["--box-nms-thresh", "1.5"]),
    everything_option("sam: error: --crop-nms-thresh: Value nan is not a finite number (see sam --help)",
                      "`--crop-nms-thresh nan`", ["--crop-nms-thresh", "nan"]),
    everything_option("sam: error: --crop-nms-thresh: Value -0.5 not in range 0 to 1 (see sam --help)",
                      "`--crop-nms-thresh -0.5`", ["--crop-nms-thresh", "-0.5"]),
    everything_option("sam: error: --crop-overlap-ratio: Value nan is not a finite number (see sam --help)",
                      "`--crop-overlap-ratio nan`", ["--crop-overlap-ratio", "nan"]),
    everything_option("sam: error: --crop-overlap-ratio: Value 1 not in range 0 to 0.999 (see sam --help)",
                      "`--crop-overlap-ratio 1`", ["--crop-overlap-ratio", "1"]),
    everything_option("sam: error: --crop-overlap-ratio: Value abc is not a number (see sam --help)",
                      "`--crop-overlap-ratio abc`", ["--crop-overlap-ratio", "abc"]),
    everything_option("sam: error: --crop-n-layers: Value -1 not in range 0 to 6 (see sam --help)",
                      "`--crop-n-layers -1`", ["--crop-n-layers", "-1"]),
    everything_option("sam: error: --crop-n-layers: Value 1000000 not in range 0 to 6 (see sam --help)",
                      "`--crop-n-layers 1000000`", ["--crop-n-layers", "1000000"]),
    everything_option("sam: error: 87376 prompt points per image (--points-per-side 4, --crop-n-layers 6, "
                      "--crop-n-points-downscale-factor 1) exceed the limit of 65536 (see sam --help)",
                      "`--crop-n-layers 6` (5461 crops: bounded work)",
                      ["--points-per-side", "4", "--crop-n-layers", "6"]),
    everything_option("sam: error: crop layer 3 would have no points: --points-per-side 4 / "
                      "--crop-n-points-downscale-factor 2^3 < 1 (see sam --help)",
                      "`--crop-n-points-downscale-factor` leaving a crop layer without points",
                      ["--points-per-side", "4", "--crop-n-layers", "3", "--crop-n-points-downscale-factor", "2"]),
    everything_option("sam: error: --crop-n-points-downscale-factor: Value 0 not in range 1 to 1024 (see sam --help)",
                      "`--crop-n-points-downscale-factor 0`", ["--crop-n-points-downscale-factor", "0"]),
    everything_option("sam: error: --min-mask-region-area: Value -1 not in range 0 to 1073741824 (see sam --help)",
                      "`--min-mask-region-area -1`", ["--min-mask-region-area", "-1"]),
    everything_option("sam: error: --threads: Value 0 not in range 1 to 1024 (see sam --help)", "`--threads 0`",
                      ["--threads", "0"]),
    everything_option("sam: error: The following argument was not expected: --bogus (see sam --help)",
                      "unknown option", ["--bogus"]),

    # ------------------------------------------------------------ sam everything: dataset runs (docs/cluster.md)
    everything_option("sam: error: --shard 4/4: shard index 4 is not in 0..3 (indices are 0-based: a Slurm array "
                      "--array=0-3 with --shard $SLURM_ARRAY_TASK_ID/4) (see sam --help)",
                      "`--shard 4/4` (a 1-based task id)", ["--shard", "4/4"]),
    everything_option("sam: error: --shard 1of4: expected I/N, e.g. 0/4 (shard I of N, I from 0 to N-1) "
                      "(see sam --help)", "`--shard 1of4`", ["--shard", "1of4"]),
    everything_option("sam: error: --shard 0/0: the number of shards must be at least 1 (see sam --help)",
                      "`--shard 0/0`", ["--shard", "0/0"]),
    everything_option("sam: error: --resume and --overwrite exclude each other (see sam --help)",
                      "`--resume` with `--overwrite`", ["--resume", "--overwrite"]),
    everything("sam: error: --input excludes --manifest (see sam --help)", "`--manifest` with `--input`",
               make=lambda c: write(c, "list.txt", b"a.png\n"), extra=lambda c: ["--manifest", c.file], code=2),
    everything("sam: error: {file}: no such manifest file", "missing `--manifest` file",
               make=lambda c: os.path.join(c.work, "missing.txt"),
               args=lambda c: ["everything", "-m", c.model, "--manifest", c.file, "--output", c.out] + FAST),
    everything("sam: error: {file}: the manifest lists no images", "a manifest of comments and blank lines only",
               make=lambda c: write(c, "empty.txt", b"# nothing yet\n\n   \n"),
               args=lambda c: ["everything", "-m", c.model, "--manifest", c.file, "--output", c.out] + FAST),
    everything("sam: error: {file}:2: a NUL byte (not a text file of paths?)", "a binary file as `--manifest`",
               make=lambda c: write(c, "binary.txt", b"a.png\n\x00\x01\x02\n"),
               args=lambda c: ["everything", "-m", c.model, "--manifest", c.file, "--output", c.out] + FAST),
]
