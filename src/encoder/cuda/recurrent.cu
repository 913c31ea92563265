// The recurrent layer's elementwise work on the GPU: each cell's arithmetic for one (text, unit)
// at one step, forward and backward, and the step kernels that apply it to a whole batch. The
// matrix products around each step are cuBLAS's (gemm.rs); persistent.cu runs the same cells
// over every step in one launch.
//
// The arithmetic is the CPU kernel's (cells.rs) in PyTorch's gate order. Layouts are row-major:
// a step's gates (batch, gates * hidden), its states (batch, hidden), the activations kept for
// backward (batch, kept * hidden). A text past its length carries its state unchanged and gets
// zero gate gradients, so the last step holds every text's final state and backward passes the
// gradient of a carried state straight back.
//
// Apart from __global__, __device__, the thread indices and the block-wide primitives that
// persistent.cu uses, this is plain C++: scripts/dev/check_cuda_kernels.sh compiles it with g++
// through a shim header and checks its arithmetic on the CPU.

__device__ __forceinline__ float sigmoid_of(float x) { return 1.0f / (1.0f + expf(-x)); }

// One cell at one (text, unit). Forward takes, per gate q, the input side x[q] (x_t W_ih^T),
// the hidden side y[q] (h_{t-1} W_hh^T) and the two biases bi[q], bh[q], with the unit's
// h_{t-1} and c_{t-1}; it writes h_t, c_t (LSTM) and the activations backward keeps, a[kept].
// Backward takes those activations, the unit's c_{t-1} (LSTM), h_{t-1} (GRU) and h_t (RNN),
// the gradient d reaching h_t and, for LSTM, dc reaching c_t (replaced by the one reaching
// c_{t-1}); it writes the gradients of the gates' input side dx[q] and hidden side dy[q] and
// returns the part of d that reaches h_{t-1} without passing through W_hh.
struct Lstm {
  static const int gates = 4, kept = 5;
  __device__ static void forward(const float *x, const float *y, const float *bi,
                                 const float *bh, float h_prev, float c_prev, float *h,
                                 float *c, float *a) {
    float pre[4];
    for (int q = 0; q < 4; ++q) pre[q] = x[q] + y[q] + (bi[q] + bh[q]);
    float i = sigmoid_of(pre[0]), f = sigmoid_of(pre[1]);
    float g = tanhf(pre[2]), o = sigmoid_of(pre[3]);
    float c_t = f * c_prev + i * g;
    float tanh_c = tanhf(c_t);
    *c = c_t;
    *h = o * tanh_c;
    a[0] = i;
    a[1] = f;
    a[2] = g;
    a[3] = o;
    a[4] = tanh_c;
  }
  __device__ static float backward(const float *a, float c_prev, float h_prev, float h,
                                   float d, float *dc, float *dx, float *dy) {
    float i = a[0], f = a[1], g = a[2], o = a[3], tanh_c = a[4];
    float dc_t = *dc + d * o * (1.0f - tanh_c * tanh_c);
    dx[0] = dc_t * g * i * (1.0f - i);
    dx[1] = dc_t * c_prev * f * (1.0f - f);
    dx[2] = dc_t * i * (1.0f - g * g);
    dx[3] = d * tanh_c * o * (1.0f - o);
    for (int q = 0; q < 4; ++q) dy[q] = dx[q];
    *dc = dc_t * f;
    return 0.0f;
  }
};

// n = tanh(x_n + b_in + r (y_n + b_hn)), h = (1 - z) n + z h_prev: b_hn sits inside r * (...),
// which is why GRU's hidden side has gradients of its own.
struct Gru {
  static const int gates = 3, kept = 4;
  __device__ static void forward(const float *x, const float *y, const float *bi,
                                 const float *bh, float h_prev, float c_prev, float *h,
                                 float *c, float *a) {
    float r = sigmoid_of(x[0] + y[0] + (bi[0] + bh[0]));
    float z = sigmoid_of(x[1] + y[1] + (bi[1] + bh[1]));
    float hn = y[2] + bh[2];
    float n = tanhf(x[2] + bi[2] + r * hn);
    *h = n + z * (h_prev - n);
    a[0] = r;
    a[1] = z;
    a[2] = n;
    a[3] = hn;
  }
  __device__ static float backward(const float *a, float c_prev, float h_prev, float h,
                                   float d, float *dc, float *dx, float *dy) {
    float r = a[0], z = a[1], n = a[2], hn = a[3];
    float dn = d * (1.0f - z) * (1.0f - n * n);
    float dr = dn * hn * r * (1.0f - r);
    float dz = d * (h_prev - n) * z * (1.0f - z);
    dx[0] = dr;
    dx[1] = dz;
    dx[2] = dn;
    dy[0] = dr;
    dy[1] = dz;
    dy[2] = dn * r;
    return d * z;
  }
};

