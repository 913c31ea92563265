// Checks the arithmetic of src/encoder/cuda/recurrent.cu and persistent.cu on the CPU
// (check_cuda_kernels.sh builds and runs it): the kernels, compiled as C++ through shim.h,
// against PyTorch's equations written out here in double precision, for the three cells on
// texts of mixed lengths (empty, ending early, running to the last step).
//
// 1. One step: the forward kernel's h (and c) against the equations, and the backward kernel's
//    gradients against central differences of those same equations.
// 2. A whole layer as src/encoder/cuda/{forward,backward}.rs run it, the step kernels between
//    plain matrix products that stand in for cuBLAS (only the rows up to the last text still
//    running, as there): every step's h against the equations run text by text, and the
//    gradients of x, [W_ih | W_hh] and [b_ih, b_hh] against central differences, for a
//    gradient on every step's state and for one on the final state alone.
// 3. The same layers run by the persistent kernels, one launch each way, every GPU thread a
//    thread here, on grids whose last unit group and last row chunk are partial.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "recurrent.cu"
#include "persistent.cu"

typedef std::vector<float> F;
typedef std::vector<double> D;
typedef std::vector<unsigned> Lengths;

enum Cell { LSTM, GRU, RNN };
const char *const NAMES[] = {"lstm", "gru", "rnn"};
int gates(Cell c) { return c == LSTM ? 4 : c == GRU ? 3 : 1; }
// Activations a step keeps for backward, per unit.
int kept(Cell c) { return c == LSTM ? 5 : c == GRU ? 4 : 0; }

// Few threads per block, so that grids have several blocks and a partial last one.
const unsigned BLOCK = 16;
// |got - want| / max(1, |want|): float kernels against double equations.
const double TOLERANCE = 1e-5;
// Central differences in double: truncation and rounding both far below the tolerance.
const double EPS = 1e-4;

std::mt19937 rng(7);
int checks = 0, failures = 0;
double worst = 0;

F uniform(size_t n, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  F v(n);
  for (float &x : v) x = u(rng);
  return v;
}

// Every element NaN, so that one a kernel fails to write cannot pass.
F unset(size_t n) { return F(n, NAN); }

D widen(const F &v) { return D(v.begin(), v.end()); }

void expect(const char *cell, const char *what, const float *got, const D &want) {
  double w = 0;
  size_t at = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double e = std::fabs(got[i] - want[i]) / std::max(1.0, std::fabs(want[i]));
    if (!(e <= w)) w = e, at = i;  // NaN counts as the worst
  }
  ++checks;
  if (w > worst || std::isnan(w)) worst = w;
  if (!(w <= TOLERANCE)) {
    ++failures;
    std::printf("FAIL %s %s: element %zu is %.8g, want %.8g (error %.3g)\n", cell, what, at,
                got[at], want[at], w);
  }
}

