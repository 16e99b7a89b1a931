#!/usr/bin/env python3
"""How much of the series-wise cross-validation can global intensity alone explain? (issue 15)

Loads `kidney-ct` (Normal, Cyst, Tumor; always trained on) and `kidney-ct-extra` (held out
series by series), makes the four folds the way `privact train-classifier --series-cv` does
(one extra tumour series per fold; the extra cyst and normal series, largest first, each to
the fold holding the fewest slices of that class so far) and scores, by class-balanced
logistic regression (scikit-learn), simple whole-image features:

* `intensity histogram`: 32 bins of the [0, 1] gray values, nothing spatial;
* `thumbnail 32x32`: 8x8 block means of a 256x256 image, standardised;
* `HOG`: histogram of oriented gradients on 128x128 (scikit-image);
* `LBP histogram`: uniform local binary patterns (texture, no position).

Prints pooled one-vs-rest AUCs, balanced accuracy and tumour sensitivity of the arg-max, and
each fold's tumour AUC: the same figures as the trainer's `pooled new` lines, for features a
radiologist would not call lesion evidence.

Usage: python3 scripts/series_cv_probe.py [DATA_DIR]   (default ../shared/data)
Needs numpy, pillow, scikit-learn and scikit-image.
"""

import csv
import glob
import sys

import numpy as np
from PIL import Image
from skimage.feature import hog, local_binary_pattern
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

CLASSES = ("Normal", "Cyst", "Tumor")


def load(root, side=128):
    images, labels, series = [], [], []

    def add(path, label, name):
        im = Image.open(path).convert("L").resize((side, side), Image.BOX)
        images.append(np.asarray(im, np.float32) / 255)
        labels.append(label)
        series.append(name)

    for c, cls in enumerate(CLASSES):
        for f in sorted(glob.glob(f"{root}/kidney-ct/{cls}/*.jpg")):
            add(f, c, "kidney-ct")
    with open(f"{root}/kidney-ct-extra/series.tsv") as fh:
        rows = sorted((r["file"], r["series"]) for r in csv.DictReader(fh, delimiter="\t"))
    for f, s in rows:
        cls = f.split("/")[0]
        if cls in CLASSES:
            add(f"{root}/kidney-ct-extra/{f}", CLASSES.index(cls), s)
    return np.stack(images), np.array(labels), np.array(series)


def folds(series):
    fold = np.full(len(series), -1)
    for k, s in enumerate(sorted({s for s in series if s.startswith("Tumor-")})):
        fold[series == s] = k
    for prefix in ("Cyst-", "Normal-"):
        names = sorted({s for s in series if s.startswith(prefix)}, key=lambda s: -(series == s).sum())
        count = [0, 0, 0, 0]
        for s in names:
            k = int(np.argmin(count))
            fold[series == s] = k
            count[k] += (series == s).sum()
    return fold


def score(name, feats, y, fold, c=1.0):
    p = np.zeros((len(y), 3))
    for k in range(4):
        train, test = fold != k, fold == k
        scaler = StandardScaler().fit(feats[train])
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        model.fit(scaler.transform(feats[train]), y[train])
        p[test] = model.predict_proba(scaler.transform(feats[test]))
    held = fold >= 0
    yt, pt = y[held], p[held]
    auc = [roc_auc_score(yt == c, pt[:, c]) for c in range(3)]
    pred = pt.argmax(1)
    sens = [(pred[yt == c] == c).mean() for c in range(3)]
    per_fold = [roc_auc_score(y[fold == k] == 2, p[fold == k, 2]) for k in range(4)]
    print(
        f"{name:20s} AUC n/c/t {auc[0]:.3f}/{auc[1]:.3f}/{auc[2]:.3f}  bal.acc {np.mean(sens):.3f}"
        f"  tumour sens {sens[2]:.3f}  fold tumour AUCs "
        + " ".join(f"{a:.3f}" for a in per_fold)
    )


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    x, y, series = load(root)
    fold = folds(series)

    def standardised(a):
        return (a - a.mean()) / (a.std() + 1e-6)

    hist = np.stack([np.histogram(im, bins=32, range=(0, 1))[0] / im.size for im in x])
    score("intensity histogram", hist, y, fold)
    thumbs = np.stack([standardised(im.reshape(32, 4, 32, 4).mean((1, 3))).ravel() for im in x])
    score("thumbnail 32x32", thumbs, y, fold, c=0.01)
    hogs = np.stack([hog(im, orientations=8, pixels_per_cell=(16, 16), cells_per_block=(2, 2)) for im in x])
    score("HOG", hogs, y, fold, c=0.01)

    def lbp(im):
        codes = local_binary_pattern((im * 255).astype(np.uint8), 8, 1, "uniform")
        return np.histogram(codes, bins=10, range=(0, 10))[0] / codes.size

    score("LBP histogram", np.stack([lbp(im) for im in x]), y, fold)


if __name__ == "__main__":
    main()
