// The recurrent layer over every step in one launch: a persistent kernel (Diamos et al.,
// "Persistent RNNs", ICML 2016) for forward and one for backward, after recurrent.cu's cells.
//
// The grid is (unit groups, row chunks). Block (g, r) owns `per` consecutive hidden units and
// `rows` consecutive texts. It keeps its units' share of W_hh in shared memory for the whole
// sequence, so a step reads only the states the other blocks wrote, and computes everything of
// its (text, unit) pairs itself: the product with W_hh for its units' gates, the cell, the
// length masking. Texts never interact, so after a step only the blocks of one row chunk wait
// for each other (`chunk_barrier`), and the launch must be cooperative: every block resident at
// once, or the barrier would wait for a block that never runs.
//
// Layouts are recurrent.cu's; shared memory is one float array of the size `*_shared_floats`
// give, which persistent.rs computes the same way.

#ifndef BLOCK_SHARED
#define BLOCK_SHARED(name) extern __shared__ float name[]
#endif

// The shape of one launch. Passed by value; persistent.rs's `Geometry` has the same layout.
struct Geometry {
  int batch, hidden, time;
  // Units per block (blockIdx.x) and texts per block (blockIdx.y).
  int per, rows;
  // The product with W_hh runs over its length (forward hidden, backward gates * hidden) in
  // pieces of at most this many, so that a block's tile of its texts' states or gradients
  // need hold one piece.
  int piece;
};

// Rows of a (rows, len) matrix in shared memory are len + 1 floats apart, so that threads
// reading the same column of different rows fall in different banks.
__device__ __forceinline__ int padded(int len) { return len + 1; }

// Outputs per side of the tile a thread of `block_dots` keeps in registers.
#define TILE 4

// out[i * nr + r] = sum_k a[i * lda + k] b[r * ldb + k] for i < ni, r < nr, added to what out
// holds with `accumulate`. A thread sums a TILE x TILE tile of outputs, reading TILE rows of
// each side (a tile with fewer rows repeats its first one, and drops those sums); when there
// are fewer tiles than threads, `split` neighbouring lanes of a warp share a tile, each summing
// every split-th k, and add their sums across the warp. Every thread of the block runs every
// iteration, so that the whole warp takes part in each exchange. Ends with __syncthreads().
__device__ void block_dots(int ni, int nr, int len, const float *a, int lda, const float *b,
                           int ldb, float *out, bool accumulate) {
  const int threads = (int)blockDim.x, tid = (int)threadIdx.x;
  const int tiles_r = (nr + TILE - 1) / TILE, tiles = (ni + TILE - 1) / TILE * tiles_r;
  int split = 1;
  while (split < 32 && split < len && tiles * split < threads) split *= 2;
  for (int base = 0; base < tiles * split; base += threads) {
    const int s = base + tid, tile = s / split, lane = s % split;
    const bool valid = s < tiles * split;
    const int i0 = tile / tiles_r * TILE, r0 = tile % tiles_r * TILE;
    const int ti = ni - i0 < TILE ? ni - i0 : TILE, tr = nr - r0 < TILE ? nr - r0 : TILE;
    float sum[TILE][TILE];
    for (int p = 0; p < TILE; ++p)
      for (int q = 0; q < TILE; ++q) sum[p][q] = 0.0f;
    if (valid) {
      const float *x[TILE], *y[TILE];
      for (int p = 0; p < TILE; ++p) {
        x[p] = a + (i0 + (p < ti ? p : 0)) * lda;
        y[p] = b + (r0 + (p < tr ? p : 0)) * ldb;
      }
      for (int k = lane; k < len; k += split) {
        float xv[TILE], yv[TILE];
        for (int p = 0; p < TILE; ++p) {
          xv[p] = x[p][k];
          yv[p] = y[p][k];
        }
        for (int p = 0; p < TILE; ++p)
          for (int q = 0; q < TILE; ++q) sum[p][q] += xv[p] * yv[q];
      }
    }
    for (int p = 0; p < TILE; ++p)
      for (int q = 0; q < TILE; ++q)
        for (int step = split / 2; step > 0; step /= 2)
          sum[p][q] += __shfl_xor_sync(0xffffffffu, sum[p][q], step);
    if (valid && lane == 0)
      for (int p = 0; p < ti; ++p)
        for (int q = 0; q < tr; ++q) {
          float *o = out + (i0 + p) * nr + r0 + q;
          *o = accumulate ? *o + sum[p][q] : sum[p][q];
        }
  }
  __syncthreads();
}

