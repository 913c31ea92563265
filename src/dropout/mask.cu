// Dropout masks from the ChaCha12 keystream of a training run's generator (src/dropout/cuda.rs).
// Element k of a mask is word k of the stream from a given position, turned into a keep flag
// as the host turns the words it draws (src/dropout/mod.rs, `mask`).

#define CHACHA_ROTL(v, r) (((v) << (r)) | ((v) >> (32 - (r))))
#define CHACHA_QR(a, b, c, d)                                                        \
  x[a] += x[b]; x[d] = CHACHA_ROTL(x[d] ^ x[a], 16);                               \
  x[c] += x[d]; x[b] = CHACHA_ROTL(x[b] ^ x[c], 12);                               \
  x[a] += x[b]; x[d] = CHACHA_ROTL(x[d] ^ x[a], 8);                                \
  x[c] += x[d]; x[b] = CHACHA_ROTL(x[b] ^ x[c], 7);

// Block `counter` of the ChaCha12 stream (key, stream): words 12-13 of the state are the
// block counter and 14-15 the stream, as in rand_chacha. key[i] holds key words 2i and 2i+1.
__device__ __forceinline__ void chacha12_block(const unsigned long long key[4],
                                               unsigned long long stream,
                                               unsigned long long counter,
                                               unsigned int out[16]) {
  unsigned int s[16] = {0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u};
  for (int i = 0; i < 4; ++i) {
    s[4 + 2 * i] = (unsigned int)key[i];
    s[5 + 2 * i] = (unsigned int)(key[i] >> 32);
  }
  s[12] = (unsigned int)counter, s[13] = (unsigned int)(counter >> 32);
  s[14] = (unsigned int)stream, s[15] = (unsigned int)(stream >> 32);
  unsigned int x[16];
  for (int i = 0; i < 16; ++i) x[i] = s[i];
  for (int round = 0; round < 6; ++round) {
    CHACHA_QR(0, 4, 8, 12) CHACHA_QR(1, 5, 9, 13) CHACHA_QR(2, 6, 10, 14) CHACHA_QR(3, 7, 11, 15)
    CHACHA_QR(0, 5, 10, 15) CHACHA_QR(1, 6, 11, 12) CHACHA_QR(2, 7, 8, 13) CHACHA_QR(3, 4, 9, 14)
  }
  for (int i = 0; i < 16; ++i) out[i] = x[i] + s[i];
}

// out[k], k < n, from word offset + k of the stream counted from block first_block: 1 / keep
// (scale) when the word's top 24 bits, as a fraction of 2^24, are under keep, else 0. Thread t
// computes block first_block + t, so the grid needs ceil((offset + n) / 16) threads.
extern "C" __global__ void dropout_mask(unsigned long long n, unsigned long long first_block,
                                        int offset, unsigned long long k0,
                                        unsigned long long k1, unsigned long long k2,
                                        unsigned long long k3, unsigned long long stream,
                                        float keep, float scale, float *out) {
  unsigned long long t = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
  long long first = (long long)(t * 16) - offset;  // the element of the block's word 0
  if (first >= (long long)n) return;
  const unsigned long long key[4] = {k0, k1, k2, k3};
  unsigned int words[16];
  chacha12_block(key, stream, first_block + t, words);
  for (int j = 0; j < 16; ++j) {
    long long k = first + j;
    if (k < 0 || k >= (long long)n) continue;
    out[k] = (float)(words[j] >> 8) * (1.0f / 16777216.0f) < keep ? scale : 0.0f;
  }
}
