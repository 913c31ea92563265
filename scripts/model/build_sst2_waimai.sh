#!/usr/bin/env bash
# A small sentiment model from two data sets in ../shared/data: SST-2's phrases and the Chinese
# takeaway reviews. scripts/bench/builtin_train.py times this training against PyTorch's; the
# built-in model itself comes from build_builtin.py.
#
#   scripts/model/build_sst2_waimai.sh OUT_DIR
#
# Training data: SST-2's phrase-level train set (GLUE) and the Chinese takeaway reviews
# (zh-waimai train minus 600 rows held out). Dev, for choosing the epoch: SST-2 dev plus those
# 600 zh-waimai rows. IMDB_WORDS=N adds the IMDB train reviews cut to their first N words; with
# N=150 it lowered SST-2 dev accuracy (0.836 against 0.850) at five times the training time, so
# it is off by default. Nothing from SST-2 test, MR (same snippets as SST-2) or
# zh-waimai test is used. Labels 0/1 become negative/positive; 0/1 stay readable in eval.
# Settings were chosen on that dev set: dropout 0.5 (dev 0.8716) over 0.3 (0.8696); a
# bidirectional LSTM did no better than this unidirectional one on SST-2 dev.
source "$(dirname "$0")/../common.sh"
out="${1:?usage: build_sst2_waimai.sh OUT_DIR}"
make_work
need_bin

zh_rows=$(wc -l < "$data/zh-waimai/train.tsv")
head -n $((zh_rows - 600)) "$data/zh-waimai/train.tsv" > "$work/zh-train.tsv"
tail -n 600 "$data/zh-waimai/train.tsv" > "$work/zh-dev.tsv"
: > "$work/imdb.tsv"
if [ "${IMDB_WORDS:-0}" -gt 0 ]; then
  sed 's#<br */*>#  #g' "$data/imdb/train.tsv" \
    | awk -F'\t' -v OFS='\t' -v max="$IMDB_WORDS" \
      '{ n = split($2, w, " "); t = w[1]; for (i = 2; i <= n && i <= max; i++) t = t " " w[i]; print $1, t }' \
    > "$work/imdb.tsv"
fi
cat "$data/sst2/train_phrases.tsv" "$work/imdb.tsv" "$work/zh-train.tsv" > "$work/train.tsv"
cat "$data/sst2/dev.tsv" "$work/zh-dev.tsv" > "$work/dev.tsv"

"$bin" train --no-checkpoint --train "$work/train.tsv" --dev "$work/dev.tsv" --out "$work/model" \
  --label-map 0=negative,1=positive \
  --cell lstm --embedding-dim "${EMBEDDING_DIM:-128}" --hidden "${HIDDEN:-128}" \
  --dropout "${DROPOUT:-0.5}" --epochs "${EPOCHS:-8}" --patience 2 --batch-size 64 --lr 2e-3 \
  --min-count "${MIN_COUNT:-2}" --max-vocab "${MAX_VOCAB:-30000}" --seed "${SEED:-1}" \
  ${EXTRA:-}
# float16 halves the binary; on SST-2 dev it changes no prediction's label.
"$bin" convert --model "$work/model" --out "$out" --dtype f16