struct Rnn {
  static const int gates = 1, kept = 0;
  __device__ static void forward(const float *x, const float *y, const float *bi,
                                 const float *bh, float h_prev, float c_prev, float *h,
                                 float *c, float *a) {
    *h = tanhf(x[0] + y[0] + (bi[0] + bh[0]));
  }
  __device__ static float backward(const float *a, float c_prev, float h_prev, float h,
                                   float d, float *dc, float *dx, float *dy) {
    dx[0] = d * (1.0f - h * h);
    dy[0] = dx[0];
    return 0.0f;
  }
};

// Room for the largest cell's gates and kept activations in a thread's registers.
#define MAX_GATES 4
#define MAX_KEPT 5

// Forward of cell C at (text b, unit j) of step t, when the text is still running: the hidden
// side of gate q is y[q * ys]. Writes h_t, c_t and the kept activations (strided by hidden).
template <class C>
__device__ __forceinline__ void cell_forward(int hidden, int j, const float *gi_row,
                                             const float *y, int ys, const float *bias,
                                             float h_prev, float c_prev, float *h, float *c,
                                             float *acts_row) {
  const int gw = C::gates * hidden;
  float x[MAX_GATES], yy[MAX_GATES], bi[MAX_GATES], bh[MAX_GATES], a[MAX_KEPT];
  for (int q = 0; q < C::gates; ++q) {
    int m = q * hidden + j;
    x[q] = gi_row[m];
    yy[q] = y[q * ys];
    bi[q] = bias[m];
    bh[q] = bias[gw + m];
  }
  C::forward(x, yy, bi, bh, h_prev, c_prev, h, c, a);
  for (int q = 0; q < C::kept; ++q) acts_row[q * hidden + j] = a[q];
}

// Backward of cell C at (text b, unit j) of step t: d_x_row and d_y_row are the text's rows of
// the gates' gradients (d_y_row only where `separate` says the hidden side differs). Returns
// the gradient reaching h_{t-1} past W_hh; a text past its length gets zero gate gradients and
// passes d back whole.
template <class C>
__device__ __forceinline__ float cell_backward(bool running, int hidden, int j,
                                               const float *acts_row, float c_prev,
                                               float h_prev, float h, float d, float *dc,
                                               float *d_x_row, float *d_y_row, bool separate) {
  float a[MAX_KEPT], dx[MAX_GATES], dy[MAX_GATES];
  float back = d;
  if (running) {
    for (int q = 0; q < C::kept; ++q) a[q] = acts_row[q * hidden + j];
    back = C::backward(a, c_prev, h_prev, h, d, dc, dx, dy);
  } else {
    for (int q = 0; q < C::gates; ++q) dx[q] = dy[q] = 0.0f;
  }
  for (int q = 0; q < C::gates; ++q) {
    d_x_row[q * hidden + j] = dx[q];
    if (separate) d_y_row[q * hidden + j] = dy[q];
  }
  return back;
}

// This thread's (text, unit) as one index into (batch, hidden); false past the end.
__device__ __forceinline__ bool unit(int batch, int hidden, int *k) {
  *k = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  return *k < batch * hidden;
}

