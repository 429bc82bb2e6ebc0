"""COCO run-length masks as the tests read them (written from the format, not from pycocotools).

The runs are column-major and start with a run of zeros; `size` is [h, w]. The
compressed form is pycocotools' counts string (maskApi.c rleToString /
rleFrString): each count as 5-bit groups in characters from '0', the
continuation in bit 0x20, the sign in bit 0x10, and from the third count on
the difference to the count two before.
"""
import numpy as np


def coco_string_to_counts(s):
    """The compressed counts string -> run lengths."""
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def counts_to_mask(counts, h, w):
    """Run lengths (column-major, zeros first) -> bool [h, w]; the runs must cover the image."""
    flat = np.zeros(h * w, dtype=bool)
    pos, value = 0, False
    for n in counts:
        flat[pos:pos + n] = value
        pos += n
        value = not value
    assert pos == h * w, f"RLE counts cover {pos} pixels, the mask has {h * w}"
    return flat.reshape(w, h).T


def rle_to_mask(seg):
    """{"size": [h, w], "counts": str (compressed) or list (uncompressed)} -> bool [h, w]."""
    h, w = seg["size"]
    counts = seg["counts"]
    if isinstance(counts, str):
        counts = coco_string_to_counts(counts)
    return counts_to_mask(counts, h, w)
