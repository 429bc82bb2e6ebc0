"""Rows of the bad-input table: image cases of issue 15 (see test_bad_inputs.py for the contract)."""
import os

from bad_inputs_rows import *  # noqa: F401,F403 (Case, makers, convert/segment helpers, OK, W, H, ...)
from bad_inputs_everything_rows import everything, everything_input, everything_model, FAST, ALL  # noqa: F401


def bmp_bytes():
    """The test image as PIL writes a BMP: 24-bit, bottom-up, 54-byte header, 9216 bytes of rows."""
    b = io.BytesIO()
    Image.fromarray(rgb_array()).save(b, "BMP")
    return b.getvalue()


def top_down_bmp(ctx):
    """The same picture with its rows stored top-down (negative height)."""
    data = bytearray(bmp_bytes())
    stride = W * 3
    rows = [bytes(data[54 + i * stride:54 + (i + 1) * stride]) for i in range(H)]
    data[54:] = b"".join(rows[::-1])
    data[22:26] = struct.pack("<i", -H)
    return write(ctx, "top_down.bmp", bytes(data))


def lying_bmp(ctx):
    """A 102-byte BMP whose header claims 9000x11000 pixels (297 MB of rows)."""
    data = bytearray(bmp_bytes()[:102])
    data[18:26] = struct.pack("<ii", 9000, 11000)
    return write(ctx, "lying_size.bmp", bytes(data))


def rle8_bmp(ctx):
    """An 8-bit BMP that says its rows are RLE8-compressed."""
    b = io.BytesIO()
    Image.fromarray(rgb_array()).convert("P").save(b, "BMP")
    data = bytearray(b.getvalue())
    data[30:34] = struct.pack("<I", 1)  # biCompression = BI_RLE8
    return write(ctx, "rle8.bmp", bytes(data))


def crc_broken_png(ctx):
    data = bytearray(png_bytes())
    data[33 + 8 + 100] ^= 0x01  # a byte inside the IDAT data (IHDR ends at 33): the zlib stream may still inflate
    return write(ctx, "crc_broken.png", bytes(data))


def exif_jpeg(ctx, orientation=6):
    """The test image as a JPEG whose EXIF says: rotate 90 degrees clockwise to show (as phones write)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = os.path.join(ctx.work, f"exif_orientation_{orientation}.jpg")
    Image.fromarray(rgb_array()).save(path, "JPEG", quality=90, exif=exif.tobytes())
    return path


IMAGE_CASES = [
    segment("sam: error: {image}: cannot decode BMP image: truncated (64x48 at 24 bits per pixel needs 9216 bytes "
            "of pixel data from offset 54; the file holds 4581)", "truncated BMP (first half)",
            make=lambda c: write(c, "truncated.bmp", bmp_bytes()[:len(bmp_bytes()) // 2]), args=image_row),
    segment("sam: error: {image}: cannot decode BMP image: truncated (9000x11000 at 24 bits per pixel needs "
            "297000000 bytes of pixel data from offset 54; the file holds 48)",
            "BMP of 102 bytes whose header claims 9000x11000 pixels (refused before any pixel memory)",
            make=lying_bmp, args=image_row),
    segment("sam: error: {image}: cannot decode BMP image: RLE8 compression is not supported (only uncompressed "
            "BI_RGB and BI_BITFIELDS are)", "RLE8-compressed BMP", make=rle8_bmp, args=image_row),
    segment(OK, "top-down BMP (negative height; accepted)", make=top_down_bmp, args=image_row),
    segment("sam: error: {image}: cannot decode PNG image: truncated or corrupt (CRC mismatch in its IDAT chunk at "
            "offset 33)", "PNG with one bit flipped inside its IDAT data (the chunk's CRC tells)",
            make=crc_broken_png, args=image_row),
    segment("sam: error: {image}: cannot decode PNG image: truncated or corrupt (the file ends before its IEND "
            "chunk)", "PNG without its final IEND chunk (cut 12 bytes short)",
            make=lambda c: write(c, "no_iend.png", png_bytes()[:-12]), args=image_row),
    segment(OK, "JPEG with EXIF Orientation 6 (accepted: rotated as viewers show it, 48x64; the point 10,60 "
            "lies inside the displayed picture only)", make=exif_jpeg,
            args=lambda c: ["segment", "-m", c.model, "-i", c.file, "-o", c.out, "-p", "10,60"]),
    segment("sam: error: --point '10,60' lies outside the 64x48 image",
            "the same JPEG with `--ignore-exif` (stored orientation, 64x48)", make=exif_jpeg,
            args=lambda c: ["segment", "-m", c.model, "-i", c.file, "-o", c.out, "-p", "10,60", "--ignore-exif"]),
    everything(OK, "JPEG with EXIF Orientation 8 (accepted: masks of the displayed 48x64 picture)",
               make=lambda c: exif_jpeg(c, 8), args=everything_input(ALL)),
]