// The blocks of one row chunk wait here until all of them have arrived `target / gridDim.x`
// times: what each wrote before is then visible to all. Thread 0 of each block counts in and
// spins on the chunk's counter (zero at launch), with fences on both sides as cooperative
// groups' grid sync does.
__device__ void chunk_barrier(unsigned int *arrived, unsigned int target) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    atomicAdd(arrived, 1u);
    while (*(volatile unsigned int *)arrived < target) {
    }
    __threadfence();
  }
  __syncthreads();
}

// The block's units [j0, j0 + units) and texts [b0, b0 + n).
struct Slice {
  int j0, units, b0, n;
};

__device__ __forceinline__ Slice block_slice(const Geometry &g) {
  Slice s;
  s.j0 = (int)blockIdx.x * g.per;
  s.units = g.hidden - s.j0 < g.per ? g.hidden - s.j0 : g.per;
  s.b0 = (int)blockIdx.y * g.rows;
  s.n = g.batch - s.b0 < g.rows ? g.batch - s.b0 : g.rows;
  return s;
}

// Forward's shared memory, in floats: the block's rows of W_hh, (gates * per, hidden); a piece
// of h_{t-1} of its texts, (rows, piece); their hidden side, (rows, gates * per).
__device__ __host__ inline int forward_shared_floats(int gates, int per, int rows, int hidden,
                                                   int piece) {
  return gates * per * (hidden + 1) + rows * (piece + 1) + rows * gates * per;
}

// Forward over every step:
//   gi (time, batch, gates * hidden)  x_t W_ih^T for every step
//   w_hh (gates * hidden, hidden), rows ldw floats apart; bias (2 * gates * hidden)
//   out (time, batch, hidden), cells (LSTM: time, batch, hidden) written
//   acts written at acts + t * acts_step: (batch, kept * hidden); acts_step 0 keeps one step
//   arrived (gridDim.y) counters, zero at launch
#define PERSISTENT_FORWARD_ARGS                                                              \
  Geometry g, const unsigned int *lengths, const float *gi, const float *w_hh, int ldw,      \
      const float *bias, float *out, float *cells, float *acts, int acts_step,              \
      unsigned int *arrived
#define PERSISTENT_FORWARD_CALL \
  g, lengths, gi, w_hh, ldw, bias, out, cells, acts, acts_step, arrived

