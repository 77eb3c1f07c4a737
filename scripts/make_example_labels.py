#!/usr/bin/env python3
"""Generate the small example label sets under examples/abaw-mini/ (our own synthetic data).

Truth: per-frame expressions that persist over time with transitions, unannotated (-1) stretches,
a two-person video as `_left` / `_right`. Predictions: the truth seen by an imperfect model
(lagging at transitions, random confusions).
Deterministic (fixed seed). Usage: python3 scripts/make_example_labels.py
"""

import pathlib
import random

ROOT = pathlib.Path(__file__).resolve().parent.parent / "examples/abaw-mini"
H7 = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise"
H8 = H7 + ",Other"
VIDEOS = {"interview": 180, "street_left": 120, "street_right": 120, "vlog": 150}


def truth_track(rng, n_frames, n_classes):
    out, cur = [], 0
    while len(out) < n_frames:
        run = rng.randint(10, 45)
        out += [cur] * run
        cur = rng.choice([0, 0, 0] + list(range(1, n_classes)))
    out = out[:n_frames]
    # Unannotated stretches.
    for _ in range(rng.randint(0, 2)):
        s = rng.randrange(n_frames)
        for i in range(s, min(n_frames, s + rng.randint(3, 12))):
            out[i] = -1
    return out


def predict(rng, truth, n_classes):
    pred, last = [], 0
    for t in truth:
        if t == -1:
            p = last
        elif rng.random() < 0.25:
            p = rng.randrange(n_classes)
        else:
            # Lags behind a change one frame in three.
            p = last if (t != last and rng.random() < 0.33) else t
        last = p
        pred.append(p)
    return pred


def main():
    rng = random.Random(2020)
    for n, header, sub in [(7, H7, "abaw2020"), (8, H8, "abaw2022")]:
        truth_dir = ROOT / sub / "truth"
        truth_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        pred_dir = ROOT / sub / "pred"
        if n == 7:
            pred_dir.mkdir(parents=True, exist_ok=True)
        for video, frames in VIDEOS.items():
            t = truth_track(rng, frames, n)
            (truth_dir / f"{video}.txt").write_text(header + "\n" + "".join(f"{x}\n" for x in t))
            p = predict(rng, t, n)
            if n == 7:
                (pred_dir / f"{video}.txt").write_text(header + "\n" + "".join(f"{x}\n" for x in p))
            else:
                rows += [f"{video}/{i + 1:05}.jpg,{x}\n" for i, x in enumerate(p)]
        if n == 8:
            (ROOT / sub / "predictions.txt").write_text(
                "image_location," + header + "\n" + "".join(rows)
            )


if __name__ == "__main__":
    main()
