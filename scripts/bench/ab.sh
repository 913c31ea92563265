#!/usr/bin/env bash
# Two builds of lstm-sentiment on the same long-text work, alternating so that load from other
# jobs hits both alike: two training epochs with `train`'s defaults on en-electronics (1,800
# reviews of 115 words on average), and predicting 3,000 IMDB reviews with the built-in model.
# Prints the median epoch seconds, predict seconds and peak memory of each, and whether the
# two trained identical weights and printed identical predictions.
#
#   scripts/bench/ab.sh OLD_BINARY NEW_BINARY      # REPEAT=5 by default
#
# Build the old one from its commit in a worktree of its own: `git worktree add DIR REV`, then
# `cargo build --release` in DIR gives DIR/target/release/lstm-sentiment.
# Needs $DATA/en-electronics and $DATA/imdb (default ../shared/data).
source "$(dirname "$0")/../common.sh"
[ $# -eq 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
REPEAT=${REPEAT:-5}
make_work
head -n 3000 "$data/imdb/train.tsv" | cut -f2 >"$work/predict.txt"

for i in $(seq "$REPEAT"); do
    for side in old new; do
        b=$1; [ "$side" = new ] && b=$2
        "$b" train --no-checkpoint -q --train "$data/en-electronics/train.tsv" --seed 1 \
            --out "$work/model-$side" --epochs 2 --patience 0 |
            awk '$1 ~ /^[0-9]+$/ {print $7}' >>"$work/epoch-$side"
        /usr/bin/time -f '%e %M' -o "$work/time" "$b" predict --json \
            <"$work/predict.txt" >"$work/predicted-$side"
        read -r seconds kb <"$work/time"
        echo "$seconds" >>"$work/predict-$side"
        echo "$kb" >>"$work/kb-$side"
    done
done

printf '%-4s %14s %16s %20s\n' build 'epoch s' 'predict 3000 s' 'predict peak MB'
for side in old new; do
    printf '%-4s %14s %16s %20s\n' "$side" "$(median <"$work/epoch-$side")" \
        "$(median <"$work/predict-$side")" "$(median <"$work/kb-$side" | awk '{printf "%d", $1 / 1024}')"
done
cmp -s "$work/model-old/model.safetensors" "$work/model-new/model.safetensors" &&
    echo "trained weights: identical" || echo "trained weights: differ"
cmp -s "$work/predicted-old" "$work/predicted-new" &&
    echo "predictions: identical" || echo "predictions: differ"
