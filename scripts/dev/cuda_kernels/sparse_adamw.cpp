// Checks src/optim/sparse_adamw.cu on the CPU (check_cuda_kernels.sh builds and runs it): the
// rows a batch names, and only they, take one AdamW step in the weights and both moments,
// against the host's formula (`AdamWStep::apply`, src/optim/step.rs) written out here in double
// precision.
#include <cmath>
#include <cstdio>
#include <vector>

#include "sparse_adamw.cu"

int main() {
  const int rows = 7, dim = 5;
  const long long table = rows * dim;
  const std::vector<unsigned> ids = {6, 0, 3};  // distinct, out of order
  const int n = (int)ids.size();
  const float b1 = 0.9f, b2 = 0.999f, scale_m = 1.0f / (1.0f - 0.9f * 0.9f),
              scale_v = 1.0f / (1.0f - 0.999f * 0.999f), lr = 0.01f, decay = 1.0f - 0.01f * 0.1f,
              eps = 1e-8f;
  std::vector<float> state(3 * table), grad(n * dim);
  for (size_t i = 0; i < state.size(); ++i) state[i] = 0.1f * (float)((i * 37) % 23) - 1.0f;
  for (int i = 0; i < n * dim; ++i) grad[i] = 0.05f * (float)(i % 11) - 0.25f;
  // v must be non-negative, as a second moment is.
  for (long long i = 2 * table; i < 3 * table; ++i) state[i] = std::fabs(state[i]);
  const std::vector<float> before = state;

  const unsigned block = 4;  // several blocks, the last one partial
  blockDim.x = block;
  for (blockIdx.x = 0; blockIdx.x * block < (unsigned)(n * dim); ++blockIdx.x)
    for (threadIdx.x = 0; threadIdx.x < block; ++threadIdx.x)
      sparse_adamw(n, dim, table, ids.data(), grad.data(), b1, b2, scale_m, scale_v, lr, decay,
                   eps, state.data());

  int checks = 0, failures = 0;
  auto expect = [&](bool ok, const char *what, long long at) {
    ++checks;
    if (!ok) ++failures, std::printf("FAIL %s at %lld\n", what, at);
  };
  std::vector<bool> moved(rows, false);
  for (int k = 0; k < n; ++k) {
    moved[ids[k]] = true;
    for (int j = 0; j < dim; ++j) {
      long long i = (long long)ids[k] * dim + j;
      double g = grad[k * dim + j];
      double m = b1 * (double)before[table + i] + (1 - b1) * g;
      double v = b2 * (double)before[2 * table + i] + (1 - b2) * g * g;
      double w = before[i] * (double)decay - lr * (m * scale_m) / (std::sqrt(v * scale_v) + eps);
      expect(std::fabs(state[table + i] - m) <= 1e-6 * std::fmax(1, std::fabs(m)), "m", i);
      expect(std::fabs(state[2 * table + i] - v) <= 1e-6 * std::fmax(1, std::fabs(v)), "v", i);
      expect(std::fabs(state[i] - w) <= 1e-6 * std::fmax(1, std::fabs(w)), "weight", i);
    }
  }
  for (int r = 0; r < rows; ++r)
    if (!moved[r])
      for (int part = 0; part < 3; ++part)
        for (int j = 0; j < dim; ++j) {
          long long i = part * table + (long long)r * dim + j;
          expect(state[i] == before[i], "untouched row", i);
        }
  std::printf("sparse AdamW: %d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