// d f / d v[i] for every i, by central differences (v is restored).
D numeric_grad(D &v, const std::function<double()> &f) {
  D g(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    double keep = v[i];
    v[i] = keep + EPS;
    double up = f();
    v[i] = keep - EPS;
    double down = f();
    v[i] = keep;
    g[i] = (up - down) / (2 * EPS);
  }
  return g;
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// One step of one text as PyTorch documents it; gi = W_ih x and gh = W_hh h_prev without
// their biases, bias = [b_ih, b_hh].
void ref_step(Cell cell, int H, const double *gi, const double *gh, const double *bias,
              const double *h_prev, const double *c_prev, double *h, double *c) {
  const int G = gates(cell) * H;
  const double *b_ih = bias, *b_hh = bias + G;
  auto pre = [&](int m) { return gi[m] + b_ih[m] + gh[m] + b_hh[m]; };
  for (int j = 0; j < H; ++j) {
    if (cell == LSTM) {
      double i = sigmoid(pre(j)), f = sigmoid(pre(H + j));
      double g = std::tanh(pre(2 * H + j)), o = sigmoid(pre(3 * H + j));
      c[j] = f * c_prev[j] + i * g;
      h[j] = o * std::tanh(c[j]);
    } else if (cell == GRU) {
      double r = sigmoid(pre(j)), z = sigmoid(pre(H + j));
      int m = 2 * H + j;
      double n = std::tanh(gi[m] + b_ih[m] + r * (gh[m] + b_hh[m]));
      h[j] = (1 - z) * n + z * h_prev[j];
    } else {
      h[j] = std::tanh(pre(j));
    }
  }
}

typedef void Kernel(int, int, int, const unsigned *, const float *, const float *, const float *,
                    const float *, const float *, float *, float *, float *);

Kernel *forward_kernel(Cell c) {
  return c == LSTM ? lstm_forward : c == GRU ? gru_forward : rnn_forward;
}

void forward_step(Cell cell, int B, int H, int t, const Lengths &lengths, const float *gi,
                  const float *gh, const float *bias, const float *h_prev, const float *c_prev,
                  float *h, float *c, float *acts) {
  Kernel *k = forward_kernel(cell);
  launch(B * H, BLOCK,
         [&] { k(B, H, t, lengths.data(), gi, gh, bias, h_prev, c_prev, h, c, acts); });
}

void backward_step(Cell cell, int B, int H, int t, const Lengths &lengths, const float *acts,
                   const float *c_prev, const float *h_prev, const float *h, const float *d_out,
                   float *dh, float *dc, float *d_gi, float *d_gh) {
  auto k = cell == LSTM ? lstm_backward : cell == GRU ? gru_backward : rnn_backward;
  launch(B * H, BLOCK, [&] {
    k(B, H, t, lengths.data(), acts, c_prev, h_prev, h, d_out, dh, dc, d_gi, d_gh);
  });
}

// 1. One step t over texts of `lengths`.
void check_step(Cell cell, int t) {
  const Lengths lengths = {0, 1, 2, 3, 5, 3, 2};
  const int B = lengths.size(), H = 5, G = gates(cell) * H, S = B * H;
  const bool lstm = cell == LSTM;
  F gi = uniform(B * G, 2), bias = uniform(2 * G, 1);
  // At t = 0 the caller passes zeros for gh and the previous states.
  F gh = t ? uniform(B * G, 2) : F(B * G), h_prev = t ? uniform(S, 1) : F(S);
  F c_prev = t && lstm ? uniform(S, 2) : F(S);
  F h = unset(S), c = unset(lstm ? S : 1), acts = unset(std::max(1, B * kept(cell) * H));
  forward_step(cell, B, H, t, lengths, gi.data(), gh.data(), bias.data(), h_prev.data(),
               c_prev.data(), h.data(), c.data(), acts.data());

  D dgi = widen(gi), dgh = widen(gh), db = widen(bias), dhp = widen(h_prev), dcp = widen(c_prev);
  // The equations, with a text past its length carrying its state.
  auto ref = [&](D &h_out, D &c_out) {
    for (int b = 0; b < B; ++b) {
      int s = b * H;
      if ((unsigned)t >= lengths[b]) {
        std::copy(&dhp[s], &dhp[s + H], &h_out[s]);
        std::copy(&dcp[s], &dcp[s + H], &c_out[s]);
      } else {
        ref_step(cell, H, &dgi[b * G], &dgh[b * G], db.data(), &dhp[s], &dcp[s], &h_out[s],
                 &c_out[s]);
      }
    }
  };
  D want_h(S), want_c(S);
  ref(want_h, want_c);
  char what[64];
  std::snprintf(what, sizeof what, "step %d forward h", t);
  expect(NAMES[cell], what, h.data(), want_h);
  if (lstm) {
    std::snprintf(what, sizeof what, "step %d forward c", t);
    expect(NAMES[cell], what, c.data(), want_c);
  }

  // Backward from random gradients on h_t (from later steps and from the output) and c_t.
  const F dh_in = uniform(S, 1), d_out = uniform(S, 1), dc_in = uniform(S, 1);
  F dh = dh_in, dc = lstm ? dc_in : F(1), d_gi = unset(B * G), d_gh = unset(B * G);
  backward_step(cell, B, H, t, lengths, acts.data(), c_prev.data(), h_prev.data(), h.data(),
                d_out.data(), dh.data(), dc.data(), d_gi.data(), d_gh.data());
  auto loss = [&] {
    D hh(S), cc(S);
    ref(hh, cc);
    double l = 0;
    for (int k = 0; k < S; ++k) l += (dh_in[k] + d_out[k]) * hh[k] + (lstm ? dc_in[k] * cc[k] : 0);
    return l;
  };
  std::snprintf(what, sizeof what, "step %d d_gi", t);
  expect(NAMES[cell], what, d_gi.data(), numeric_grad(dgi, loss));
  // Only GRU's hidden side differs from its input side; the others write d_gi for both.
  std::snprintf(what, sizeof what, "step %d d_gh", t);
  expect(NAMES[cell], what, cell == GRU ? d_gh.data() : d_gi.data(), numeric_grad(dgh, loss));
  std::snprintf(what, sizeof what, "step %d dh to h_prev", t);
  expect(NAMES[cell], what, dh.data(), numeric_grad(dhp, loss));
  if (lstm) {
    std::snprintf(what, sizeof what, "step %d dc to c_prev", t);
    expect(NAMES[cell], what, dc.data(), numeric_grad(dcp, loss));
  }
}

struct Layer {
  Cell cell;
  int T, B, I, H;
  Lengths lengths;
  int G() const { return gates(cell) * H; }
  int A() const { return kept(cell) * H; }
  int stride() const { return I + H; }
  // The rows up to the last text still running at step t.
  int active(int t) const {
    int n = 0;
    for (int b = 0; b < B; ++b)
      if (lengths[b] > (unsigned)t) n = b + 1;
    return n;
  }
};

// Row-major c (m x n, rows ldc apart) = op(a) op(b) + beta c, op(a) (m x k), op(b) (k x n);
// ta / tb: a / b stored transposed. What gemm.rs asks of cuBLAS, summed in float as it does.
void product(int m, int n, int k, const float *a, int lda, bool ta, const float *b, int ldb,
             bool tb, float *c, int ldc, float beta) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float s = 0;
      for (int q = 0; q < k; ++q)
        s += (ta ? a[q * lda + i] : a[i * lda + q]) * (tb ? b[j * ldb + q] : b[q * ldb + j]);
      c[i * ldc + j] = s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
    }
}