// Forward, at step t of every text, one thread per (text, unit):
//   gi (batch, gates * hidden)  x_t W_ih^T
//   gh (batch, gates * hidden)  h_{t-1} W_hh^T (zeros at t = 0)
//   bias (2 * gates * hidden)   b_ih then b_hh
//   h_prev, c_prev (batch, hidden), zeros at t = 0; h, c (batch, hidden) written
//   acts (batch, kept * hidden) written: LSTM i, f, g, o, tanh(c); GRU r, z, n, W_hn h + b_hn
// Every cell takes the same arguments, so that one launch serves all three; each ignores what
// it has no use for (c for GRU and RNN, the activations for RNN).
#define FORWARD_ARGS                                                                          \
  int batch, int hidden, int t, const unsigned int *lengths, const float *gi, const float *gh, \
      const float *bias, const float *h_prev, const float *c_prev, float *h, float *c,        \
      float *acts
#define FORWARD_CALL batch, hidden, t, lengths, gi, gh, bias, h_prev, c_prev, h, c, acts

template <class C>
__device__ __forceinline__ void step_forward(FORWARD_ARGS) {
  int k;
  if (!unit(batch, hidden, &k)) return;
  int b = k / hidden, j = k % hidden;
  const bool lstm = C::gates == 4;
  if (t >= (int)lengths[b]) {
    h[k] = h_prev[k];
    if (lstm) c[k] = c_prev[k];
    return;
  }
  const int gw = C::gates * hidden;
  float c_t = 0.0f;
  cell_forward<C>(hidden, j, gi + b * gw, gh + b * gw + j, hidden, bias, h_prev[k],
                  lstm ? c_prev[k] : 0.0f, &h[k], &c_t, acts + b * C::kept * hidden);
  if (lstm) c[k] = c_t;
}

extern "C" __global__ void lstm_forward(FORWARD_ARGS) { step_forward<Lstm>(FORWARD_CALL); }
extern "C" __global__ void gru_forward(FORWARD_ARGS) { step_forward<Gru>(FORWARD_CALL); }
extern "C" __global__ void rnn_forward(FORWARD_ARGS) { step_forward<Rnn>(FORWARD_CALL); }

// Backward, at step t (last step first), one thread per (text, unit):
//   acts (batch, kept * hidden) as forward wrote them at step t
//   c_prev (LSTM), h_prev (GRU) at step t - 1 (zeros at t = 0); h (RNN) at step t
//   d_out (batch, hidden): the gradient of this step's output
//   dh (batch, hidden): in, the gradient reaching h_t from later steps; out, the part that
//     reaches h_{t-1} without passing through W_hh (the caller then adds d_gh W_hh)
//   dc (batch, hidden), LSTM: the gradient reaching c_t in, c_{t-1} out
//   d_gi, d_gh (batch, gates * hidden) written: the gradients of the gates' input and hidden
//     sides. They differ only for GRU; the other cells write d_gi alone, which serves as both.
#define BACKWARD_ARGS                                                                         \
  int batch, int hidden, int t, const unsigned int *lengths, const float *acts,               \
      const float *c_prev, const float *h_prev, const float *h, const float *d_out,           \
      float *dh, float *dc, float *d_gi, float *d_gh
#define BACKWARD_CALL \
  batch, hidden, t, lengths, acts, c_prev, h_prev, h, d_out, dh, dc, d_gi, d_gh

template <class C>
__device__ __forceinline__ void step_backward(BACKWARD_ARGS) {
  int k;
  if (!unit(batch, hidden, &k)) return;
  int b = k / hidden, j = k % hidden;
  const bool lstm = C::gates == 4, gru = C::gates == 3;
  const int gw = C::gates * hidden;
  float dc_k = lstm ? dc[k] : 0.0f;
  dh[k] = cell_backward<C>(t < (int)lengths[b], hidden, j, acts + b * C::kept * hidden,
                           lstm ? c_prev[k] : 0.0f, gru ? h_prev[k] : 0.0f, h[k],
                           dh[k] + d_out[k], &dc_k, d_gi + b * gw, d_gh + b * gw, gru);
  if (lstm) dc[k] = dc_k;
}

extern "C" __global__ void lstm_backward(BACKWARD_ARGS) { step_backward<Lstm>(BACKWARD_CALL); }
extern "C" __global__ void gru_backward(BACKWARD_ARGS) { step_backward<Gru>(BACKWARD_CALL); }
extern "C" __global__ void rnn_backward(BACKWARD_ARGS) { step_backward<Rnn>(BACKWARD_CALL); }
