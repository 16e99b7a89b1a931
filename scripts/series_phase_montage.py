#!/usr/bin/env python3
"""One middle slice of every `kidney-ct-extra` series in one labelled montage (MODEL_CARD ›
"Contrast phase and class are confounded"), to look at each series at a glance. Thumbnails this small are not enough to judge the
phase: fold 3's tumour series was misread from it as unenhanced. Measure it with
scripts/series_phase.py and check doubtful series at full resolution.

Usage: python3 scripts/series_phase_montage.py [DATA_ROOT] [OUT.png]
(DATA_ROOT defaults to ../shared/data/kidney-ct-extra; OUT to series_phase.png).
Needs ImageMagick's `montage`, and numpy, scipy and pillow (imported with series_phase.py).
"""

import subprocess
import sys
from pathlib import Path

from series_phase import read_series


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/kidney-ct-extra")
    out = sys.argv[2] if len(sys.argv) > 2 else "series_phase.png"
    series = read_series(root)
    args = []
    for name in sorted(series):
        files = series[name]
        args += ["-label", name, str(root / files[(len(files) - 1) // 2])]
    subprocess.run(
        ["montage", *args, "-tile", "8x", "-geometry", "180x180+2+2", "-pointsize", "11", out],
        check=True,
    )
    print(f"wrote {out} ({len(series)} series)")


if __name__ == "__main__":
    main()
