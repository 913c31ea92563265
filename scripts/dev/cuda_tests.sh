#!/usr/bin/env bash
# The CUDA tests on a GPU machine without a Rust toolchain: `pack` (here, after
# scripts/dev/build_cuda.sh) puts the test binaries that build made, stripped and
# xz-compressed (about 20 MB each), into DIR; `run` (there, from the repository root) unpacks
# them and runs the CUDA tests against the CUDA libraries of that machine's Python packages
# (NVIDIA's nvidia-* wheels, as PyTorch installs them), or those of CUDA_LIBS (a PATH-like list
# of folders) where set.
#
#   scripts/dev/cuda_tests.sh pack target-cuda/packed
#   scripts/dev/cuda_tests.sh run target-cuda/packed
#
# DIR must be a folder git ignores (target-cuda/ is), carried to the GPU machine. The CLI's test
# (cuda::cli_predicts_on_the_gpu) runs the binary at the path it was built at, which is not
# packed, so `run` skips it. The binaries need the driver's CUDA version to be at least the one
# they were built with (build_cuda.sh's CUDA_VERSION).
source "$(dirname "$0")/../common.sh"
cd "$root"
what=${1:-}
dir=${2:?usage: scripts/dev/cuda_tests.sh pack|run DIR}

# The newest test binary of target-cuda/release/deps whose name starts with $1. The CLI is
# built there too as lstm_sentiment-HASH, linked to target-cuda/release/lstm-sentiment.
newest() {
  find target-cuda/release/deps -maxdepth 1 -type f -perm -u+x -name "$1-*" \
    ! -samefile target-cuda/release/lstm-sentiment -printf '%T@ %p\n' \
    | sort -n | tail -1 | cut -d' ' -f2-
}

case $what in
  pack)
    mkdir -p "$dir"
    for name in integration lstm_sentiment; do
      bin=$(newest "$name")
      [ -n "$bin" ] || { echo "cuda_tests: no $name test binary; run build_cuda.sh" >&2; exit 1; }
      strip -o "$dir/$name" "$bin"
      xz -T1 -6 -f "$dir/$name"
    done
    du -ch "$dir"/*.xz | tail -1
    ;;
  run)
    if [ -z "${CUDA_LIBS:-}" ]; then
      nvidia=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])')
      CUDA_LIBS=$(find "$nvidia" -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd:)
    fi
    export LD_LIBRARY_PATH="$CUDA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    for name in integration lstm_sentiment; do xz -dkf "$dir/$name.xz"; done
    status=0
    "$dir/lstm_sentiment" encoder::cuda || status=1
    "$dir/integration" cuda:: --skip cuda::cli_predicts_on_the_gpu || status=1
    exit $status
    ;;
  *)
    echo "usage: scripts/dev/cuda_tests.sh pack|run DIR" >&2
    exit 2
    ;;
esac
