#!/usr/bin/env bash
# Accuracy of the built-in model on the held-out sets in ../shared/data and on the hand-written
# everyday reviews in scripts/model/everyday_reviews.tsv. Prints one line per set.
#
#   scripts/model/eval_builtin.sh            # BIN=... for another binary, DATA=... for the data
source "$(dirname "$0")/../common.sh"
need_bin
for set in "$data/sst2/test.tsv" "$data/zh-waimai/test.tsv" "$root/scripts/model/everyday_reviews.tsv" \
           "$data/imdb/train.tsv"; do
  "$bin" eval --data "$set" --json \
    | sed 's/^{"n":\([0-9]*\),"accuracy":\([0-9.]*\),"macro_f1":\([0-9.]*\).*/\1 \2 \3/' \
    | awk -v set="$(basename "$(dirname "$set")")/$(basename "$set")" '{ printf "%-40s n=%-6d accuracy %.4f  macro-F1 %.4f\n", set, $1, $2, $3 }'
done
