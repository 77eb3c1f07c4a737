#!/usr/bin/env python3
"""Write one `path label` list (what `[data.images] list = ...` reads) mixing labelled image
sets: a folder with a folder per class, or another list file, each taken whole `xK` times or as
`N` images drawn at random (seed 0). Paths are written relative to the output file's folder.

Used to fine-tune on a small set (SFEW) without forgetting a large one (FER2013):
  python3 scripts/mix_image_sets.py data/sfew2/lists/sfew_fit_fer2013_mix.txt \\
      data/sfew2/faces_fit_fer2013 x4 data/fer2013/train 7000

Standard library only.
"""
import os
import random
import sys

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp"}


def read_set(src):
    """(absolute path, label) pairs of a class-folder tree or a list file."""
    items = []
    if os.path.isdir(src):
        for label in sorted(os.listdir(src)):
            d = os.path.join(src, label)
            if label.startswith(".") or not os.path.isdir(d):
                continue
            for f in sorted(os.listdir(d)):
                if os.path.splitext(f)[1].lower() in IMAGE_EXT:
                    items.append((os.path.abspath(os.path.join(d, f)), label))
    else:
        base = os.path.dirname(os.path.abspath(src))
        with open(src) as fh:
            for n, line in enumerate(fh, 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                path, _, label = line.rpartition(" ")
                if not path or not label:
                    sys.exit(f"{src}:{n}: expected `path label`")
                items.append((os.path.normpath(os.path.join(base, path.strip())), label))
    if not items:
        sys.exit(f"{src}: no images")
    return items


def main():
    args = sys.argv[1:]
    if len(args) < 3 or len(args) % 2 != 1:
        sys.exit("usage: mix_image_sets.py OUT.txt SOURCE xK|N [SOURCE xK|N ...]")
    out, pairs = args[0], list(zip(args[1::2], args[2::2]))
    rng = random.Random(0)
    lines = []
    for src, spec in pairs:
        items = read_set(src)
        if spec.startswith("x"):
            picked = items * int(spec[1:])
        else:
            n = int(spec)
            if n > len(items):
                sys.exit(f"{src}: {n} images asked, {len(items)} there")
            picked = rng.sample(items, n)
        lines += picked
        print(f"{src}: {len(picked)} lines", file=sys.stderr)
    base = os.path.dirname(os.path.abspath(out))
    os.makedirs(base, exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"# mixed by scripts/mix_image_sets.py {' '.join(args[1:])}\n")
        for path, label in lines:
            fh.write(f"{os.path.relpath(path, base)} {label}\n")
    os.replace(tmp, out)
    print(f"{out}: {len(lines)} images", file=sys.stderr)


if __name__ == "__main__":
    main()
