#!/usr/bin/env python3
"""Contrast phase of every `kidney-ct-extra` series, measured (MODEL_CARD › "Contrast phase
and class are confounded").

On an 8-bit W400/L40-like slice an enhanced aorta (over about 200 HU) saturates like bone,
while an unenhanced one (about 40 HU) is mid-grey. On about 12 evenly spaced slices of a
series (every ⌊n/12⌋-th, every slice when n < 24), this looks for the aorta as a compact
saturated (> 0.9) component, 0.04–1 % of the body's area, roundish (bounding box aspect
0.5–2, at least half filled), whose centre lies at most 25 % of the body's width in front of
the top of the vertebral body (the largest saturated component centred within 15 % of the
width from the midline, in the back 60 % of the body) and within 15 % of the width of its
centre line. It prints the share of those slices where it is found. A calcified aortic wall can also be found, so unenhanced series can score above 0
(read them at full resolution); enhanced ones score near 1.

Usage: python3 scripts/series_phase.py [DATA_ROOT] (default ../shared/data/kidney-ct-extra).
Needs numpy, scipy and pillow.
"""

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage


def largest(mask):
    lab, n = ndimage.label(mask)
    if n == 0:
        return None
    sizes = ndimage.sum(mask, lab, range(1, n + 1))
    return lab == 1 + int(np.argmax(sizes))


def bright_aorta(path):
    a = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255
    body = largest(ndimage.binary_fill_holes(a > 0.08))
    if body is None:
        return False
    ys, xs = np.nonzero(body)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    width, area, cx = x1 - x0, body.sum(), (x0 + x1) / 2
    sat = (a > 0.9) & body
    lab, n = ndimage.label(sat)
    if n == 0:
        return False
    boxes = ndimage.find_objects(lab)
    sizes = ndimage.sum(sat, lab, range(1, n + 1))
    centre = lambda b: ((b[0].start + b[0].stop) / 2, (b[1].start + b[1].stop) / 2)
    spine = max(
        (
            i
            for i, b in enumerate(boxes)
            if abs(centre(b)[1] - cx) < 0.15 * width and centre(b)[0] > y0 + 0.4 * (y1 - y0)
        ),
        key=lambda i: sizes[i],
        default=None,
    )
    if spine is None:
        return False
    top, sx = boxes[spine][0].start, centre(boxes[spine])[1]
    for i, (b, size) in enumerate(zip(boxes, sizes)):
        h, w = b[0].stop - b[0].start, b[1].stop - b[1].start
        yc, xc = centre(b)
        if (
            i != spine
            and 0.0004 * area < size < 0.01 * area
            and 0.5 < h / w < 2
            and size > 0.5 * h * w
            and top - 0.25 * width < yc < top + 0.02 * width
            and abs(xc - sx) < 0.15 * width
        ):
            return True
    return False


def read_series(root):
    """`series.tsv` of `root` as {series name: [file, ...]} in file order."""
    series = defaultdict(list)
    with open(root / "series.tsv") as f:
        next(f)
        for line in f:
            file, name = line.rstrip("\n").split("\t")
            series[name].append(file)
    return series


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/kidney-ct-extra")
    series = read_series(root)
    for name in sorted(series):
        files = series[name][:: max(1, len(series[name]) // 12)]
        found = [bright_aorta(root / f) for f in files]
        print(f"{name:20s} bright aorta on {np.mean(found):.2f} of {len(found)} slices")


if __name__ == "__main__":
    main()
