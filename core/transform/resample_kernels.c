#include "resample_kernels.h"

#define PRECISION_BITS (32 - 8 - 2)
#define HALF (1 << (PRECISION_BITS - 1))

/* Pillow's clip8, written as a clamp so loops over it vectorize. */
static inline uint8_t clip8(int32_t v) {
  v >>= PRECISION_BITS;
  v = v < 0 ? 0 : v;
  return (uint8_t)(v > 255 ? 255 : v);
}

/* A constant tap count lets the compiler unroll the inner loop. */
#define ROWS_BODY(TAPS)                                                  \
  for (int y = 0; y < rows; y++) {                                       \
    const uint8_t *in = src + (long)y * src_stride;                      \
    uint8_t *out = dst + (long)y * dst_stride;                           \
    for (int i = 0; i < n; i++) {                                        \
      const int32_t *k = w + (long)i * ksize;                            \
      const uint8_t *p = in + (long)(start[i] - x0) * CH;                \
      for (int c = 0; c < CH; c++) {                                     \
        int32_t s = HALF;                                                \
        for (int j = 0; j < (TAPS); j++) s += (int32_t)p[j * CH + c] * k[j]; \
        out[i * CH + c] = clip8(s);                                      \
      }                                                                  \
    }                                                                    \
  }

/* RGB: two rows per pass share each output's offset and weights. */
#define ROWS3_BODY(TAPS)                                                          \
  {                                                                               \
    int y = 0;                                                                    \
    for (; y + 1 < rows; y += 2) {                                                \
      const uint8_t *in0 = src + (long)y * src_stride, *in1 = in0 + src_stride;   \
      uint8_t *o0 = dst + (long)y * dst_stride, *o1 = o0 + dst_stride;            \
      for (int i = 0; i < n; i++) {                                               \
        const int32_t *k = w + (long)i * ksize;                                   \
        long off = (long)(start[i] - x0) * 3;                                     \
        const uint8_t *p = in0 + off, *q = in1 + off;                             \
        int32_t a0 = HALF, a1 = HALF, a2 = HALF, b0 = HALF, b1 = HALF, b2 = HALF; \
        for (int j = 0; j < (TAPS); j++) {                                        \
          int32_t wj = k[j];                                                      \
          a0 += p[3 * j] * wj;                                                    \
          a1 += p[3 * j + 1] * wj;                                                \
          a2 += p[3 * j + 2] * wj;                                                \
          b0 += q[3 * j] * wj;                                                    \
          b1 += q[3 * j + 1] * wj;                                                \
          b2 += q[3 * j + 2] * wj;                                                \
        }                                                                         \
        o0[3 * i] = clip8(a0);                                                    \
        o0[3 * i + 1] = clip8(a1);                                                \
        o0[3 * i + 2] = clip8(a2);                                                \
        o1[3 * i] = clip8(b0);                                                    \
        o1[3 * i + 1] = clip8(b1);                                                \
        o1[3 * i + 2] = clip8(b2);                                                \
      }                                                                           \
    }                                                                             \
    for (; y < rows; y++) {                                                       \
      const uint8_t *in0 = src + (long)y * src_stride;                            \
      uint8_t *o0 = dst + (long)y * dst_stride;                                   \
      for (int i = 0; i < n; i++) {                                               \
        const int32_t *k = w + (long)i * ksize;                                   \
        const uint8_t *p = in0 + (long)(start[i] - x0) * 3;                       \
        int32_t a0 = HALF, a1 = HALF, a2 = HALF;                                  \
        for (int j = 0; j < (TAPS); j++) {                                        \
          a0 += p[3 * j] * k[j];                                                  \
          a1 += p[3 * j + 1] * k[j];                                              \
          a2 += p[3 * j + 2] * k[j];                                              \
        }                                                                         \
        o0[3 * i] = clip8(a0);                                                    \
        o0[3 * i + 1] = clip8(a1);                                                \
        o0[3 * i + 2] = clip8(a2);                                                \
      }                                                                           \
    }                                                                             \
  }

static inline __attribute__((always_inline)) void rows3(const uint8_t *src, int src_stride, int x0, const int32_t *start,
                                                        int taps, const int32_t *w, int ksize, int n, uint8_t *dst,
                                                        int dst_stride, int rows) {
  switch (taps) {
    case 2: ROWS3_BODY(2) break;
    case 3: ROWS3_BODY(3) break;
    case 4: ROWS3_BODY(4) break;
    case 5: ROWS3_BODY(5) break;
    default: ROWS3_BODY(taps) break;
  }
}

