#!/usr/bin/env python3
"""Would the HU level rules work on 8-bit images? (issue 15, input check)

`imaging::anatomical_level` warns on CT in HU when lungs fill the back of both sides of the
body or large bone reaches far to the side. The 8-bit JPEGs of `kidney-ct` get no such rule.
This script measures what the same two measurements give on 8-bit images, with air and bone
taken from the grey level instead of HU:

* air  = grey level below `AIR` (default 1/255: black only);
* bone = 3x3 mean above `BONE` (default 0.995: saturated only).

It mirrors the Rust code (256x256 area resampling, body = largest 4-connected component above
0.08 with holes and columns filled, lung pieces >= 0.5 % of the body, bone pieces >= 0.3 %, back
half = lower half of the image) and prints, per data set, class and plane (axial when the body
is at least 0.9 times as wide as tall), how many images the limits of `input_check::limits`
(lung share 0.02, lateral bone 0.45) would warn.

Data: `kidney-ct` and `kidney-ct-extra` (all kidney level: every warning is false) and the
`ldct-mayo` full- and quarter-dose slices windowed W400/L40 and JPEG-encoded (quality 90), with
the levels read by eye that `tests/input_check.rs` keeps in `MAYO_LEVELS` (C chest, P pelvis,
K kidney; ? not labelled).

Usage: python3 scripts/level_rules_8bit_probe.py [DATA_DIR] [AIR] [BONE]
Needs numpy, scipy, pillow and pydicom.
"""

import glob
import io
import os
import re
import sys

import numpy as np
import pydicom
from PIL import Image
from scipy import ndimage as ndi

SIDE = 256
BODY = 0.08
LUNG_SHARE, LATERAL_BONE = 0.02, 0.45


def resample(a):
    h, w = a.shape
    if (h, w) == (SIDE, SIDE):
        return a
    if h % SIDE == 0 and w % SIDE == 0:
        return a.reshape(SIDE, h // SIDE, SIDE, w // SIDE).mean(axis=(1, 3))
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize((SIDE, SIDE), Image.BOX))


def largest(mask):
    lab, n = ndi.label(mask)
    if n == 0:
        return mask & False
    return lab == 1 + np.argmax(ndi.sum(mask, lab, range(1, n + 1)))


def fill_columns(mask):
    out = mask.copy()
    for x in range(SIDE):
        ys = np.nonzero(mask[:, x])[0]
        if len(ys):
            out[ys[0] : ys[-1] + 1, x] = True
    return out


def big_parts(mask, least):
    lab, n = ndi.label(mask)
    if n == 0:
        return mask & False
    keep = np.bincount(lab.ravel()) >= least
    keep[0] = False
    return keep[lab]


def measure(v, air, bone):
    """(body width/height, lung share, lateral bone) of a 256x256 image in [0, 1]."""
    body = fill_columns(ndi.binary_fill_holes(largest(v > BODY)))
    ys, xs = np.nonzero(body)
    if len(ys) == 0:
        return None
    area, cx, cy = len(ys), xs.mean(), ys.mean()
    half_width = (xs.max() - xs.min() + 1) / 2
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    lungs = big_parts(body & (v < air), 0.005 * area)
    back = body & (yy >= cy)
    lung = min(
        (lungs & back & side).sum() / max((back & side).sum(), 1) for side in (xx < cx, xx >= cx)
    )
    mean3 = ndi.uniform_filter(v.astype(np.float64), 3, mode="nearest")
    bones = big_parts(body & (mean3 > bone), 0.003 * area)
    lateral = np.abs(xx[bones] - cx).max() / half_width if bones.any() else 0.0
    aspect = (xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1)
    return aspect, lung, lateral


def jpeg(v):
    buf = io.BytesIO()
    Image.fromarray(np.clip(v * 255 + 0.5, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"), dtype=np.float32) / 255


def mayo_levels():
    here = os.path.dirname(os.path.abspath(__file__))
    text = open(os.path.join(here, "..", "tests", "input_check.rs")).read()
    return dict(re.findall(r'\("(L\d+_[A-Z0-9]+_3mm_\d+)", \'([CKP])\'\)', text))


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    air = float(sys.argv[2]) if len(sys.argv) > 2 else 1 / 255
    bone = float(sys.argv[3]) if len(sys.argv) > 3 else 0.995
    groups = {}

    def add(key, v):
        m = measure(v, air, bone)
        if m is not None:
            plane = "axial" if m[0] >= 0.9 else "coronal"
            groups.setdefault(key + (plane,), []).append(m[1:])

    for folder in ("kidney-ct", "kidney-ct-extra"):
        for cls in ("Normal", "Cyst", "Tumor", "Stone"):
            for f in sorted(glob.glob(f"{data}/{folder}/{cls}/*")):
                add((folder, cls), resample(np.asarray(Image.open(f).convert("L"), np.float32) / 255))
    levels = mayo_levels()
    for f in sorted(glob.glob(f"{data}/ldct-mayo/*.IMA")):
        ds = pydicom.dcmread(f)
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        v = jpeg(resample(np.clip((hu + 160) / 400, 0, 1).astype(np.float32)))
        add(("ldct-mayo", levels.get(os.path.basename(f).rsplit("_", 1)[0], "?")), v)

    print(f"air < {air:.4f}, bone > {bone:.3f}; warn if lung share > {LUNG_SHARE} or lateral bone > {LATERAL_BONE}")
    print("data\tclass\tplane\timages\tlung warnings\tbone warnings\tany warning")
    for key in sorted(groups):
        m = np.array(groups[key])
        lung, lateral = m[:, 0] > LUNG_SHARE, m[:, 1] > LATERAL_BONE
        print("\t".join(key) + f"\t{len(m)}\t{lung.sum()}\t{lateral.sum()}\t{(lung | lateral).sum()}")


if __name__ == "__main__":
    main()
