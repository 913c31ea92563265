#!/usr/bin/env bash
# The allocator settings: benches/throughput.rs as the CLI runs (glibc's malloc told to keep freed
# memory, src/malloc.rs) and with glibc's defaults (--malloc-defaults), run alternately RUNS
# times; medians of training tokens/s (batches of 64 synthetic texts of 40 and of 268 tokens),
# prediction texts/s (batches of 256 texts of 20 tokens) and each run's peak RSS in MB.
# Synthetic data only: nothing from ../shared.
#
#   THREADS=2 RUNS=5 scripts/bench/allocator.sh
source "$(dirname "$0")/../common.sh"
threads="${THREADS:-$(nproc)}"
runs="${RUNS:-5}"
cd "$root"
make_work
bench="$(cargo bench --bench throughput --no-run 2>&1 |
  sed -n 's/.*Executable benches\/throughput.rs (\(.*\))/\1/p')"
"$bench" train --texts 1024 --length 40 --save "$work/model" >/dev/null
field() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }
for run in $(seq "$runs"); do
  for name in kept defaults; do
    flags=(--threads "$threads")
    [ "$name" = defaults ] && flags+=(--malloc-defaults)
    line=$("$bench" train "${flags[@]}" --texts 1024 --length 40)
    echo "$line" | field tokens_per_second >> "$work/$name.train40"
    echo "$line" | field peak_rss_mb >> "$work/$name.rss40"
    line=$("$bench" train "${flags[@]}" --texts 256 --length 268)
    echo "$line" | field tokens_per_second >> "$work/$name.train268"
    echo "$line" | field peak_rss_mb >> "$work/$name.rss268"
    line=$("$bench" predict "${flags[@]}" --model "$work/model" --texts 2048 --length 20)
    echo "$line" | field texts_per_second >> "$work/$name.predict"
    echo "$line" | field peak_rss_mb >> "$work/$name.rss_predict"
  done
done
echo "threads $threads, medians of $runs alternating runs"
printf '%-9s %15s %15s %15s %9s %9s %9s\n' malloc "train 40 tok/s" "train 268 tok/s" \
  "predict texts/s" "RSS 40" "RSS 268" "RSS pred"
for name in kept defaults; do
  printf '%-9s %15.0f %15.0f %15.0f %9.0f %9.0f %9.0f\n' "$name" \
    "$(median < "$work/$name.train40")" "$(median < "$work/$name.train268")" \
    "$(median < "$work/$name.predict")" "$(median < "$work/$name.rss40")" \
    "$(median < "$work/$name.rss268")" "$(median < "$work/$name.rss_predict")"
done