struct Run {
  F out, cells, acts;
};

// A persistent launch's shape: units and texts per block, threads per block, and the longest
// piece of the product with W_hh (which the launch cuts to the product's length).
struct Grid {
  int per, rows;
  unsigned threads;
  int piece = 1 << 20;
  // `len`: forward's product runs over hidden, backward's over gates * hidden.
  Geometry geometry(const Layer &L, int len) const {
    return Geometry{L.B, L.H, L.T, per, rows, std::min(piece, len)};
  }
  Dim3 dims(const Layer &L) const {
    return Dim3{(unsigned)((L.H + per - 1) / per), (unsigned)((L.B + rows - 1) / rows), 1};
  }
};

// The input side of every step in one product, (T, B, G).
F input_side(const Layer &L, const F &x, const F &w) {
  F gi = unset(L.T * L.B * L.G());
  product(L.T * L.B, L.G(), L.I, x.data(), L.I, false, w.data(), L.stride(), true, gi.data(),
          L.G(), 0);
  return gi;
}

// forward.rs: the input side, then per step the product with W_hh and the step kernel; or,
// with a grid, the persistent kernel over every step.
Run gpu_forward(const Layer &L, const F &x, const F &w, const F &bias, const Grid *grid) {
  const int S = L.B * L.H, G = L.G(), A = L.A();
  const bool lstm = L.cell == LSTM;
  F gi = input_side(L, x, w);
  Run r{unset(L.T * S), unset(lstm ? L.T * S : 1), unset(std::max(1, L.T * L.B * A))};
  if (grid) {
    auto k = L.cell == LSTM  ? lstm_persistent_forward
             : L.cell == GRU ? gru_persistent_forward
                             : rnn_persistent_forward;
    Dim3 dims = grid->dims(L);
    std::vector<unsigned> arrived(dims.y);
    Geometry geometry = grid->geometry(L, L.H);
    size_t shared =
        forward_shared_floats(gates(L.cell), grid->per, grid->rows, L.H, geometry.piece);
    launch_cooperative(dims, grid->threads, shared, [&] {
      k(geometry, L.lengths.data(), gi.data(), &w[L.I], L.stride(), bias.data(),
        r.out.data(), r.cells.data(), r.acts.data(), L.B * A, arrived.data());
    });
    return r;
  }
  // Rows past a step's last running text keep whatever an earlier step left there.
  F gh(L.B * G), zeros(S);
  for (int t = 0; t < L.T; ++t) {
    const float *h_prev = t ? &r.out[(t - 1) * S] : zeros.data();
    int n = L.active(t);
    if (t > 0 && n > 0)
      product(n, G, L.H, h_prev, L.H, false, &w[L.I], L.stride(), true, gh.data(), G, 0);
    const float *c_prev = lstm && t ? &r.cells[(t - 1) * S] : zeros.data();
    float *c = lstm ? &r.cells[t * S] : r.cells.data();
    forward_step(L.cell, L.B, L.H, t, L.lengths, &gi[t * L.B * G], gh.data(), bias.data(),
                 h_prev, c_prev, &r.out[t * S], c, &r.acts[t * L.B * A]);
  }
  return r;
}

