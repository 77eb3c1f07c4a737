#!/usr/bin/env python3
"""How often wildfer's face-api expression model agrees with face-api's own pipeline.

face-api (npm @vladmandic/face-api 1.7.15) finds faces with its SSD detector, cuts its box padded
to a square and classifies that; wildfer finds faces with RetinaFace and cuts them by their
landmarks as `CropSpec::FACE_API` says. This runs both on every STEP-th frame of a real video
(frames decoded by PyAV with wildfer's YUV formula, as in convert_retinaface.py) and prints the
share of frames where the winning class agrees. Nothing is written to the repository.

Usage: python3 reference/face_api_agreement.py [STEP] [MODEL]
  (default STEP 4 = 118 frames of WolfgangLanger_Pexels.mp4, ~25 min for face-api's pure-JS
  detector on 2 cores; MODEL = a wildfer --model name, default face-api-expression).
Needs a release build (`make build`), node + npm, PyAV.
"""

import collections
import csv
import json
import pathlib
import subprocess
import sys
import tempfile

import av

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from convert_retinaface import MEDIA, yuv420_to_rgb  # noqa: E402
from fetch import member  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "reference/face_api"
VIDEO = "WolfgangLanger_Pexels.mp4"
# face-api's class names -> ABAW's (wildfer's CSV).
ABAW = {"neutral": "neutral", "happy": "happiness", "sad": "sadness", "angry": "anger",
        "fearful": "fear", "disgusted": "disgust", "surprised": "surprise"}


def main():
    step = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    model = sys.argv[2] if len(sys.argv) > 2 else "face-api-expression"
    if not (NODE_DIR / "node_modules").exists():
        subprocess.run(["npm", "ci", "--ignore-scripts", "--silent"], cwd=NODE_DIR, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        models, frames, out = tmp / "model", tmp / "frames", tmp / "wildfer"
        models.mkdir()
        frames.mkdir()
        for f in ["ssd_mobilenetv1_model-weights_manifest.json", "ssd_mobilenetv1_model.bin",
                  "face_expression_model-weights_manifest.json", "face_expression_model.bin"]:
            (models / f).write_bytes(member("face-api", f"package/model/{f}"))
        with av.open(str(MEDIA / VIDEO)) as c:
            decoded = sorted(c.decode(video=0), key=lambda f: f.pts)
        for k, f in enumerate(decoded, start=1):
            if (k - 1) % step == 0:
                rgb = yuv420_to_rgb(f)
                rgb.tofile(frames / f"{k:05d}.u8")
                (frames / f"{k:05d}.json").write_text(json.dumps(list(rgb.shape)))
        lines = subprocess.run(
            ["node", str(NODE_DIR / "face_api_pipeline.cjs"), str(models), str(frames)],
            check=True, capture_output=True, text=True).stdout.splitlines()
        reference = {}
        for line in lines:
            frame, expression = line.split()[:2]
            reference.setdefault(int(frame), ABAW[expression])  # the first (most confident) face
        subprocess.run([str(ROOT / "target/release/wildfer"), "analyze", str(MEDIA / VIDEO),
                        "--out", str(out), "--model", model, "--smooth", "0"],
                       check=True, capture_output=True)
        with open(out / (pathlib.Path(VIDEO).stem + ".csv")) as f:
            ours = {int(r["frame"]): r["expression"] for r in csv.DictReader(f) if r["face_id"]}
    agree = sum(ours.get(k) == v for k, v in reference.items())
    print(f"{VIDEO}, every {step}th frame, wildfer --model {model}: agrees with face-api's own "
          f"pipeline on {agree} of {len(reference)} frames with a face")
    print("  face-api:", dict(collections.Counter(reference.values())))
    print("  wildfer: ", dict(collections.Counter(ours[k] for k in reference if k in ours)))


if __name__ == "__main__":
    main()
