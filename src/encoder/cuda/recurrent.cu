// The recurrent layer's elementwise work on the GPU: one step of each cell, forward and
// backward. The matrix products around each step are cuBLAS's (gemm.rs).
//
// The arithmetic is the CPU kernel's (cells.rs) in PyTorch's gate order. Layouts are row-major:
// a step's gates (batch, gates * hidden), its states (batch, hidden), the activations kept for
// backward (batch, kept * hidden). One thread per (text, unit). A text past its length carries
// its state unchanged and gets zero gate gradients, so the last step holds every text's final
// state and backward passes the gradient of a carried state straight back.
//
// Every cell's forward step takes the same arguments, and so does every backward step, so that
// one launch serves all three cells; each ignores what it has no use for (c for GRU and RNN,
// the activations for RNN).
//
// Apart from __global__, __device__ and the thread indices this is plain C++:
// scripts/dev/check_cuda_kernels.sh compiles it with g++ through a shim header and checks its
// arithmetic on the CPU.

__device__ __forceinline__ float sigmoid_of(float x) { return 1.0f / (1.0f + expf(-x)); }

// This thread's (text, unit) as one index into (batch, hidden); false past the end.
__device__ __forceinline__ bool unit(int batch, int hidden, int* k) {
  *k = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  return *k < batch * hidden;
}

// Forward, at step t of every text:
//   gi (batch, gates * hidden)  x_t W_ih^T
//   gh (batch, gates * hidden)  h_{t-1} W_hh^T (zeros at t = 0)
//   bias (2 * gates * hidden)   b_ih then b_hh
//   h_prev, c_prev (batch, hidden), zeros at t = 0; h, c (batch, hidden) written
//   acts (batch, kept * hidden) written: LSTM i, f, g, o, tanh(c); GRU r, z, n, W_hn h + b_hn
#define FORWARD_ARGS                                                                          \
  int batch, int hidden, int t, const unsigned int *lengths, const float *gi, const float *gh, \
      const float *bias, const float *h_prev, const float *c_prev, float *h, float *c,        \
      float *acts

extern "C" __global__ void lstm_forward(FORWARD_ARGS) {
  int k;
  if (!unit(batch, hidden, &k)) return;
  int b = k / hidden, j = k % hidden;
  if (t >= (int)lengths[b]) {
    h[k] = h_prev[k];
    c[k] = c_prev[k];
    return;
  }
  const int gw = 4 * hidden;
  const float *x = gi + b * gw, *y = gh + b * gw, *b_hh = bias + gw;
  float pre[4];
  for (int q = 0; q < 4; ++q) {
    int m = q * hidden + j;
    pre[q] = x[m] + y[m] + (bias[m] + b_hh[m]);
  }
  float i = sigmoid_of(pre[0]), f = sigmoid_of(pre[1]);
  float g = tanhf(pre[2]), o = sigmoid_of(pre[3]);
  float c_t = f * c_prev[k] + i * g;
  float tanh_c = tanhf(c_t);
  c[k] = c_t;
  h[k] = o * tanh_c;
  float *a = acts + b * 5 * hidden + j;
  a[0] = i;
  a[hidden] = f;
  a[2 * hidden] = g;
  a[3 * hidden] = o;
  a[4 * hidden] = tanh_c;
}

// n = tanh(gi_n + b_in + r (gh_n + b_hn)), h = (1 - z) n + z h_prev: b_hn sits inside r * (...).
extern "C" __global__ void gru_forward(FORWARD_ARGS) {
  int k;
  if (!unit(batch, hidden, &k)) return;
  int b = k / hidden, j = k % hidden;
  if (t >= (int)lengths[b]) {
    h[k] = h_prev[k];
    return;
  }
  const int gw = 3 * hidden;
  const float *x = gi + b * gw, *y = gh + b * gw, *b_hh = bias + gw;
  int zj = hidden + j, nj = 2 * hidden + j;
  float r = sigmoid_of(x[j] + y[j] + (bias[j] + b_hh[j]));
  float z = sigmoid_of(x[zj] + y[zj] + (bias[zj] + b_hh[zj]));
  float hn = y[nj] + b_hh[nj];
  float n = tanhf(x[nj] + bias[nj] + r * hn);
  h[k] = n + z * (h_prev[k] - n);
  float *a = acts + b * 4 * hidden + j;
  a[0] = r;
  a[hidden] = z;
  a[2 * hidden] = n;
  a[3 * hidden] = hn;
}

