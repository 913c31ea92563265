// Checks src/optim/adamw.cu on the CPU (check_cuda_kernels.sh builds and runs it) against the
// host's formula (`AdamWStep::apply`, src/optim/step.rs) written out here in double precision:
// a dense parameter's two launches (moments, then weights) move every value and both moments;
// the rows a batch names, and only they, take the step in a table's weights and moments.
#include <cmath>
#include <cstdio>
#include <vector>

#include "adamw.cu"

static int checks = 0, failures = 0;

static void expect_near(double got, double want, const char *what, long long at) {
  ++checks;
  if (std::fabs(got - want) > 1e-6 * std::fmax(1, std::fabs(want)))
    ++failures, std::printf("FAIL %s at %lld: %g, expected %g\n", what, at, got, want);
}

// Runs `kernel` over `units` threads in blocks of 4, the last one partial.
template <class F>
static void run(int units, F kernel) {
  const unsigned block = 4;
  blockDim.x = block;
  for (blockIdx.x = 0; blockIdx.x * block < (unsigned)units; ++blockIdx.x)
    for (threadIdx.x = 0; threadIdx.x < block; ++threadIdx.x) kernel();
}

// The host's step on one value: new (m, v, w) from gradient g (already scaled).
struct Expected {
  double m, v, w;
};
static Expected step(const AdamWStep &s, double w, double m, double v, double g) {
  m = s.b1 * m + (1 - s.b1) * g;
  v = s.b2 * v + (1 - s.b2) * g * g;
  return {m, v, w * (double)s.decay - s.lr * (m * s.scale_m) / (std::sqrt(v * s.scale_v) + s.eps)};
}

int main() {
  const AdamWStep s = {0.9f, 0.999f, 1.0f / (1.0f - 0.9f * 0.9f),
                       1.0f / (1.0f - 0.999f * 0.999f), 0.01f, 1.0f - 0.01f * 0.1f, 1e-8f};
  const float scale = 0.7f;
  auto value = [](size_t i) { return 0.1f * (float)((i * 37) % 23) - 1.0f; };

  // A dense parameter of 9 values.
  const int n = 9;
  std::vector<float> w(n), moments(2 * n), grad(n);
  for (int i = 0; i < n; ++i) w[i] = value(i), grad[i] = 0.05f * (float)(i % 11) - 0.25f;
  // v must be non-negative, as a second moment is.
  for (int i = 0; i < n; ++i) moments[i] = value(n + i), moments[n + i] = std::fabs(value(2 * n + i));
  const std::vector<float> w0 = w, moments0 = moments;
  run(n, [&] { adamw_moments(n, grad.data(), scale, s, moments.data()); });
  run(n, [&] { adamw_weights(n, moments.data(), s, w.data()); });
  for (int i = 0; i < n; ++i) {
    Expected e = step(s, w0[i], moments0[i], moments0[n + i], (double)(grad[i] * scale));
    expect_near(moments[i], e.m, "dense m", i);
    expect_near(moments[n + i], e.v, "dense v", i);
    expect_near(w[i], e.w, "dense weight", i);
  }

  // A table of 7 rows of 5, three of them named.
  const int rows = 7, dim = 5;
  const long long table = rows * dim;
  const std::vector<unsigned> ids = {6, 0, 3};  // distinct, out of order
  const int named = (int)ids.size();
  std::vector<float> state(3 * table), rows_grad(named * dim);
  for (size_t i = 0; i < state.size(); ++i) state[i] = value(i);
  for (int i = 0; i < named * dim; ++i) rows_grad[i] = 0.05f * (float)(i % 11) - 0.25f;
  for (long long i = 2 * table; i < 3 * table; ++i) state[i] = std::fabs(state[i]);
  const std::vector<float> before = state;
  run(named * dim, [&] {
    sparse_adamw(named, dim, table, ids.data(), rows_grad.data(), scale, s, state.data());
  });
  std::vector<bool> moved(rows, false);
  for (int k = 0; k < named; ++k) {
    moved[ids[k]] = true;
    for (int j = 0; j < dim; ++j) {
      long long i = (long long)ids[k] * dim + j;
      Expected e = step(s, before[i], before[table + i], before[2 * table + i],
                        (double)(rows_grad[k * dim + j] * scale));
      expect_near(state[table + i], e.m, "row m", i);
      expect_near(state[2 * table + i], e.v, "row v", i);
      expect_near(state[i], e.w, "row weight", i);
    }
  }
  for (int r = 0; r < rows; ++r)
    if (!moved[r])
      for (int part = 0; part < 3; ++part)
        for (int j = 0; j < dim; ++j) {
          long long i = part * table + (long long)r * dim + j;
          ++checks;
          if (state[i] != before[i]) ++failures, std::printf("FAIL untouched row at %lld\n", i);
        }
  std::printf("AdamW: %d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
