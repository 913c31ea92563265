#!/usr/bin/env bash
# Rebuilds the built-in Chinese encoder, which `train` starts from when its texts are Chinese
# (`--init auto`; docs/training.md). A bidirectional LSTM language model (word vectors 128,
# hidden 128, one layer; `pretrain`'s other defaults) pretrained for 3 epochs on the texts of
# zh-shopping's training file and of zh-waimai's training file less the experiment runner's
# dev part, so that the runner's dev scores are of texts it never read. No test file is read.
# One thread, so that the run follows from its seed alone.
#
#   scripts/model/build_zh_encoder.sh [OUT_DIR]     (default: assets/zh-encoder)
#
# Then `cargo build` compiles the new files in.
source "$(dirname "$0")/../common.sh"
out="${1:-$root/assets/zh-encoder}"
need_bin

# The runner's split of zh-waimai (target/experiments/splits/zh-waimai/fit.tsv).
DATA="$data" python3 -c "import sys; sys.path.insert(0, '$root/scripts/experiments'); \
import run; run.files_for('zh-waimai', 'dev')"
"$bin" pretrain --input "$data/zh-shopping/train.tsv" \
  "$root/target/experiments/splits/zh-waimai/fit.tsv" \
  --out "$out" --bidirectional --epochs 3 --threads 1
