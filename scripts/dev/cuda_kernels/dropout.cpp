// Checks src/dropout/mask.cu on the CPU (check_cuda_kernels.sh builds and runs it): the
// ChaCha12 block function against the stream of the Rust generator `Generator::seed_from_u64(11)`
// (its key and first 80 words, written out below; src/dropout/mod.rs tests that they are that
// generator's), and the mask kernel, for masks that start anywhere in a block and end anywhere,
// against the keep flags the host computes from those same words.
#include <cstdio>
#include <vector>

#include "mask.cu"

const unsigned long long KEY[4] = {0x1c72f9ebe84cfbc9ull, 0x1887749cf25dd6b3ull,
                                   0xbc191b127cffef59ull, 0xa211e0e3395a7ce8ull};
const unsigned WORDS[80] = {
    0x39dc5783u, 0x46a55c63u, 0x8f125022u, 0xc3043aacu, 0xc9e3aaebu, 0xdcfd1a61u, 0xa3ba75b0u,
    0x30e793b8u, 0x346181acu, 0x6fef3bd4u, 0x96f04893u, 0xd7577df4u, 0x637be46bu, 0xf91c42d7u,
    0x88071026u, 0xea5bdb6au, 0x5ce9ae4eu, 0xc1cf4eeeu, 0x90d010a9u, 0xe59b462du, 0x5e138e19u,
    0x20c34da8u, 0xecbfbc85u, 0xe2b305c9u, 0xd81f53ccu, 0x642d7a84u, 0x3e8d2a68u, 0xf0deb9cbu,
    0x94c4ddd7u, 0xef217bd6u, 0xb002a819u, 0xcbc25697u, 0x3e07f226u, 0x9d2c7b4bu, 0xb2f13a0du,
    0xcaf65c9eu, 0x53ae847au, 0xe99c8917u, 0x5c2bfabeu, 0x759b5904u, 0xd9631bc2u, 0x2edc2e78u,
    0xc0720599u, 0xbe3e7a50u, 0x1e5f7106u, 0x551d8392u, 0xa1e225bcu, 0xf669ff98u, 0xa72fae76u,
    0x10c6b5ecu, 0x56651c9bu, 0xccfa84bcu, 0xe5a60655u, 0x5cc246d3u, 0x6485b934u, 0x2a8517c8u,
    0xf1d7a1efu, 0x972400ccu, 0x186985ecu, 0x740c6afcu, 0x68416c21u, 0xc41bd97du, 0x98987739u,
    0xf7fd3132u, 0xc92b3786u, 0x4a94d71cu, 0x797dbfa0u, 0xc5cc2104u, 0xc38703c7u, 0xe95c1783u,
    0x80f3c8fau, 0x8d0595ccu, 0xff28348du, 0x678c5627u, 0xce491c68u, 0x84338a23u, 0x34eb9b01u,
    0xc9a4f301u, 0x72df5203u, 0x298c4f56u};

int checks = 0, failures = 0;

void expect(bool ok, const char *what, int a, int b) {
  ++checks;
  if (!ok) {
    ++failures;
    std::printf("FAIL %s (%d, %d)\n", what, a, b);
  }
}

// The host's keep flag (src/dropout/mod.rs, `mask`).
float flag(unsigned word, float keep) {
  return (float)(word >> 8) * (1.0f / 16777216.0f) < keep ? 1.0f / keep : 0.0f;
}

int main() {
  for (int b = 0; b < 5; ++b) {
    unsigned out[16];
    chacha12_block(KEY, 0, b, out);
    for (int j = 0; j < 16; ++j) expect(out[j] == WORDS[16 * b + j], "block word", b, j);
  }
  const float keeps[] = {0.5f, 0.7f, 0.9f};
  const unsigned block = 4;  // threads per CUDA block here: grids of several blocks
  for (int start = 0; start < 32; start += 3) {
    for (int n = 0; start + n <= 80; n += 7) {
      for (float keep : keeps) {
        std::vector<float> out(n + 1, -1.0f);  // one past the end must stay untouched
        unsigned threads = (unsigned)((start % 16 + n + 15) / 16);
        blockDim.x = block;
        for (blockIdx.x = 0; blockIdx.x * block < threads; ++blockIdx.x)
          for (threadIdx.x = 0; threadIdx.x < block; ++threadIdx.x)
            dropout_mask(n, start / 16, start % 16, KEY[0], KEY[1], KEY[2], KEY[3], 0, keep,
                         1.0f / keep, out.data());
        for (int k = 0; k < n; ++k)
          expect(out[k] == flag(WORDS[start + k], keep), "mask element", start, k);
        expect(out[n] == -1.0f, "nothing written past n", start, n);
      }
    }
  }
  std::printf("dropout mask: %d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
