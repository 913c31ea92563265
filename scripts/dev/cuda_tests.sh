#!/usr/bin/env bash
# The CUDA tests and the GPU benchmark on a GPU machine without a Rust toolchain: `pack` (here,
# after scripts/dev/build_cuda.sh) puts the test binaries and the throughput bench that build
# made, stripped and xz-compressed into one archive (about 26 MB), into DIR; `run` (there, from the
# repository root) unpacks them and runs the CUDA tests once with each way of running the
# recurrence (LSTM_SENTIMENT_CUDA_RECURRENCE=steps, then persistent; docs/gpu.md), each under a
# time limit so that a kernel that never returns costs minutes, not the session; and `bench`
# scripts/bench/gpu.py with
# the bench, against the CUDA libraries of that machine's Python packages (NVIDIA's nvidia-*
# wheels, as PyTorch installs them), or those of CUDA_LIBS (a PATH-like list of folders) where
# set. `bench` passes what follows DIR on to gpu.py.
#
#   scripts/dev/cuda_tests.sh pack target-cuda/packed
#   scripts/dev/cuda_tests.sh run target-cuda/packed
#   scripts/dev/cuda_tests.sh bench target-cuda/packed --runs 3
#
# DIR must be a folder git ignores (target-cuda/ is), carried to the GPU machine. The CLI's test
# (cuda::cli_predicts_on_the_gpu) runs the binary at the path it was built at, which is not
# packed, so `run` skips it. The binaries need the driver's CUDA version to be at least the one
# they were built with (build_cuda.sh's CUDA_VERSION).
source "$(dirname "$0")/../common.sh"
cd "$root"
what=${1:-}
dir=${2:?usage: scripts/dev/cuda_tests.sh pack|run|bench DIR}

# The newest test binary of target-cuda/release/deps whose name starts with $1. The CLI is
# built there too as lstm_sentiment-HASH, linked to target-cuda/release/lstm-sentiment.
newest() {
  find target-cuda/release/deps -maxdepth 1 -type f -perm -u+x -name "$1-*" \
    ! -samefile target-cuda/release/lstm-sentiment -printf '%T@ %p\n' \
    | sort -n | tail -1 | cut -d' ' -f2-
}

# LD_LIBRARY_PATH with the CUDA libraries, for the unpacked binaries.
cuda_libs() {
  if [ -z "${CUDA_LIBS:-}" ]; then
    nvidia=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])')
    CUDA_LIBS=$(find "$nvidia" -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd:)
  fi
  export LD_LIBRARY_PATH="$CUDA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# The packed binaries, into DIR.
unpack() {
  [ -x "$dir/throughput" ] || xz -dc "$dir/bins.tar.xz" | tar -C "$dir" -x
}

case $what in
  pack)
    mkdir -p "$dir/bin"
    for name in integration lstm_sentiment throughput; do
      bin=$(newest "$name")
      [ -n "$bin" ] || { echo "cuda_tests: no $name binary; run build_cuda.sh" >&2; exit 1; }
      strip -o "$dir/bin/$name" "$bin" && chmod +x "$dir/bin/$name"
    done
    # One archive with a dictionary larger than a binary: the three share the library and
    # candle's kernels, so each after the first costs little (about 26 MB in all, not 67).
    tar -C "$dir/bin" -c integration lstm_sentiment throughput \
      | xz -T1 --lzma2=preset=6,dict=256MiB > "$dir/bins.tar.xz"
    rm -r "$dir/bin"
    du -h "$dir/bins.tar.xz"
    ;;
  run)
    cuda_libs
    unpack
    status=0
    for way in steps persistent; do
      echo "== recurrence: $way"
      export LSTM_SENTIMENT_CUDA_RECURRENCE=$way
      timeout 300 "$dir/lstm_sentiment" cuda || status=1
      timeout 300 "$dir/integration" cuda:: --skip cuda::cli_predicts_on_the_gpu || status=1
    done
    exit $status
    ;;
  bench)
    cuda_libs
    unpack
    python3 scripts/bench/gpu.py --bench-bin "$dir/throughput" "${@:3}"
    ;;
  *)
    echo "usage: scripts/dev/cuda_tests.sh pack|run|bench DIR" >&2
    exit 2
    ;;
esac
