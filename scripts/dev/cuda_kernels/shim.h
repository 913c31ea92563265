// Compiles the CUDA kernels (src/**/*.cu) as plain C++ (check_cuda_kernels.sh): CUDA's
// qualifiers become nothing or `inline`, and the thread indices become thread-local globals.
//
// `launch` runs a grid one thread at a time, which is faithful for kernels that share no memory
// between threads, never synchronize, and whose threads each write only their own elements.
// `launch_cooperative` runs every thread of a grid as a thread of its own, all at once, as a
// cooperative launch does: __syncthreads() waits for the block, shared memory is one buffer per
// block of exactly the size asked for (so that the address sanitizer sees a kernel read past
// it), and atomics and fences are the compiler's.
#pragma once
#include <math.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
static thread_local Dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(threads)

// Runs `kernel` (a call of a __global__ function) as CUDA would with enough blocks of `block`
// threads for n threads, as the Rust side launches it.
template <class Kernel>
void launch(int n, unsigned block, Kernel kernel) {
  blockDim.x = block;
  gridDim.x = (n + block - 1) / block;
  for (blockIdx.x = 0; blockIdx.x * block < (unsigned)n; ++blockIdx.x)
    for (threadIdx.x = 0; threadIdx.x < block; ++threadIdx.x) kernel();
}

// The threads of one block waiting for each other.
class BlockBarrier {
 public:
  explicit BlockBarrier(unsigned size) : size_(size) {}
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    unsigned generation = generation_;
    if (++waiting_ == size_) {
      waiting_ = 0;
      ++generation_;
      all_here_.notify_all();
    } else {
      all_here_.wait(lock, [&] { return generation_ != generation; });
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_here_;
  unsigned size_, waiting_ = 0, generation_ = 0;
};

// A warp's lanes trading values: each puts its own in, all wait, each takes its partner's, all
// wait again before the next trade.
struct Warp {
  explicit Warp(unsigned lanes) : barrier(lanes) {}
  BlockBarrier barrier;
  float values[32];
};

static thread_local BlockBarrier *shim_block_barrier = nullptr;
static thread_local Warp *shim_warp = nullptr;
static thread_local float *shim_block_shared = nullptr;

inline void __syncthreads() {
  if (shim_block_barrier) shim_block_barrier->wait();
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned *p, unsigned v) {
  return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
#define __ldcg(p) (*(p))
inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask) {
  unsigned lane = threadIdx.x % 32;
  shim_warp->values[lane] = v;
  shim_warp->barrier.wait();
  float theirs = shim_warp->values[lane ^ lane_mask];
  shim_warp->barrier.wait();
  return theirs;
}
#define BLOCK_SHARED(name) float *name = shim_block_shared

// Runs `kernel` on a (grid.x, grid.y) grid of `block` threads each, every thread at once, with
// `shared_floats` floats of shared memory per block (NaN at the start, as a kernel must not
// read what it has not written). `block` must be a multiple of 32, as warps are whole.
template <class Kernel>
void launch_cooperative(Dim3 grid, unsigned block, size_t shared_floats, Kernel kernel) {
  const size_t blocks = (size_t)grid.x * grid.y;
  std::vector<std::unique_ptr<BlockBarrier>> barriers;
  std::vector<std::unique_ptr<float[]>> shared;
  std::vector<std::unique_ptr<Warp>> warps;
  std::vector<std::thread> threads;
  for (size_t b = 0; b < blocks; ++b) {
    barriers.emplace_back(new BlockBarrier(block));
    for (unsigned w = 0; w < block / 32; ++w) warps.emplace_back(new Warp(32));
    shared.emplace_back(new float[shared_floats]);
    for (size_t i = 0; i < shared_floats; ++i) shared.back()[i] = NAN;
  }
  for (unsigned by = 0; by < grid.y; ++by)
    for (unsigned bx = 0; bx < grid.x; ++bx)
      for (unsigned tx = 0; tx < block; ++tx) {
        size_t b = (size_t)by * grid.x + bx;
        BlockBarrier *barrier = barriers[b].get();
        float *mem = shared[b].get();
        Warp *warp = warps[b * (block / 32) + tx / 32].get();
        threads.emplace_back([=] {
          blockIdx = Dim3{bx, by, 0};
          threadIdx = Dim3{tx, 0, 0};
          blockDim = Dim3{block, 1, 1};
          gridDim = grid;
          shim_block_barrier = barrier;
          shim_block_shared = mem;
          shim_warp = warp;
          kernel();
        });
      }
  for (std::thread &t : threads) t.join();
}
