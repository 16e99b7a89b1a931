#!/usr/bin/env python3
"""What any denoiser could gain on simulated low-dose kidney slices (issue 14, MODEL_CARD).

For each 8-bit kidney slice, `privact simulate-ldct --clean-out` writes the simulated low-dose
scan and its noise-free reconstruction (the reference `privact denoise --dose` scores against).
On the metric of the issue (HU clipped to [-160, 240], scaled to [0, 1], PSNR with data range 1)
it reports the gain of

* the shipped models, with and without the client's gain (`privact denoise --dose --json`);
* an oracle linear filter: the radially averaged Wiener filter built from this very slice's
  true signal and noise spectra, an upper bound for any shift-invariant linear denoiser, the
  shipped 13x13 filter included;
* scikit-image non-local means and total variation, each told the true noise level and given
  the best of a few strengths *for this slice against its reference* (oracle-tuned: no real
  denoiser gets to do that).

Usage: python3 scripts/kidney_denoise_bounds.py [--privact target/release/privact]
       [--dose 0.25] [--seed 1] FILE...
Needs numpy, scipy, scikit-image and pydicom (pip install numpy scipy scikit-image pydicom).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pydicom
from scipy import ndimage
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle


def unit(hu):
    return (np.clip(hu, -160.0, 240.0) + 160.0) / 400.0


def psnr(a, b):
    return 10.0 * np.log10(1.0 / np.mean((a - b) ** 2))


def hu_of(path):
    d = pydicom.dcmread(path)
    return d.pixel_array.astype(np.float64) * float(d.RescaleSlope) + float(d.RescaleIntercept)


def radial_mean(power):
    fy = np.fft.fftfreq(power.shape[0])[:, None]
    fx = np.fft.fftfreq(power.shape[1])[None, :]
    band = np.minimum((np.hypot(fy, fx) * 64).astype(int), 63)
    sums = np.bincount(band.ravel(), power.ravel(), 64)
    counts = np.maximum(np.bincount(band.ravel(), minlength=64), 1)
    return (sums / counts)[band]


def oracle_wiener(low, clean):
    noise = radial_mean(np.abs(np.fft.fft2(low - clean)) ** 2)
    signal = radial_mean(np.abs(np.fft.fft2(clean - clean.mean())) ** 2)
    return np.real(np.fft.ifft2(np.fft.fft2(low) * signal / (signal + noise)))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--privact", default="target/release/privact")
    ap.add_argument("--dose", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for f in a.files:
            low_p, clean_p = os.path.join(tmp, "low.dcm"), os.path.join(tmp, "clean.dcm")
            run([a.privact, "simulate-ldct", f, "--dose", str(a.dose), "--seed", str(a.seed),
                 "--out", low_p, "--clean-out", clean_p])
            low, clean = hu_of(low_p), hu_of(clean_p)
            cu, lu = unit(clean), unit(low)
            p_in = psnr(lu, cu)
            tissue = (clean > -100) & (clean < 200)
            sigma = float(np.std((low - clean)[tissue]))
            r = {"file": os.path.basename(f), "psnr_in": p_in, "noise_sd_tissue_hu": sigma}
            for model in ("linear", "nonlinear"):
                for gain in (True, False):
                    cmd = [a.privact, "denoise", f, "--dose", str(a.dose), "--seed", str(a.seed),
                           "--mode", "plain", "--model", model, "--json"]
                    j = json.loads(run(cmd + ([] if gain else ["--no-gain"])))
                    key = model + ("" if gain else "_no_gain")
                    r[key] = j["psnr_out"] - j["psnr_in"]
            r["oracle_wiener"] = psnr(unit(oracle_wiener(low, clean)), cu) - p_in
            s = sigma / 400.0
            r["oracle_nlm"] = max(
                psnr(denoise_nl_means(lu, h=k * s, sigma=s, patch_size=5, patch_distance=6,
                                      fast_mode=True), cu)
                for k in (0.4, 0.6, 0.8, 1.0)) - p_in
            r["oracle_tv"] = max(
                psnr(denoise_tv_chambolle(lu, weight=k * s), cu) for k in (0.5, 1.0, 2.0)) - p_in
            r["oracle_gaussian"] = max(
                psnr(unit(ndimage.gaussian_filter(low, sd)), cu)
                for sd in (0.3, 0.5, 0.7, 0.9, 1.2, 1.5)) - p_in
            rows.append(r)
            print(json.dumps(r), flush=True)
    keys = [k for k in rows[0] if k != "file"]
    print(json.dumps({"mean": {k: float(np.mean([r[k] for r in rows])) for k in keys},
                      "min": {k: float(np.min([r[k] for r in rows])) for k in keys},
                      "slices": len(rows), "dose": a.dose, "seed": a.seed}))


if __name__ == "__main__":
    main()