// The gates' gradients at every step, (T, B, G): input side, and hidden side for GRU.
struct GateGrads {
  F input, hidden;
};

// backward.rs: per step (last first) the step kernel and dh += d_gh W_hh.
GateGrads through_time(const Layer &L, const F &w, const Run &r, const F &d_out, bool final_only) {
  const int S = L.B * L.H, G = L.G(), A = L.A(), rows = L.T * L.B;
  const bool lstm = L.cell == LSTM, gru = L.cell == GRU;
  GateGrads d{unset(rows * G), unset(gru ? rows * G : 1)};
  F zeros(S), dc(lstm ? S : 1);
  // With the final state's gradient alone it starts dh, and no step adds any.
  F dh = final_only ? d_out : F(S);
  for (int t = L.T - 1; t >= 0; --t) {
    const float *c_prev = lstm && t ? &r.cells[(t - 1) * S] : zeros.data();
    const float *h_prev = t ? &r.out[(t - 1) * S] : zeros.data();
    const float *d_out_t = final_only ? zeros.data() : &d_out[t * S];
    float *d_gh_t = gru ? &d.hidden[t * L.B * G] : d.hidden.data();
    backward_step(L.cell, L.B, L.H, t, L.lengths, &r.acts[t * L.B * A], c_prev, h_prev,
                  &r.out[t * S], d_out_t, dh.data(), dc.data(), &d.input[t * L.B * G], d_gh_t);
    int n = L.active(t);
    const float *d_gates = gru ? d_gh_t : &d.input[t * L.B * G];
    if (t > 0 && n > 0)
      product(n, L.H, G, d_gates, G, false, &w[L.I], L.stride(), false, dh.data(), L.H, 1);
  }
  return d;
}

// backward.rs with the persistent kernel: every step in one launch.
GateGrads persistent_through_time(const Layer &L, const F &w, const Run &r, const F &d_out,
                                  bool final_only, const Grid &grid) {
  const int S = L.B * L.H, G = L.G(), rows = L.T * L.B;
  const bool lstm = L.cell == LSTM, gru = L.cell == GRU;
  GateGrads d{unset(rows * G), unset(gru ? rows * G : 1)};
  F dh = final_only ? d_out : F(S), dc(lstm ? S : 1);
  auto k = L.cell == LSTM  ? lstm_persistent_backward
           : L.cell == GRU ? gru_persistent_backward
                           : rnn_persistent_backward;
  Dim3 dims = grid.dims(L);
  std::vector<unsigned> arrived(dims.y);
  Geometry geometry = grid.geometry(L, G);
  size_t shared = backward_shared_floats(gates(L.cell), grid.per, grid.rows, L.H, geometry.piece);
  launch_cooperative(dims, grid.threads, shared, [&] {
    k(geometry, L.lengths.data(), r.acts.data(), r.cells.data(), r.out.data(),
      d_out.data(), !final_only, &w[L.I], L.stride(), dh.data(), dc.data(), d.input.data(),
      d.hidden.data(), arrived.data());
  });
  return d;
}

