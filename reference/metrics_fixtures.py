#!/usr/bin/env python3
"""Metric fixtures for wildfer-eval, computed independently with scikit-learn.

Writes crates/wildfer-eval/tests/fixtures/metrics_NN.json: random cases of per-frame truth and
predictions (7 and 8 classes, skewed class frequencies, classes absent from truth and/or
prediction, unannotated truth frames = -1, missing predictions = -1). Each case carries the
expected accuracy, macro F1 (zero_division=0 over all n classes), per-class precision /
recall / F1, the confusion matrix and the ABAW2020 score, all computed by scikit-learn on the
frames whose truth is not -1. A missing prediction is given to scikit-learn as the label n,
which lies outside `labels=range(n)`: it is then wrong for accuracy, a false negative of its
true class and a false positive of no class.

Usage: python3 reference/metrics_fixtures.py   (needs numpy and scikit-learn)
Deterministic: fixed seed; re-running reproduces the committed files.
"""

import json
import pathlib

import numpy as np
import sklearn
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/wildfer-eval/tests/fixtures"
CASES = 250
PER_FILE = 50


def make_case(rng, k):
    n = 7 if k % 2 == 0 else 8
    length = int(rng.integers(1, 160))
    # Skewed class distribution; some classes get zero mass.
    p = rng.dirichlet(np.full(n, 0.6))
    if rng.random() < 0.5:
        p[rng.choice(n, size=int(rng.integers(1, n)), replace=False)] = 0.0
        if p.sum() == 0:
            p[0] = 1.0
        p /= p.sum()
    truth = rng.choice(n, size=length, p=p)
    mode = rng.random()
    if mode < 0.3:
        pred = truth.copy()
        flip = rng.random(length) < rng.random()
        pred[flip] = rng.integers(0, n, size=int(flip.sum()))
    elif mode < 0.45:
        # Collapsed predictor: one class for everything (classes absent from prediction).
        pred = np.full(length, int(rng.integers(0, n)))
    else:
        q = rng.dirichlet(np.full(n, 0.6))
        pred = rng.choice(n, size=length, p=q)
    if rng.random() < 0.4:
        truth[rng.random(length) < 0.2] = -1
    if rng.random() < 0.3:
        pred[rng.random(length) < 0.15] = -1
    keep = truth != -1
    if not keep.any():
        truth[0] = int(rng.integers(0, n))
        keep = truth != -1
    t = truth[keep]
    q = np.where(pred[keep] == -1, n, pred[keep])
    labels = list(range(n))
    acc = accuracy_score(t, q)
    f1 = f1_score(t, q, labels=labels, average="macro", zero_division=0)
    prec, rec, f1c, _ = precision_recall_fscore_support(
        t, q, labels=labels, average=None, zero_division=0
    )
    cm = confusion_matrix(t, q, labels=labels)
    return {
        "classes": n,
        "truth": truth.tolist(),
        "pred": pred.tolist(),
        "frames": int(keep.sum()),
        "accuracy": float(acc),
        "f1_macro": float(f1),
        "f1_per_class": [float(x) for x in f1c],
        "precision_per_class": [float(x) for x in prec],
        "recall_per_class": [float(x) for x in rec],
        "confusion": cm.tolist(),
        "abaw2020_score": float(0.67 * f1 + 0.33 * acc),
    }


def main():
    rng = np.random.default_rng(20201)
    cases = [make_case(rng, k) for k in range(CASES)]
    OUT.mkdir(parents=True, exist_ok=True)
    for i in range(0, CASES, PER_FILE):
        doc = {
            "generator": "reference/metrics_fixtures.py",
            "sklearn": sklearn.__version__,
            "cases": cases[i : i + PER_FILE],
        }
        path = OUT / f"metrics_{i // PER_FILE:02}.json"
        path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        print(path, len(doc["cases"]))


if __name__ == "__main__":
    main()
