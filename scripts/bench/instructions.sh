#!/usr/bin/env bash
# Instructions executed (valgrind's callgrind) by the same commands under two builds: a speed
# comparison that a busy machine does not blur. Valgrind reports no AVX-512, so the kernels take
# their AVX2 path here; time the AVX-512 path with the throughput bench on a quiet machine.
#
#   scripts/bench/instructions.sh OLD_BINARY NEW_BINARY     # needs valgrind and $DATA/sst2
source "$(dirname "$0")/../common.sh"
[ $# -eq 2 ] || { sed -n '2,6s/^# \{0,1\}//p' "$0" >&2; exit 2; }
make_work
head -2000 "$data/sst2/train.tsv" > "$work/train.tsv"
head -300 "$data/sst2/dev.tsv" > "$work/dev.tsv"
cut -f2 "$data/sst2/test.tsv" > "$work/texts.txt"
count() { # the instructions of one command line, from callgrind's summary
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
printf '%-34s %16s %16s %8s\n' workload old new new/old
while IFS='|' read -r name args; do
  read -ra argv <<<"${args//WORK/$work}"
  old=$(count "$1" "${argv[@]}")
  new=$(count "$2" "${argv[@]}")
  printf '%-34s %16d %16d %8.4f\n' "$name" "$old" "$new" "$(echo "$new / $old" | bc -l)"
done <<'LIST'
train, 1 epoch, 2000 sentences|train -q --threads 1 --no-checkpoint --epochs 1 --train WORK/train.tsv --dev WORK/dev.tsv --out WORK/m
predict, built-in, 1821 sentences|predict --threads 1 --input WORK/texts.txt
predict, trained model|predict --threads 1 --model WORK/m --input WORK/texts.txt
LIST
