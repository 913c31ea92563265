#!/usr/bin/env bash
# Accuracy of the built-in model (or --model DIR's) on the held-out sets in ../shared/data and on
# the everyday check sets in assets/checks/. Prints one line per set.
#
#   scripts/model/eval_builtin.sh [--model DIR]     # BIN=... for another binary, DATA=... for the data
#
# IMDB: rows 20,001-25,000 of its train file, the part the built-in model's recipe never trains on.
# en-hotels is a domain the recipe never trains on.
source "$(dirname "$0")/../common.sh"
need_bin
make_work
tail -n +20001 "$data/imdb/train.tsv" > "$work/imdb-heldout.tsv"
for set in "$data/sst2/test.tsv" "$work/imdb-heldout.tsv" "$data/en-electronics/test.tsv" \
           "$data/en-hotels/test.tsv" "$data/zh-waimai/test.tsv" "$data/zh-shopping/test.tsv" \
           "$root/assets/checks/en.tsv" "$root/assets/checks/zh.tsv"; do
  name="$(basename "$(dirname "$set")")/$(basename "$set")"
  [ "$set" = "$work/imdb-heldout.tsv" ] && name="imdb/train.tsv rows 20001-25000"
  "$bin" eval "$@" --data "$set" --json \
    | sed 's/^{"n":\([0-9]*\),"accuracy":\([0-9.]*\),"macro_f1":\([0-9.]*\).*/\1 \2 \3/' \
    | awk -v set="$name" '{ printf "%-34s n=%-6d accuracy %.4f  macro-F1 %.4f\n", set, $1, $2, $3 }'
done
