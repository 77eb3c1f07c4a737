#!/usr/bin/env python3
"""Split SFEW 2.0's Train folder by movie into two `path label` list files for wildfer.

SFEW's file names start with the movie (`AlexEmma_000548800_00000021.png`: movie `AlexEmma`,
then the frame's time and number; a few use `-` or an extra number). Whole movies are held out so that no movie is seen in
training and in measurement. Rule: movies sorted by name, every fourth one (the 4th, 8th, ...)
held out; on SFEW 2.0's Train split (860 images, 50 movies) that is 12 movies, 210 images.

Usage: scripts/sfew_split.py SFEW_TRAIN_DIR OUT_DIR
Writes OUT_DIR/sfew_fit.txt and OUT_DIR/sfew_holdout.txt (absolute paths, class folder names
as labels, which wildfer reads as it reads the class folders).
"""
import os
import re
import sys


def movie(name):
    # The name before the first long run of digits (`OceansTwelve-001817760_...`, `50_50_0018...`).
    m = re.match(r"(.+?)[-_]\d{6,}", name)
    return m.group(1) if m else os.path.splitext(name)[0]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-4])
    root, out = (os.path.abspath(a) for a in sys.argv[1:])
    items = []
    for cls in sorted(os.listdir(root)):
        d = os.path.join(root, cls)
        if not os.path.isdir(d) or cls.startswith("."):
            continue
        for f in sorted(os.listdir(d)):
            if f.lower().endswith((".png", ".jpg", ".jpeg", ".bmp")):
                items.append((os.path.join(d, f), cls, movie(f)))
    if not items:
        sys.exit(f"{root}: no images in class folders")
    movies = sorted({m for _, _, m in items})
    held = {m for i, m in enumerate(movies) if i % 4 == 3}
    os.makedirs(out, exist_ok=True)
    for name, keep in (("sfew_fit.txt", False), ("sfew_holdout.txt", True)):
        rows = [f"{p} {c}\n" for p, c, m in items if (m in held) == keep]
        tmp = os.path.join(out, f".{name}.tmp")
        with open(tmp, "w") as fh:
            fh.write(f"# SFEW 2.0 {'held-out' if keep else 'fitting'} movies of {root}\n")
            fh.writelines(rows)
        os.replace(tmp, os.path.join(out, name))
        print(f"{os.path.join(out, name)}: {len(rows)} images")
    print(f"{len(held)} of {len(movies)} movies held out: {', '.join(sorted(held))}")


if __name__ == "__main__":
    main()