static inline __attribute__((always_inline)) void rows1(const uint8_t *src, int src_stride, int x0, const int32_t *start, int taps, const int32_t *w,
                  int ksize, int n, uint8_t *dst, int dst_stride, int rows) {
  enum { CH = 1 };
  switch (taps) {
    case 2: ROWS_BODY(2) break;
    case 3: ROWS_BODY(3) break;
    default: ROWS_BODY(taps) break;
  }
}

/* Built for AVX2 too, picked at load time on CPUs that have it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SND_CLONES __attribute__((target_clones("avx2", "default")))
#define SND_AVX2 1
#include <immintrin.h>
#else
#define SND_CLONES
#define SND_AVX2 0
#endif

#if SND_AVX2
/* RGB rows with up to 4 taps on AVX2, two output pixels per step: one
 * 16-byte load holds a pixel's whole window, a shuffle groups its R, G and B
 * bytes, and one multiply per channel pair serves both pixels. Integer
 * arithmetic, so the result equals the scalar loop's. Windows whose load
 * would pass src_len use the scalar loop. */
__attribute__((target("avx2"))) static inline void rgb_scalar(const uint8_t *p, const int32_t *k, int taps,
                                                              uint8_t *out) {
  int32_t a0 = HALF, a1 = HALF, a2 = HALF;
  for (int j = 0; j < taps; j++) {
    a0 += p[3 * j] * k[j];
    a1 += p[3 * j + 1] * k[j];
    a2 += p[3 * j + 2] * k[j];
  }
  out[0] = clip8(a0);
  out[1] = clip8(a1);
  out[2] = clip8(a2);
}

__attribute__((target("avx2"))) static void rows3_avx2(const uint8_t *src, long src_len, int src_stride, int x0,
                                                       const int32_t *start, int taps, const int32_t *w, int ksize,
                                                       int n, uint8_t *dst, int dst_stride, int rows) {
  /* The weights, padded to 4 taps, for one block of output pixels at a
   * time: a fixed buffer, so nothing is allocated and nothing can fail. */
  enum { BLOCK = 1024 }; /* even, so pixel pairs never straddle blocks */
  int32_t wv[4 * BLOCK];
  /* R0..R3 G0..G3 B0..B3 of one window, then zeros. */
  const __m128i group = _mm_setr_epi8(0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11, -1, -1, -1, -1);
  /* [r_i, r_i+1, b_i, 0 | g_i, g_i+1, b_i+1, 0] -> r_i g_i b_i r_i+1 g_i+1 b_i+1 */
  const __m256i order = _mm256_setr_epi32(0, 4, 2, 1, 5, 6, 3, 7);
  const __m256i half = _mm256_set1_epi32(HALF);
  const uint8_t *end = src + src_len;
  for (int i0 = 0; i0 < n; i0 += BLOCK) {
    const int i1 = n - i0 < BLOCK ? n : i0 + BLOCK;
    for (int i = i0; i < i1; i++)
      for (int j = 0; j < 4; j++) wv[4 * (i - i0) + j] = j < taps ? w[(long)i * ksize + j] : 0;
    for (int y = 0; y < rows; y++) {
      const uint8_t *in = src + (long)y * src_stride;
      uint8_t *out = dst + (long)y * dst_stride;
      int i = i0;
      for (; i + 1 < i1; i += 2) {
        const uint8_t *p = in + (long)(start[i] - x0) * 3, *q = in + (long)(start[i + 1] - x0) * 3;
        if (q + 16 > end || p + 16 > end) {
          rgb_scalar(p, w + (long)i * ksize, taps, out + 3 * i);
          rgb_scalar(q, w + (long)(i + 1) * ksize, taps, out + 3 * i + 3);
          continue;
        }
        __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), group);
        __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)q), group);
        __m128i wa = _mm_loadu_si128((const __m128i *)(wv + 4 * (i - i0)));
        __m128i wb = _mm_loadu_si128((const __m128i *)(wv + 4 * (i - i0) + 4));
        __m256i rga = _mm256_mullo_epi32(_mm256_cvtepu8_epi32(a), _mm256_set_m128i(wa, wa));
        __m256i rgb2 = _mm256_mullo_epi32(_mm256_cvtepu8_epi32(b), _mm256_set_m128i(wb, wb));
        __m128i bb = _mm_unpacklo_epi32(_mm_srli_si128(a, 8), _mm_srli_si128(b, 8)); /* B_i, B_i+1 bytes */
        __m256i bl = _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bb), _mm256_set_m128i(wb, wa));
        __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(rga, rgb2), _mm256_hadd_epi32(bl, _mm256_setzero_si256()));
        s = _mm256_permutevar8x32_epi32(_mm256_srai_epi32(_mm256_add_epi32(s, half), PRECISION_BITS), order);
        __m128i v16 = _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        __m128i v8 = _mm_packus_epi16(v16, v16);
        uint64_t px = (uint64_t)_mm_cvtsi128_si64(v8);
        uint8_t *o = out + 3 * i;
        for (int c = 0; c < 6; c++) o[c] = (uint8_t)(px >> (8 * c));
      }
      for (; i < i1; i++) rgb_scalar(in + (long)(start[i] - x0) * 3, w + (long)i * ksize, taps, out + 3 * i);
    }
  }
}
#endif