extern "C" __global__ void rnn_forward(FORWARD_ARGS) {
  int k;
  if (!unit(batch, hidden, &k)) return;
  int b = k / hidden, j = k % hidden;
  if (t >= (int)lengths[b]) {
    h[k] = h_prev[k];
    return;
  }
  h[k] = tanhf(gi[b * hidden + j] + gh[b * hidden + j] + (bias[j] + bias[hidden + j]));
}

// Backward, at step t (last step first):
//   acts (batch, kept * hidden) as forward wrote them at step t
//   c_prev (LSTM), h_prev (GRU) at step t - 1 (zeros at t = 0); h (RNN) at step t
//   d_out (batch, hidden): the gradient of this step's output
//   dh (batch, hidden): in, the gradient reaching h_t from later steps; out, the part that
//     reaches h_{t-1} without passing through W_hh (the caller then adds d_gh W_hh)
//   dc (batch, hidden), LSTM: the gradient reaching c_t in, c_{t-1} out
//   d_gi, d_gh (batch, gates * hidden) written: the gradients of the gates' input and hidden
//     sides. They differ only for GRU (W_hn h sits inside r * (...)); the other cells write
//     d_gi alone, which serves as both.
#define BACKWARD_ARGS                                                                         \
  int batch, int hidden, int t, const unsigned int *lengths, const float *acts,               \
      const float *c_prev, const float *h_prev, const float *h, const float *d_out,           \
      float *dh, float *dc, float *d_gi, float *d_gh

// A text past its length: no gate gradients, its dh (and dc) pass back unchanged.
__device__ __forceinline__ void carried(float *d_gates, int gates, int hidden, float *dh,
                                        float d) {
  for (int q = 0; q < gates; ++q) d_gates[q * hidden] = 0.0f;
  *dh = d;
}

extern "C" __global__ void lstm_backward(BACKWARD_ARGS) {
  int k;
  if (!unit(batch, hidden, &k)) return;
  int b = k / hidden, j = k % hidden;
  float d = dh[k] + d_out[k];
  float *dg = d_gi + b * 4 * hidden + j;
  if (t >= (int)lengths[b]) {
    carried(dg, 4, hidden, &dh[k], d);
    return;
  }
  const float *a = acts + b * 5 * hidden + j;
  float i = a[0], f = a[hidden], g = a[2 * hidden], o = a[3 * hidden], tanh_c = a[4 * hidden];
  float dc_t = dc[k] + d * o * (1.0f - tanh_c * tanh_c);
  dg[0] = dc_t * g * i * (1.0f - i);
  dg[hidden] = dc_t * c_prev[k] * f * (1.0f - f);
  dg[2 * hidden] = dc_t * i * (1.0f - g * g);
  dg[3 * hidden] = d * tanh_c * o * (1.0f - o);
  dc[k] = dc_t * f;
  dh[k] = 0.0f;
}

extern "C" __global__ void gru_backward(BACKWARD_ARGS) {
  int k;
  if (!unit(batch, hidden, &k)) return;
  int b = k / hidden, j = k % hidden;
  float d = dh[k] + d_out[k];
  float *dx = d_gi + b * 3 * hidden + j, *dy = d_gh + b * 3 * hidden + j;
  if (t >= (int)lengths[b]) {
    carried(dy, 3, hidden, &dh[k], d);
    carried(dx, 3, hidden, &dh[k], d);
    return;
  }
  const float *a = acts + b * 4 * hidden + j;
  float r = a[0], z = a[hidden], n = a[2 * hidden], hn = a[3 * hidden];
  float dn = d * (1.0f - z) * (1.0f - n * n);
  float dr = dn * hn * r * (1.0f - r);
  float dz = d * (h_prev[k] - n) * z * (1.0f - z);
  dx[0] = dr;
  dx[hidden] = dz;
  dx[2 * hidden] = dn;
  dy[0] = dr;
  dy[hidden] = dz;
  dy[2 * hidden] = dn * r;
  dh[k] = d * z;
}

extern "C" __global__ void rnn_backward(BACKWARD_ARGS) {
  int k;
  if (!unit(batch, hidden, &k)) return;
  int b = k / hidden, j = k % hidden;
  float d = dh[k] + d_out[k];
  float *dg = d_gi + b * hidden + j;
  if (t >= (int)lengths[b]) {
    carried(dg, 1, hidden, &dh[k], d);
    return;
  }
  *dg = d * (1.0f - h[k] * h[k]);
  dh[k] = 0.0f;
}