struct Grads {
  F x, w, bias;
};

// backward.rs after the steps: the weight, bias and input gradients as single products over
// every step.
Grads weight_grads(const Layer &L, const F &x, const F &w, const Run &r, const GateGrads &d) {
  const int G = L.G(), rows = L.T * L.B;
  const F &d_hidden = L.cell == GRU ? d.hidden : d.input;
  Grads g{F(rows * L.I), F(G * L.stride()), F(2 * G)};
  product(G, L.I, rows, d.input.data(), G, true, x.data(), L.I, false, g.w.data(), L.stride(), 0);
  if (L.T > 1)
    product(G, L.H, rows - L.B, &d_hidden[L.B * G], G, true, r.out.data(), L.H, false,
            &g.w[L.I], L.stride(), 0);
  F ones(rows, 1);
  product(1, G, rows, ones.data(), rows, false, d.input.data(), G, false, g.bias.data(), G, 0);
  product(1, G, rows, ones.data(), rows, false, d_hidden.data(), G, false, &g.bias[G], G, 0);
  product(rows, L.I, G, d.input.data(), G, false, w.data(), L.stride(), false, g.x.data(), L.I, 0);
  return g;
}

// Every step's h (T, B, H), text by text with the equations alone: a text's steps past its
// length repeat its final state (zeros for an empty text).
D ref_layer(const Layer &L, const D &x, const D &w, const D &bias) {
  const int G = L.G(), H = L.H;
  D out(L.T * L.B * H);
  for (int b = 0; b < L.B; ++b) {
    D h(H), c(H), h_next(H), c_next(H), gi(G), gh(G);
    for (int t = 0; t < L.T; ++t) {
      if ((unsigned)t < L.lengths[b]) {
        for (int m = 0; m < G; ++m) {
          gi[m] = gh[m] = 0;
          for (int i = 0; i < L.I; ++i) gi[m] += w[m * L.stride() + i] * x[(t * L.B + b) * L.I + i];
          for (int j = 0; j < H; ++j) gh[m] += w[m * L.stride() + L.I + j] * h[j];
        }
        ref_step(L.cell, H, gi.data(), gh.data(), bias.data(), h.data(), c.data(), h_next.data(),
                 c_next.data());
        h = h_next;
        c = c_next;
      }
      std::copy(h.begin(), h.end(), &out[(t * L.B + b) * H]);
    }
  }
  return out;
}

// 2. A whole layer, with a gradient on every step's state or on the final state alone.
// With a grid, the persistent kernels run it.
void check_layer(const Layer &L, bool final_only, const Grid *grid) {
  const int S = L.B * L.H, G = L.G();
  const char *cell = NAMES[L.cell];
  F x = uniform(L.T * L.B * L.I, 1.5), w = uniform(G * L.stride(), 0.8), bias = uniform(2 * G, 0.5);
  F d_out = uniform(final_only ? S : L.T * S, 1);
  Run r = gpu_forward(L, x, w, bias, grid);
  D dx = widen(x), dw = widen(w), db = widen(bias);
  if (!final_only)
    expect(cell, grid ? "persistent layer: h at every step" : "layer: h at every step",
           r.out.data(), ref_layer(L, dx, dw, db));
  GateGrads d = grid ? persistent_through_time(L, w, r, d_out, final_only, *grid)
                     : through_time(L, w, r, d_out, final_only);
  Grads g = weight_grads(L, x, w, r, d);
  auto loss = [&] {
    D out = ref_layer(L, dx, dw, db);
    size_t from = final_only ? (L.T - 1) * S : 0;
    double l = 0;
    for (size_t k = 0; k < d_out.size(); ++k) l += d_out[k] * out[from + k];
    return l;
  };
  const char *mode = grid ? (final_only ? "persistent, final state" : "persistent, every step")
                          : (final_only ? "final state" : "every step");
  char what[64];
  std::snprintf(what, sizeof what, "layer (%s): dx", mode);
  expect(cell, what, g.x.data(), numeric_grad(dx, loss));
  std::snprintf(what, sizeof what, "layer (%s): d[W_ih | W_hh]", mode);
  expect(cell, what, g.w.data(), numeric_grad(dw, loss));
  std::snprintf(what, sizeof what, "layer (%s): d[b_ih, b_hh]", mode);
  expect(cell, what, g.bias.data(), numeric_grad(db, loss));
}

