/* The array pipeline's output pass (see pipeline.go, render). */
#pragma once
#include <stdint.h>

/* Writes one C x out_h x out_w float32 sample. Output pixel (y, x) of channel
 * c is src[c][y0 + y][x0 + xs*x] converted as ((float)v / 255 - mean[c]) /
 * std[c] (ToTensor then Normalize, same float32 operations), or pad[c] when
 * the source position lies outside [vx0, vx1) x [vy0, vy1). Columns lo..hi
 * are the in-range ones. */
void snd_render_sample(const uint8_t *src, int channels, int in_h, int in_w, float *dst, int out_h, int out_w,
                       int x0, int xs, int y0, int vy0, int vy1, int lo, int hi, const float *mean,
                       const float *std, const float *pad);
