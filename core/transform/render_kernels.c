#include "render_kernels.h"

/* Kept out of line and written as plain loops so the compiler vectorizes the
 * forward case; no -ffast-math, so results match the Go lookup table bit for bit. */
/* AVX2 where the CPU has it (chosen at load time), baseline SSE2 otherwise. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SND_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define SND_MULTIVERSION
#endif

SND_MULTIVERSION static void convert_forward(const uint8_t *s, float *d, int n, float mean, float std) {
	for (int i = 0; i < n; i++) {
		d[i] = ((float)s[i] / 255.0f - mean) / std;
	}
}

SND_MULTIVERSION static void convert_reverse(const uint8_t *s, float *d, int n, float mean, float std) {
	/* s points at the source of d[0]; later outputs read earlier sources.
	 * Reversing the bytes first keeps the conversion on the vectorized path. */
	uint8_t chunk[1024];
	while (n > 0) {
		int m = n < 1024 ? n : 1024;
		for (int i = 0; i < m; i++) chunk[i] = s[-i];
		convert_forward(chunk, d, m, mean, std);
		s -= m;
		d += m;
		n -= m;
	}
}

void snd_render_sample(const uint8_t *src, int channels, int in_h, int in_w, float *dst, int out_h, int out_w,
                       int x0, int xs, int y0, int vy0, int vy1, int lo, int hi, const float *mean,
                       const float *std, const float *pad) {
	const long plane = (long)in_h * in_w;
	for (int c = 0; c < channels; c++) {
		const uint8_t *sp = src + c * plane;
		float *out = dst + (long)c * out_h * out_w;
		for (int y = 0; y < out_h; y++) {
			float *row = out + (long)y * out_w;
			int sy = y0 + y;
			if (sy < vy0 || sy >= vy1) {
				for (int x = 0; x < out_w; x++) row[x] = pad[c];
				continue;
			}
			for (int x = 0; x < lo; x++) row[x] = pad[c];
			const uint8_t *srow = sp + (long)sy * in_w;
			if (hi > lo) {
				if (xs > 0) {
					convert_forward(srow + x0 + lo, row + lo, hi - lo, mean[c], std[c]);
				} else {
					convert_reverse(srow + x0 - lo, row + lo, hi - lo, mean[c], std[c]);
				}
			}
			for (int x = hi; x < out_w; x++) row[x] = pad[c];
		}
	}
}
