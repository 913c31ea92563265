#!/usr/bin/env bash
# One training epoch on 2000 SST-2 sentences with candle's default threads and with one thread.
# The binary defaults to one thread; this shows why.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${DATA:-$root/../shared/data}"
bin="${BIN:-$root/target/release/lstm-sentiment}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -x "$bin" ] || (cd "$root" && cargo build --release)
head -n 2000 "$data/sst2/train.tsv" > "$work/train.tsv"
for threads in "$(nproc)" 1; do
  line=$(RAYON_NUM_THREADS=$threads CANDLE_NUM_THREADS=$threads "$bin" train --no-checkpoint -q \
    --train "$work/train.tsv" --dev "$data/sst2/dev.tsv" --out "$work/m" --epochs 1 | awk '$1 == 1')
  echo "threads $threads: epoch seconds $(echo "$line" | awk '{print $7}')"
done