void snd_resample_rows(const uint8_t *src, long src_len, int src_stride, int x0, int ch, const int32_t *start,
                       int taps, const int32_t *w, int ksize, int n, uint8_t *dst, int dst_stride, int rows) {
#if SND_AVX2
  if (ch == 3 && taps <= 4 && __builtin_cpu_supports("avx2")) {
    rows3_avx2(src, src_len, src_stride, x0, start, taps, w, ksize, n, dst, dst_stride, rows);
    return;
  }
#endif
  (void)src_len;
  if (ch == 3)
    rows3(src, src_stride, x0, start, taps, w, ksize, n, dst, dst_stride, rows);
  else
    rows1(src, src_stride, x0, start, taps, w, ksize, n, dst, dst_stride, rows);
}

SND_CLONES void snd_resample_cols(const uint8_t *src, int src_stride, int y0, int row_len, const int32_t *start,
                       const int32_t *ntaps, const int32_t *w, int ksize, int n, uint8_t *dst, int dst_stride) {
  for (int i = 0; i < n; i++) {
    const int32_t *k = w + (long)i * ksize;
    const uint8_t *restrict r = src + (long)(start[i] - y0) * src_stride;
    uint8_t *restrict out = dst + (long)i * dst_stride;
    int taps = ntaps[i];
    if (taps == 2) {
      const uint8_t *restrict r1 = r + src_stride;
      int32_t w0 = k[0], w1 = k[1];
      for (int x = 0; x < row_len; x++) out[x] = clip8(HALF + r[x] * w0 + r1[x] * w1);
    } else if (taps == 3) {
      const uint8_t *restrict r1 = r + src_stride, *restrict r2 = r1 + src_stride;
      int32_t w0 = k[0], w1 = k[1], w2 = k[2];
      for (int x = 0; x < row_len; x++) out[x] = clip8(HALF + r[x] * w0 + r1[x] * w1 + r2[x] * w2);
    } else {
      for (int x = 0; x < row_len; x++) {
        int32_t s = HALF;
        for (int j = 0; j < taps; j++) s += r[(long)j * src_stride + x] * k[j];
        out[x] = clip8(s);
      }
    }
  }
}

void snd_lut_row(const uint8_t *src, int n, int ch_in, int out_c, const float *lut, float *dst, long plane, int flip) {
  if (ch_in == 3 && out_c == 3) { /* the common case in one pass over the row */
    float *restrict r = dst, *restrict g = dst + plane, *restrict b = dst + 2 * plane;
    const float *lr = lut, *lg = lut + 256, *lb = lut + 512;
    for (int x = 0; x < n; x++) {
      const uint8_t *p = src + 3 * (flip ? n - 1 - x : x);
      r[x] = lr[p[0]];
      g[x] = lg[p[1]];
      b[x] = lb[p[2]];
    }
    return;
  }
  for (int c = 0; c < out_c; c++) {
    const float *l = lut + 256 * c;
    float *restrict out = dst + c * plane;
    int step = flip ? -1 : 1, x0 = flip ? n - 1 : 0;
    if (ch_in == out_c || ch_in == 1) {
      int k = ch_in == 1 ? 0 : c;
      for (int x = 0; x < n; x++) out[x] = l[src[(x0 + step * x) * ch_in + k]];
    } else {
      for (int x = 0; x < n; x++) {
        const uint8_t *p = src + (x0 + step * x) * 3;
        out[x] = l[(19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16];
      }
    }
  }
}
