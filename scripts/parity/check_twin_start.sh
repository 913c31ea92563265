#!/usr/bin/env bash
# Checks that the PyTorch training twin (scripts/parity/train_twin.py) starts where
# `lstm-sentiment train` starts, on labelled TSV files:
#
#   scripts/parity/check_twin_start.sh [FILE.tsv ...]   (default: the mr, zh-waimai,
#                                                         en-electronics and sst2 training files)
#
# - the tokenizer.json each builds from the file is the same, byte for byte;
# - with --pretrain-word2vec, every word's starting vector is the same (both take our binary's
#   word2vec); only [UNK], which word2vec has no vector for, starts from each one's own draw.
# Both hold out nothing (--dev-fraction 0, so both read the whole file) and train one epoch of a
# tiny network at a learning rate of 1e-9, which leaves the word vectors where they started to
# within 1e-6. Exits 1 on the first difference.
source "$(dirname "$0")/../common.sh"
make_work
need_bin
python_env "$root/scripts/parity/requirements.txt"
[ $# -gt 0 ] || set -- "$data"/{mr,zh-waimai,en-electronics,sst2}/train.tsv

tiny=(--dev-fraction 0 --epochs 1 --hidden 1 --max-length 1 --lr 1e-9)
for file in "$@"; do
  for side in ours twin; do
    args=(--train "$file" --out "$work/$side" "${tiny[@]}" --embedding-dim 8 --pretrain-word2vec)
    if [ $side = ours ]; then
      "$bin" train "${args[@]}" --no-checkpoint -q > /dev/null
    else
      BIN=$bin "$python" "$root/scripts/parity/train_twin.py" "${args[@]}" -q
    fi
  done
  if ! cmp -s "$work/ours/tokenizer.json" "$work/twin/tokenizer.json"; then
    echo "$file: the tokenizers differ (diff $work/ours/tokenizer.json $work/twin/tokenizer.json)" >&2
    exit 1
  fi
  "$python" - "$work/ours" "$work/twin" "$file" <<'EOF'
import sys
from safetensors.torch import load_file
ours, twin, name = sys.argv[1:]
a, b = (load_file(f"{d}/model.safetensors")["embedding.weight"] for d in (ours, twin))
apart = ((a - b).abs().max(dim=1).values >= 1e-6).nonzero().flatten().tolist()
if apart != [1]:
    sys.exit(f"{name}: starting word vectors differ at ids {apart[:10]} (expected only [UNK], id 1)")
print(f"{name}: same tokenizer ({a.shape[0]} ids), same starting vectors but [UNK]")
EOF
done
