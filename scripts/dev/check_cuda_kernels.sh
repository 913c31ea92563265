#!/usr/bin/env bash
# Checks the arithmetic of the CUDA path's kernels on the CPU, with g++ alone: no CUDA toolkit,
# no GPU. Both programs compile a .cu as C++ through scripts/dev/cuda_kernels/shim.h.
# scripts/dev/cuda_kernels/check.cpp: src/encoder/cuda/recurrent.cu, one step of each cell and a
# whole layer run as the Rust side runs it, against PyTorch's equations in double precision
# (gradients by central differences). scripts/dev/cuda_kernels/dropout.cpp: src/dropout/mask.cu,
# the dropout masks, against the Rust generator's stream. scripts/dev/cuda_kernels/adamw.cpp:
# src/optim/adamw.cu, the AdamW steps of dense parameters and of a table's rows kept on a GPU,
# against the host's formula. Prints each failed check and a summary; exits 1 on a failure.
#
#   scripts/dev/check_cuda_kernels.sh
#
# Each cell's kernels ignore some of the arguments all of them take, hence
# -Wno-unused-parameter. Address and undefined-behaviour sanitizers are on where g++ has them,
# so that a kernel that reads or writes past its rows fails too.
source "$(dirname "$0")/../common.sh"
make_work
here="$root/scripts/dev/cuda_kernels"
flags=(-std=c++17 -pthread -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter -include "$here/shim.h"
       -I "$root/src/encoder/cuda" -I "$here")
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=all)
if echo 'int main() {}' | g++ -x c++ "${sanitize[@]}" -o "$work/probe" - 2>/dev/null; then
  flags+=("${sanitize[@]}")
fi
g++ "${flags[@]}" -o "$work/check" "$here/check.cpp"
"$work/check"
g++ "${flags[@]}" -I "$root/src/dropout" -o "$work/dropout" "$here/dropout.cpp"
"$work/dropout"
g++ "${flags[@]}" -I "$root/src/optim" -o "$work/adamw" "$here/adamw.cpp"
"$work/adamw"
