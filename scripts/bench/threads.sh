#!/usr/bin/env bash
# One training epoch on SST-2 train (6920 sentences; `train`'s defaults: LSTM 128/128, batch
# 64) with every core and with one, for the fused kernel (`--threads`, which sizes the pool that
# runs each batch's parts) and for the candle-op path (LSTM_SENTIMENT_KERNEL=reference, whose
# matrix products candle splits over CANDLE_NUM_THREADS). The CLI's defaults (every core for the
# kernel, one for candle's own products) come from these figures.
#
#   scripts/bench/threads.sh          # needs $DATA/sst2 (default ../shared/data/sst2)
source "$(dirname "$0")/../common.sh"
make_work
need_bin
cp "$data/sst2/train.tsv" "$work/train.tsv"
n=$(nproc)
epoch() {
  "$bin" train --no-checkpoint -q --train "$work/train.tsv" --dev "$data/sst2/dev.tsv" \
    --out "$work/m" --epochs 1 "$@" | awk '$1 == 1 {print $7}'
}
for threads in "$n" 1; do
  echo "fused kernel, --threads $threads: epoch seconds $(epoch --threads "$threads")"
done
for threads in "$n" 1; do
  s=$(LSTM_SENTIMENT_KERNEL=reference CANDLE_NUM_THREADS=$threads epoch --threads "$threads")
  echo "candle ops, --threads $threads CANDLE_NUM_THREADS=$threads: epoch seconds $s"
done