template <class C>
__device__ void persistent_forward(PERSISTENT_FORWARD_ARGS) {
  BLOCK_SHARED(shared);
  const Slice s = block_slice(g);
  const int H = g.hidden, gw = C::gates * H, lw = C::gates * s.units, state = g.batch * H;
  const int tid = (int)threadIdx.x, threads = (int)blockDim.x;
  const bool lstm = C::gates == 4;
  // Local gate row q * units + u is W_hh's row q * hidden + j0 + u.
  float *w = shared, *hs = w + C::gates * g.per * padded(H), *gh = hs + g.rows * padded(g.piece);
  for (int e = tid; e < lw * H; e += threads) {
    int r = e / H, k = e % H, q = r / s.units, u = r % s.units;
    w[r * padded(H) + k] = w_hh[(q * H + s.j0 + u) * ldw + k];
  }
  __syncthreads();
  for (int t = 0; t < g.time; ++t) {
    const float *h_prev = t > 0 ? out + (t - 1) * state : out;
    // Every unit of the chunk's texts, written by the chunk's other blocks: read through L2.
    for (int k0 = 0; t > 0 && k0 < H; k0 += g.piece) {
      const int width = H - k0 < g.piece ? H - k0 : g.piece;
      for (int e = tid; e < s.n * width; e += threads) {
        int i = e / width, k = e % width;
        hs[i * padded(g.piece) + k] = __ldcg(h_prev + (s.b0 + i) * H + k0 + k);
      }
      __syncthreads();
      block_dots(s.n, lw, width, hs, padded(g.piece), w + k0, padded(H), gh, k0 > 0);
    }
    for (int e = tid; e < s.n * s.units; e += threads) {
      int i = e / s.units, u = e % s.units, b = s.b0 + i, j = s.j0 + u, k = b * H + j;
      float hp = t > 0 ? h_prev[k] : 0.0f;
      float cp = lstm && t > 0 ? cells[(t - 1) * state + k] : 0.0f;
      float h = hp, c = cp;
      if (t < (int)lengths[b]) {
        // At t = 0, h_{-1} W_hh^T is zero; `zero` stands in for it.
        const float zero[MAX_GATES] = {0.0f, 0.0f, 0.0f, 0.0f};
        const float *y = t > 0 ? gh + i * lw + u : zero;
        cell_forward<C>(H, j, gi + (t * g.batch + b) * gw, y, t > 0 ? s.units : 1, bias, hp,
                        cp, &h, &c, acts + t * acts_step + b * C::kept * H);
      }
      out[t * state + k] = h;
      if (lstm) cells[t * state + k] = c;
    }
    if (t + 1 < g.time) chunk_barrier(arrived + blockIdx.y, (t + 1) * gridDim.x);
  }
}

// Backward's shared memory, in floats: the block's columns of W_hh, (per, gates * hidden); a
// piece of the hidden side's gradients of its texts at one step, (rows, piece); their products
// with the columns, (rows, per).
__device__ __host__ inline int backward_shared_floats(int gates, int per, int rows, int hidden,
                                                    int piece) {
  return per * (gates * hidden + 1) + rows * (piece + 1) + rows * per;
}

// Backward over every step, last first:
//   acts, cells, out as forward left them (every step's)
//   d_out: with every_step, (time, batch, hidden), the gradient of every step's h; otherwise
//     unused, the final state's gradient having started dh
//   dh (batch, hidden): the gradient reaching the last step's h in, overwritten; dc (LSTM,
//     batch, hidden): zeros in, overwritten
//   d_gi, d_gh (time, batch, gates * hidden) written, d_gh for GRU only (the other cells'
//     hidden side is d_gi)
//   arrived (gridDim.y) counters, zero at launch
#define PERSISTENT_BACKWARD_ARGS                                                             \
  Geometry g, const unsigned int *lengths, const float *acts, const float *cells,            \
      const float *out, const float *d_out, int every_step, const float *w_hh, int ldw,     \
      float *dh, float *dc, float *d_gi, float *d_gh, unsigned int *arrived
#define PERSISTENT_BACKWARD_CALL \
  g, lengths, acts, cells, out, d_out, every_step, w_hh, ldw, dh, dc, d_gi, d_gh, arrived

