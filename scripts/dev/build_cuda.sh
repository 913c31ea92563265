#!/usr/bin/env bash
# Builds the `cuda` feature on a machine without a CUDA toolkit or a GPU, from NVIDIA's PyPI
# wheels, for running elsewhere (docs/gpu.md).
#
#   scripts/dev/build_cuda.sh [TOOLKIT_DIR]      # default TOOLKIT_DIR: ../cuda-toolkit
#
# Builds target-cuda/release/lstm-sentiment, the CUDA tests (integration and unit) and the
# throughput bench (release); scripts/dev/cuda_tests.sh packs the tests for a GPU machine.
# With a CUDA toolkit installed (nvcc on PATH) and a GPU, plain
# `cargo build --release --features cuda` does the same.
#
# CUDA_VERSION (default 13.0) must not be newer than the driver where the binary runs: candle's
# kernels are PTX, which a driver only loads from a toolkit of its own CUDA version or older.
# CUDA_COMPUTE_CAP (default 90, Hopper) is what nvidia-smi would report on that GPU.
# pip downloads the wheels through $PYTHON (default python3); nothing is installed into it.
source "$(dirname "$0")/../common.sh"
cd "$root"
tk=$(realpath -m "${1:-../cuda-toolkit}")
version=${CUDA_VERSION:-13.0}
python_env

if [ ! -x "$tk/home/bin/nvcc" ]; then
  mkdir -p "$tk/wheels" "$tk/home"
  # nvcc with its front end (crt, nvvm), the runtime headers, and the libraries cudarc links.
  "$python" -m pip download --quiet --no-deps -d "$tk/wheels" \
    "nvidia-cuda-nvcc==$version.*" "nvidia-cuda-crt==$version.*" "nvidia-nvvm==$version.*" \
    "nvidia-cuda-runtime==$version.*" "nvidia-cuda-cccl==$version.*" \
    "nvidia-cublas==$version.*" "nvidia-cuda-nvrtc==$version.*" "nvidia-curand"
  for w in "$tk"/wheels/*.whl; do unzip -q -o "$w" -d "$tk/unpacked"; done
  cp -r "$tk"/unpacked/nvidia/cu*/. "$tk/home/"
  ln -sfn lib "$tk/home/lib64"
  (cd "$tk/home/lib" && for l in cublas cublasLt nvrtc curand cudart; do
     ln -sf "$(ls lib$l.so.* | head -1)" "lib$l.so"; done)
fi

if [ ! -e "$tk/home/lib/libcuda.so" ]; then
  # cudarc links libcuda, which only a driver installs. A stand-in with the same symbols
  # satisfies the linker; the real driver is loaded when the program runs. cudarc's source
  # is unpacked by the first build that needs it, so it is fetched here first.
  cargo fetch --quiet
  cudarc=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-* | sort -V | tail -1)
  grep -oE "pub (unsafe )?fn cu[A-Za-z0-9_]+" "$cudarc/src/driver/sys/mod.rs" | sed -E 's/.*fn //' \
    | sort -u | sed 's/.*/int &(void) { return 999; }/' > "$tk/cuda_stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$tk/home/lib/libcuda.so" "$tk/cuda_stub.c"
fi

export CUDA_HOME="$tk/home" PATH="$tk/home/bin:$PATH" LIBRARY_PATH="$tk/home/lib"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR="$root/target-cuda"
cargo build --release --features cuda --bin lstm-sentiment
cargo test --release --features cuda --test integration --no-run
cargo test --release --features cuda --lib --no-run
cargo bench --features cuda --bench throughput --no-run
