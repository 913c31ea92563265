#!/usr/bin/env bash
# Times the fused recurrent kernel against the reference path (plain candle ops), with the same
# release binary: LSTM_SENTIMENT_KERNEL=reference turns the fused kernel off.
#
# For each kernel it trains one epoch on SST-2 and predicts 5000 lines, REPEAT times, and prints
# the median training tokens/s (as `train` reports it), epoch seconds, and predict wall and CPU
# seconds. The two kernels alternate, so load from other jobs on the machine hits both alike.
#
#   scripts/bench/kernel.sh                      # lstm, the training defaults
#   REPEAT=7 scripts/bench/kernel.sh --cell gru --bidirectional --layers 2
#
# Extra arguments go to `train`. Needs $DATA/sst2 (default ../shared/data/sst2). Builds the
# release binary first, so the figures are those of the code in the working tree.
source "$(dirname "$0")/../common.sh"
REPEAT=${REPEAT:-5}
sst2="$data/sst2"
make_work

(cd "$root" && cargo build --release --quiet)
# One thread for both kernels, so that the figures compare kernels, not thread counts.
export RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1
head -n 5000 "$sst2/train.tsv" | cut -f2 >"$work/predict.txt"

for i in $(seq "$REPEAT"); do
    for kernel in reference fused; do
        # `train` reports "epoch 1: ... | 2.3 s, 67133 tok/s" on stderr; CPU seconds of the whole
        # command (tokenizing and dev evaluation included) are less sensitive to other jobs.
        /usr/bin/time -f '%U %S' -o "$work/time" env LSTM_SENTIMENT_KERNEL=$kernel \
            "$bin" train --train "$sst2/train.tsv" --dev "$sst2/dev.tsv" \
            --out "$work/model-$kernel" --epochs 1 "$@" 2>&1 >/dev/null |
            sed -n 's/^epoch 1: .*| \([0-9.]*\) s, \([0-9]*\) tok\/s.*/\1 \2/p' | tr '\n' ' ' >>"$work/train-$kernel"
        awk '{print $1 + $2}' "$work/time" >>"$work/train-$kernel"
        # Predict with the model this kernel trained: wall and CPU (user + system) seconds.
        /usr/bin/time -f '%e %U %S' -o "$work/time" env LSTM_SENTIMENT_KERNEL=$kernel \
            "$bin" predict --model "$work/model-$kernel" --input "$work/predict.txt" >/dev/null
        awk '{print $1, $2 + $3}' "$work/time" >>"$work/predict-$kernel"
    done
done

printf '%-10s %12s %8s %12s %15s %14s\n' kernel 'train tok/s' 'epoch s' 'train cpu s' 'predict wall s' 'predict cpu s'
for kernel in reference fused; do
    printf '%-10s %12s %8s %12s %15s %14s\n' "$kernel" \
        "$(cut -d' ' -f2 "$work/train-$kernel" | median)" \
        "$(cut -d' ' -f1 "$work/train-$kernel" | median)" \
        "$(cut -d' ' -f3 "$work/train-$kernel" | median)" \
        "$(cut -d' ' -f1 "$work/predict-$kernel" | median)" \
        "$(cut -d' ' -f2 "$work/predict-$kernel" | median)"
done
echo "($REPEAT runs each, medians; $(nproc) cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