template <class C>
__device__ void persistent_backward(PERSISTENT_BACKWARD_ARGS) {
  BLOCK_SHARED(shared);
  const Slice s = block_slice(g);
  const int H = g.hidden, gw = C::gates * H, state = g.batch * H;
  const int tid = (int)threadIdx.x, threads = (int)blockDim.x;
  const bool lstm = C::gates == 4, gru = C::gates == 3;
  // Column u of the block's units: W_hh's column j0 + u, gw long.
  float *wc = shared, *tile = wc + g.per * padded(gw), *sums = tile + g.rows * padded(g.piece);
  const float *d_hidden = gru ? d_gh : d_gi;
  for (int e = tid; e < s.units * gw; e += threads) {
    int u = e / gw, r = e % gw;
    wc[u * padded(gw) + r] = w_hh[r * ldw + s.j0 + u];
  }
  __syncthreads();
  for (int t = g.time - 1; t >= 0; --t) {
    for (int e = tid; e < s.n * s.units; e += threads) {
      int i = e / s.units, u = e % s.units, b = s.b0 + i, j = s.j0 + u, k = b * H + j;
      float d = dh[k] + (every_step ? d_out[t * state + k] : 0.0f);
      float dc_k = lstm ? dc[k] : 0.0f;
      int row = (t * g.batch + b) * gw;
      dh[k] = cell_backward<C>(t < (int)lengths[b], H, j, acts + (t * g.batch + b) * C::kept * H,
                               lstm && t > 0 ? cells[(t - 1) * state + k] : 0.0f,
                               gru && t > 0 ? out[(t - 1) * state + k] : 0.0f,
                               out[t * state + k], d, &dc_k, d_gi + row, d_gh + row, gru);
      if (lstm) dc[k] = dc_k;
    }
    if (t == 0) break;
    // dh += d_gh_t W_hh for the block's units, from every unit's gate gradients of its texts.
    chunk_barrier(arrived + blockIdx.y, (g.time - t) * gridDim.x);
    for (int k0 = 0; k0 < gw; k0 += g.piece) {
      const int width = gw - k0 < g.piece ? gw - k0 : g.piece;
      for (int e = tid; e < s.n * width; e += threads) {
        int i = e / width, r = e % width;
        tile[i * padded(g.piece) + r] = __ldcg(d_hidden + (t * g.batch + s.b0 + i) * gw + k0 + r);
      }
      __syncthreads();
      block_dots(s.n, s.units, width, tile, padded(g.piece), wc + k0, padded(gw), sums, k0 > 0);
    }
    for (int e = tid; e < s.n * s.units; e += threads) {
      int i = e / s.units, u = e % s.units, b = s.b0 + i;
      // A text past its length has zero gate gradients: its dh passes back as it is.
      if (t < (int)lengths[b]) dh[b * H + s.j0 + u] += sums[i * s.units + u];
    }
    __syncthreads();
  }
}

// The kernels run 512 threads per block (persistent.rs's THREADS); saying so caps their
// registers at what 512 threads of a multiprocessor can have, so that a block always fits.
#define PERSISTENT_THREADS 512

extern "C" __global__ void __launch_bounds__(PERSISTENT_THREADS)
    lstm_persistent_forward(PERSISTENT_FORWARD_ARGS) {
  persistent_forward<Lstm>(PERSISTENT_FORWARD_CALL);
}
extern "C" __global__ void __launch_bounds__(PERSISTENT_THREADS)
    gru_persistent_forward(PERSISTENT_FORWARD_ARGS) {
  persistent_forward<Gru>(PERSISTENT_FORWARD_CALL);
}
extern "C" __global__ void __launch_bounds__(PERSISTENT_THREADS)
    rnn_persistent_forward(PERSISTENT_FORWARD_ARGS) {
  persistent_forward<Rnn>(PERSISTENT_FORWARD_CALL);
}
extern "C" __global__ void __launch_bounds__(PERSISTENT_THREADS)
    lstm_persistent_backward(PERSISTENT_BACKWARD_ARGS) {
  persistent_backward<Lstm>(PERSISTENT_BACKWARD_CALL);
}
extern "C" __global__ void __launch_bounds__(PERSISTENT_THREADS)
    gru_persistent_backward(PERSISTENT_BACKWARD_ARGS) {
  persistent_backward<Gru>(PERSISTENT_BACKWARD_CALL);
}
extern "C" __global__ void __launch_bounds__(PERSISTENT_THREADS)
    rnn_persistent_backward(PERSISTENT_BACKWARD_ARGS) {
  persistent_backward<Rnn>(PERSISTENT_BACKWARD_CALL);
}
