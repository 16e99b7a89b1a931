#!/usr/bin/env python3
"""Series-wise cross-validation of a seed *ensemble* (issue 15, MODEL_CARD › v1.2.0).

`privact train-classifier --series-cv` scores one network per fold; the shipped model is the
mean of several seeds' logits. Given the `series_cv.json` of runs that differ only in `--seed`
(same folds, same held-out slices), this averages their log-probabilities per held-out slice
(softmax of the mean log-probability equals softmax of the mean logits) and reports, for that
ensemble and for the shipped model the runs were paired with (`shipped_approx`), and, when
the first run distilled from an ensemble (`--teacher-seeds`), for its teachers (`teacher`):

* per-class one-vs-rest AUC, balanced accuracy and tumour sensitivity of the arg-max;
* the tumour AUC of every fold and their mean;
* 95 % percentile intervals of the pooled tumour AUC and balanced accuracy from 2,000
  bootstrap replicates that redraw whole series within each class (seed 12345);
* for every held-out tumour series, how many of its slices the arg-max calls normal, cyst
  and tumour, and the mean probabilities (which way a missed series goes).

It also reports decisions with a leave-one-fold-out prior correction: for each fold, the
logit biases (cyst, tumour; normal fixed at 0, grid −4…4 in steps of 0.1) that maximise the
balanced accuracy on the *other* folds' held-out slices are added to this fold's
log-probabilities before the arg-max, so no slice's decision is tuned on its own fold.

Usage: python3 scripts/series_cv_ensemble.py RUN1/series_cv.json RUN2/series_cv.json ...
Needs numpy and scikit-learn (pip install numpy scikit-learn).
"""

import json
import sys

import numpy as np
from sklearn.metrics import roc_auc_score

CLASSES = ("normal", "cyst", "tumor")
TUMOUR = 2


def load(paths):
    runs = [json.load(open(p)) for p in paths]
    base = {im["file"]: im for im in runs[0]["images"]}
    files = sorted(base)
    for p, r in zip(paths, runs):
        if sorted(im["file"] for im in r["images"]) != files:
            sys.exit(f"{p}: other held-out slices than {paths[0]}; the runs must share folds")
    logp = np.mean(
        [
            [np.log(np.maximum({im["file"]: im for im in r["images"]}[f]["new"], 1e-300)) for f in files]
            for r in runs
        ],
        axis=0,
    )
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    labels = np.array([base[f]["label"] for f in files])
    folds = np.array([base[f]["fold"] for f in files])
    series = np.array([base[f]["series"] for f in files])
    shipped = np.array([base[f]["shipped_approx"] for f in files])
    # Runs with --teacher-seeds also record the fold's teacher ensemble.
    teacher = np.array([base[f]["teacher"] for f in files]) if "teacher" in base[files[0]] else None
    return p, shipped, teacher, labels, folds, series


def sensitivities(scores, labels):
    """Per-class sensitivity of the arg-max decision, in CLASSES order."""
    pred = scores.argmax(axis=1)
    return [(pred[labels == k] == k).mean() for k in range(len(CLASSES))]


def balanced_accuracy(scores, labels):
    return float(np.mean(sensitivities(scores, labels)))


def report(name, probs, labels, folds, series, rng):
    auc = [roc_auc_score(labels == k, probs[:, k]) for k in range(len(CLASSES))]
    sens = sensitivities(probs, labels)[TUMOUR]
    per_fold = [
        roc_auc_score(labels[folds == f] == TUMOUR, probs[folds == f, TUMOUR])
        for f in sorted(set(folds))
    ]
    by_class = {k: sorted(set(series[labels == k])) for k in range(len(CLASSES))}
    rows = {s: np.where(series == s)[0] for s in set(series)}
    boot = []
    for _ in range(2000):
        ix = np.concatenate(
            [rows[s] for k in by_class for s in rng.choice(by_class[k], len(by_class[k]))]
        )
        boot.append(
            (roc_auc_score(labels[ix] == TUMOUR, probs[ix, TUMOUR]), balanced_accuracy(probs[ix], labels[ix]))
        )
    lo, hi = np.percentile(np.array(boot), [2.5, 97.5], axis=0)
    print(
        f"{name}: AUC normal/cyst/tumour {auc[0]:.3f}/{auc[1]:.3f}/{auc[2]:.3f} "
        f"(tumour 95% CI {lo[0]:.3f}-{hi[0]:.3f}); balanced accuracy {balanced_accuracy(probs, labels):.3f} "
        f"({lo[1]:.3f}-{hi[1]:.3f}); tumour sensitivity {sens:.3f}; "
        f"tumour AUC per fold {' / '.join(f'{a:.3f}' for a in per_fold)} (mean {np.mean(per_fold):.3f})"
    )


def series_calls(name, probs, labels, folds, series):
    pred = probs.argmax(axis=1)
    for s in sorted(set(series[labels == TUMOUR])):
        ix = series == s
        calls = " / ".join(f"{c} {int((pred[ix] == k).sum())}" for k, c in enumerate(CLASSES))
        mean = "/".join(f"{v:.2f}" for v in probs[ix].mean(axis=0))
        print(f"  {name}: {s} (fold {int(folds[ix][0]) + 1}, {int(ix.sum())} slices): {calls}; mean p {mean}")


def lofo_bias(logp, labels, folds):
    """Log-probabilities plus, per fold, the bias fitted on the other folds (see above)."""
    grid = np.round(np.arange(-4.0, 4.0001, 0.1), 1)
    out = logp.copy()
    chosen = {}
    for f in sorted(set(folds)):
        rest = folds != f
        best = (-1.0, 0.0, 0.0)
        for bc in grid:
            for bt in grid:
                ba = balanced_accuracy(logp[rest] + np.array([0.0, bc, bt]), labels[rest])
                if ba > best[0] + 1e-12:
                    best = (ba, bc, bt)
        chosen[int(f) + 1] = (float(best[1]), float(best[2]))
        out[folds == f] += np.array([0.0, best[1], best[2]])
    return out, chosen


def decisions(name, logp, labels, folds):
    adjusted, chosen = lofo_bias(logp, labels, folds)
    sens = sensitivities(adjusted, labels)
    print(
        f"{name}, leave-one-fold-out prior correction: balanced accuracy "
        f"{balanced_accuracy(adjusted, labels):.3f}; sensitivity normal/cyst/tumour "
        f"{sens[0]:.3f}/{sens[1]:.3f}/{sens[2]:.3f}; biases (cyst, tumour) per fold {chosen}"
    )


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    probs, shipped, teacher, labels, folds, series = load(sys.argv[1:])
    name = f"ensemble of {len(sys.argv) - 1} runs"
    report(name, probs, labels, folds, series, np.random.default_rng(12345))
    series_calls(name, probs, labels, folds, series)
    report("shipped model (paired)", shipped, labels, folds, series, np.random.default_rng(12345))
    if teacher is not None:
        report("teacher ensemble of the first run (paired)", teacher, labels, folds, series, np.random.default_rng(12345))
        series_calls("teacher", teacher, labels, folds, series)
    decisions(name, np.log(np.maximum(probs, 1e-300)), labels, folds)


if __name__ == "__main__":
    main()
