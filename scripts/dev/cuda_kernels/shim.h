// Compiles src/encoder/cuda/recurrent.cu as plain C++ (check_cuda_kernels.sh): CUDA's
// qualifiers become nothing or `inline`, and the thread indices become globals that `launch`
// steps through. Running a grid one thread at a time is faithful for these kernels: they share
// no memory between threads and never synchronize, and each thread writes only its own
// elements.
#pragma once
#include <math.h>

struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
static Dim3 threadIdx, blockIdx, blockDim;

#define __global__
#define __device__
#define __forceinline__ inline

// Runs `kernel` (a call of a __global__ function) as CUDA would with enough blocks of `block`
// threads for n threads, as the Rust side launches it.
template <class Kernel>
void launch(int n, unsigned block, Kernel kernel) {
  blockDim.x = block;
  for (blockIdx.x = 0; blockIdx.x * block < (unsigned)n; ++blockIdx.x)
    for (threadIdx.x = 0; threadIdx.x < block; ++threadIdx.x) kernel();
}