// 4. The persistent kernels against the step kernels on the same layer: every output of each.
void check_against_steps(const Layer &L, bool final_only, const Grid &grid) {
  const int S = L.B * L.H, G = L.G();
  const char *cell = NAMES[L.cell];
  F x = uniform(L.T * L.B * L.I, 1.5), w = uniform(G * L.stride(), 0.8), bias = uniform(2 * G, 0.5);
  F d_out = uniform(final_only ? S : L.T * S, 1);
  Run steps = gpu_forward(L, x, w, bias, nullptr), persistent = gpu_forward(L, x, w, bias, &grid);
  expect(cell, "persistent against steps: h", persistent.out.data(), widen(steps.out));
  if (L.cell == LSTM)
    expect(cell, "persistent against steps: c", persistent.cells.data(), widen(steps.cells));
  if (L.cell != RNN)
    expect(cell, "persistent against steps: kept activations", persistent.acts.data(),
           widen(steps.acts));
  GateGrads a = through_time(L, w, steps, d_out, final_only);
  GateGrads b = persistent_through_time(L, w, steps, d_out, final_only, grid);
  expect(cell, "persistent against steps: d_gi", b.input.data(), widen(a.input));
  if (L.cell == GRU)
    expect(cell, "persistent against steps: d_gh", b.hidden.data(), widen(a.hidden));
}

int main() {
  for (Cell cell : {LSTM, GRU, RNN}) {
    check_step(cell, 0);
    check_step(cell, 3);
    // The last text stops early, so the step products skip rows; one text is empty.
    Layer small{cell, 6, 5, 3, 4, {4, 0, 6, 2, 1}};
    // Nine texts, one running every step, over several blocks of 16 threads.
    Layer wide{cell, 4, 9, 2, 7, {4, 3, 0, 1, 4, 2, 2, 0, 3}};
    // Two units and two texts per block: the last group and chunk hold one of each; four
    // units and five texts per block over two warps, the products in pieces of three (the
    // last one shorter). Both have fewer tiles of sums than threads, so block_dots splits each
    // sum across lanes.
    const Grid grids[] = {{2, 2, 32}, {4, 5, 64, 3}};
    for (const Layer &L : {small, wide})
      for (bool final_only : {false, true}) {
        check_layer(L, final_only, nullptr);
        for (const Grid &grid : grids) check_layer(L, final_only, &grid);
      }
  }
  // Layers too wide for central differences, against the step kernels: whole blocks of units
  // and texts, and more tiles of sums than threads, so that block_dots runs several rounds.
  for (Cell cell : {LSTM, GRU, RNN}) {
    Layer big{cell, 5, 11, 3, 40, {5, 2, 0, 5, 1, 4, 5, 3, 3, 2, 5}};
    for (const Grid &grid : {Grid{40, 11, 32}, Grid{10, 6, 32, 16}, Grid{20, 11, 64, 25}})
      for (bool final_only : {false, true}) check_against_steps(big, final_only, grid);
  }
  std::printf("%d checks, %d failed; worst error %.3g (tolerance %g)\n", checks, failures, worst,
              TOLERANCE);
  return failures ? 1 : 0;
}
