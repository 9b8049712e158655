/* Pillow-exact 8-bit resampling passes (see resample.go). */
#pragma once
#include <stdint.h>

/* Horizontal pass: for each of rows, output pixel i of ch channels is the
 * sum over taps of src[(start[i]-x0+k)*ch + c] * w[i*ksize+k]. src_len is
 * how many bytes src holds (vector loads never pass it). */
void snd_resample_rows(const uint8_t *src, long src_len, int src_stride, int x0, int ch, const int32_t *start,
                       int taps, const int32_t *w, int ksize, int n, uint8_t *dst, int dst_stride, int rows);

/* Vertical pass: output row i (row_len bytes) is the sum over k < ntaps[i]
 * of src row (start[i]-y0+k) * w[i*ksize+k]. */
void snd_resample_cols(const uint8_t *src, int src_stride, int y0, int row_len, const int32_t *start,
                       const int32_t *ntaps, const int32_t *w, int ksize, int n, uint8_t *dst, int dst_stride);

/* One output row through per-channel lookup tables (256 floats each, see
 * buildLUT): pixel x of src (ch_in interleaved channels) goes to
 * dst + c*plane + x, mirrored when flip. ch_in 1 with out_c 3 replicates gray; ch_in 3 with out_c 1 uses
 * Pillow's L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
void snd_lut_row(const uint8_t *src, int n, int ch_in, int out_c, const float *lut, float *dst, long plane, int flip);
