#!/usr/bin/env python3
"""Writes copies of a class-folder image set through the phase augmentation's grey-level map
(scripts/experiments/series-cv-deenhance.patch: levels in (0.5, 0.93) pulled towards 0.5 by
k), as 8-bit PNGs, one folder per k, for `privact evaluate` (MODEL_CARD › "Contrast phase
and class are confounded").

Usage: python3 scripts/experiments/deenhance_probe.py SRC_DIR OUT_DIR [k ...]
(k defaults to 1.0 0.3 0.15; k = 1 leaves the grey levels as they are). Needs numpy, pillow.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    ks = [float(k) for k in sys.argv[3:]] or [1.0, 0.3, 0.15]
    for f in sorted(src.glob("*/*")):
        a = np.asarray(Image.open(f).convert("L"), dtype=np.float32) / 255
        m = (a > 0.5) & (a < 0.93)
        for k in ks:
            mapped = a.copy()
            mapped[m] = 0.5 + (a[m] - 0.5) * k
            d = out / f"k{k}" / f.parent.name
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(mapped * 255).astype(np.uint8)).save(d / (f.stem + ".png"))
    for k in ks:
        print(f"wrote {out / f'k{k}'}")


if __name__ == "__main__":
    main()
