// The row-sparse AdamW step of a table kept on a GPU (src/optim/cuda.rs): the formula of
// `AdamWStep::apply` (src/optim/step.rs), for the rows a batch used.

// state: the table's weights, first and second moments, each (rows, dim), one after the other
// (`table` = rows * dim floats apart). Row ids[k] takes gradient row k of grad (n, dim); the
// ids are distinct, so each thread owns its element. One thread per (k, column).
extern "C" __global__ void sparse_adamw(int n, int dim, long long table, const unsigned int *ids,
                                        const float *grad, float b1, float b2, float scale_m,
                                        float scale_v, float lr, float decay, float eps,
                                        float *state) {
  int k = (int)(blockIdx.x * blockDim.x + threadIdx.x);
  if (k >= n * dim) return;
  long long i = (long long)ids[k / dim] * dim + k % dim;
  float *w = state + i, *m = state + table + i, *v = state + 2 * table + i;
  float g = grad[k];
  *m = b1 * *m + (1.0f - b1) * g;
  *v = b2 * *v + (1.0f - b2) * g * g;
  *w = *w * decay - lr * (*m * scale_m) / (sqrtf(*v * scale_v) + eps);
}
