#!/usr/bin/env bash
# Times the fused recurrent kernel against the reference path (plain candle ops), with the same
# release binary: LSTM_SENTIMENT_KERNEL=reference turns the fused kernel off.
#
# For each kernel it trains one epoch on SST-2 and predicts 5000 lines, REPEAT times, and prints
# the median training tokens/s (as `train` reports it), epoch seconds, and predict wall and CPU
# seconds. The two kernels alternate, so load from other jobs on the machine hits both alike.
#
#   scripts/bench_kernel.sh                      # lstm, the training defaults
#   REPEAT=7 scripts/bench_kernel.sh --cell gru --bidirectional --layers 2
#
# Extra arguments go to `train`. Needs the data under ../shared/data/sst2 (or DATA=dir).
set -euo pipefail

cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-5}
DATA=${DATA:-../shared/data/sst2}
BIN=target/release/lstm-sentiment
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet
# One thread for both kernels, so that the figures compare kernels, not thread counts.
export RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1
head -n 5000 "$DATA/train.tsv" | cut -f2 >"$WORK/predict.txt"

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for i in $(seq "$REPEAT"); do
    for kernel in reference fused; do
        # `train` reports "epoch 1: ... | 2.3 s, 67133 tok/s" on stderr; CPU seconds of the whole
        # command (tokenizing and dev evaluation included) are less sensitive to other jobs.
        /usr/bin/time -f '%U %S' -o "$WORK/time" env LSTM_SENTIMENT_KERNEL=$kernel \
            "$BIN" train --train "$DATA/train.tsv" --dev "$DATA/dev.tsv" \
            --out "$WORK/model-$kernel" --epochs 1 "$@" 2>&1 >/dev/null |
            sed -n 's/^epoch 1: .*| \([0-9.]*\) s, \([0-9]*\) tok\/s.*/\1 \2/p' | tr '\n' ' ' >>"$WORK/train-$kernel"
        awk '{print $1 + $2}' "$WORK/time" >>"$WORK/train-$kernel"
        # Predict with the model this kernel trained: wall and CPU (user + system) seconds.
        /usr/bin/time -f '%e %U %S' -o "$WORK/time" env LSTM_SENTIMENT_KERNEL=$kernel \
            "$BIN" predict --model "$WORK/model-$kernel" --input "$WORK/predict.txt" >/dev/null
        awk '{print $1, $2 + $3}' "$WORK/time" >>"$WORK/predict-$kernel"
    done
done

printf '%-10s %12s %8s %12s %15s %14s\n' kernel 'train tok/s' 'epoch s' 'train cpu s' 'predict wall s' 'predict cpu s'
for kernel in reference fused; do
    printf '%-10s %12s %8s %12s %15s %14s\n' "$kernel" \
        "$(cut -d' ' -f2 "$WORK/train-$kernel" | median)" \
        "$(cut -d' ' -f1 "$WORK/train-$kernel" | median)" \
        "$(cut -d' ' -f3 "$WORK/train-$kernel" | median)" \
        "$(cut -d' ' -f1 "$WORK/predict-$kernel" | median)" \
        "$(cut -d' ' -f2 "$WORK/predict-$kernel" | median)"
done
echo "($REPEAT runs each, medians; $(nproc) cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
