#!/usr/bin/env bash
# What word2vec pretraining does to accuracy, against random initialization, on SST-2 and IMDB.
#
#   scripts/model/pretrain_effect.sh [sst2|imdb|all]
#
# SST-2: train.tsv, dev.tsv for choosing the epoch, test.tsv reported. word2vec (skip-gram)
# reads the training texts plus the IMDB reviews as unlabelled text.
# IMDB: the 25k train reviews (no test split is provided) split 20k train / 5k test by line
# order (the file is already shuffled by hash); 10% of the 20k held out as dev; texts cut to
# 256 tokens. word2vec reads the 20k training texts.
source "$(dirname "$0")/../common.sh"
make_work
need_bin
which="${1:-all}"

run() { # name train dev test extra...
  local name=$1 train=$2 dev=$3 test=$4; shift 4
  local dev_args=()
  [ -n "$dev" ] && dev_args=(--dev "$dev")
  local start=$SECONDS
  "$bin" train --no-checkpoint -q --train "$train" "${dev_args[@]}" --out "$work/$name" \
    --epochs "${EPOCHS:-6}" --patience 2 --seed 7 "$@" > "$work/$name.log"
  local acc
  acc=$("$bin" eval --model "$work/$name" --data "$test" --json | sed 's/.*"accuracy":\([0-9.]*\).*/\1/')
  printf '%-28s test accuracy %.4f   (%d s)\n' "$name" "$acc" $((SECONDS - start))
}

if [ "$which" = sst2 ] || [ "$which" = all ]; then
  cut -f2 "$data/imdb/train.tsv" | sed 's#<br */*>#  #g' > "$work/unlabeled.txt"
  run sst2-random "$data/sst2/train.tsv" "$data/sst2/dev.tsv" "$data/sst2/test.tsv"
  run sst2-word2vec "$data/sst2/train.tsv" "$data/sst2/dev.tsv" "$data/sst2/test.tsv" \
    --pretrain-word2vec --unlabeled "$work/unlabeled.txt"
fi
if [ "$which" = imdb ] || [ "$which" = all ]; then
  sed 's#<br */*>#  #g' "$data/imdb/train.tsv" > "$work/imdb.tsv"
  head -n 20000 "$work/imdb.tsv" > "$work/imdb-train.tsv"
  tail -n 5000 "$work/imdb.tsv" > "$work/imdb-test.tsv"
  run imdb-random "$work/imdb-train.tsv" "" "$work/imdb-test.tsv" --max-length 256
  run imdb-word2vec "$work/imdb-train.tsv" "" "$work/imdb-test.tsv" --max-length 256 \
    --pretrain-word2vec
fi
