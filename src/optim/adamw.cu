// AdamW on a GPU (src/optim/cuda.rs): the formula of `AdamWStep::apply` (src/optim/step.rs), for
// dense parameters and for the rows a batch used of a table. Every gradient is multiplied by
// `scale` first (the clipping factor).

// `AdamWStep` of step.rs, passed by value: seven floats in the same order.
struct AdamWStep {
  float b1, b2, scale_m, scale_v, lr, decay, eps;
};

__device__ __forceinline__ void adamw_moments_at(const AdamWStep &s, float g, float *m,
                                                 float *v) {
  *m = s.b1 * *m + (1.0f - s.b1) * g;
  *v = s.b2 * *v + (1.0f - s.b2) * g * g;
}

__device__ __forceinline__ float adamw_weight_at(const AdamWStep &s, float w, float m, float v) {
  return w * s.decay - s.lr * (m * s.scale_m) / (sqrtf(v * s.scale_v) + s.eps);
}

// A dense parameter of n values takes a step in two launches, each updating one tensor in place
// (as candle's in-place ops allow): first its moments, (2, n), m then v; then its weights, from
// the new moments. One thread per value.
extern "C" __global__ void adamw_moments(int n, const float *grad, float scale, AdamWStep s,
                                         float *moments) {
  int k = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (k >= n) return;
  adamw_moments_at(s, grad[k] * scale, moments + k, moments + n + k);
}

extern "C" __global__ void adamw_weights(int n, const float *moments, AdamWStep s, float *w) {
  int k = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (k >= n) return;
  w[k] = adamw_weight_at(s, w[k], moments[k], moments[n + k]);
}

// A table's rows. state: its weights, first and second moments, each (rows, dim), one after
// the other (`table` = rows * dim floats apart). Row ids[k] takes gradient row k of grad (n,
// dim); the ids are distinct, so each thread owns its element. One thread per (k, column).
extern "C" __global__ void sparse_adamw(int n, int dim, long long table, const unsigned int *ids,
                                        const float *grad, float scale, AdamWStep s,
                                        float *state) {
  int k = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (k >= n * dim) return;
  long long i = (long long)ids[k / dim] * dim + k % dim;
  float *w = state + i, *m = state + table + i, *v = state + 2 * table + i;
  adamw_moments_at(s, grad[k] * scale, m, v);
  *w = adamw_weight_at(s, *w, *m, *v);
}
