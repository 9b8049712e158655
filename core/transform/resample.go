package transform

/*
#cgo CFLAGS: -O3
#include "resample_kernels.h"
*/
import "C"

import "math"

// Resampling reproduces Pillow's Image.resize(BILINEAR, box=...) on 8-bit
// images bit for bit: the same filter (a triangle stretched by the
// downscale factor, which is what "antialias" means), the same bounds
// rounding, the same 22-bit fixed-point coefficients and a uint8
// intermediate between the two passes. torchvision's Resize and
// RandomResizedCrop call exactly this on PIL images. The pass order follows
// Pillow 13 where it is known (vertical first when the width grows and the
// height shrinks); when both axes shrink we go horizontal first, as Pillow
// <= 12 always did, and Pillow 13 sometimes does not: pixels may then differ
// by one grey level. The passes themselves are C (resample_kernels.c), which
// compilers vectorise; Go's loops were twice as slow as the JPEG decode.

// precisionBits is Pillow's PRECISION_BITS for 8-bit images.
const precisionBits = 32 - 8 - 2

// coeffs are the taps of one axis: output pixel i reads in[start[i]+k] for
// k < n[i], weighted by w[i*ksize+k].
type coeffs struct {
	start, n []int32
	w        []int32
	ksize    int
	k        []float64 // scratch
}

// compute is Pillow's precompute_coeffs + normalize_coeffs_8bpc for an
// input axis of inSize pixels, the source interval [in0, in1) and outSize
// outputs, of which only [from, to) are computed (a window of the full
// grid). It reuses c's slices.
func (c *coeffs) compute(inSize int, in0, in1 float64, outSize, from, to int) {
	scale := (in1 - in0) / float64(outSize)
	filterscale := max(scale, 1.0)
	support := 1.0 * filterscale // bilinear support is 1
	ksize := int(math.Ceil(support))*2 + 1
	n := to - from
	c.start = grow(c.start, n)
	c.n = grow(c.n, n)
	c.w = grow(c.w, n*ksize)
	c.k = grow(c.k, ksize)
	c.ksize = ksize
	k := c.k
	ss := 1.0 / filterscale
	for i := 0; i < n; i++ {
		xx := from + i
		center := in0 + (float64(xx)+0.5)*scale
		xmin := int(center - support + 0.5) // C truncation, like Pillow's (int) cast
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		if xmax < 0 {
			xmax = 0
		}
		ww := 0.0
		for x := 0; x < xmax; x++ {
			t := (float64(x+xmin) - center + 0.5) * ss
			if t < 0 {
				t = -t
			}
			w := 0.0
			if t < 1 {
				w = 1 - t
			}
			k[x] = w
			ww += w
		}
		for x := 0; x < xmax; x++ {
			v := k[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				c.w[i*ksize+x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				c.w[i*ksize+x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		for x := xmax; x < ksize; x++ {
			c.w[i*ksize+x] = 0
		}
		c.start[i], c.n[i] = int32(xmin), int32(xmax)
	}
	c.uniform(inSize)
}

// uniform gives every output the same tap count (the largest), padding with
// zero weights and moving a window that would pass the input's end left.
// Zero taps add nothing, so results are unchanged, but the loops over taps
// no longer branch on a count that changes from pixel to pixel.
func (c *coeffs) uniform(inSize int) {
	taps := 0
	for _, n := range c.n {
		taps = max(taps, int(n))
	}
	if taps > inSize {
		return
	}
	for i, n32 := range c.n {
		n := int(n32)
		if n == taps {
			continue
		}
		w := c.w[i*c.ksize : i*c.ksize+c.ksize]
		if shift := int(c.start[i]) + taps - inSize; shift > 0 {
			copy(w[shift:n+shift], w[:n])
			clear(w[:shift])
			c.start[i] -= int32(shift)
		}
		c.n[i] = int32(taps)
	}
}

// grow returns s resized to n, reallocating only when it is too short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// span is the range of input pixels the outputs read.
func (c *coeffs) span() (lo, hi int) {
	if len(c.start) == 0 {
		return 0, 0
	}
	lo, hi = math.MaxInt, 0
	for i, s := range c.start {
		if c.n[i] == 0 {
			continue
		}
		lo = min(lo, int(s))
		hi = max(hi, int(s+c.n[i]))
	}
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

// resampleRows applies horizontal taps: for each of rows, reads src row y
// (HWC, ch channels, stride srcStride; src[0] is the axis position x0) and
// writes len(c.start) pixels to dst (stride dstStride).
func resampleRows(c *coeffs, src []byte, srcStride, x0, ch int, dst []byte, dstStride, rows int) {
	n := len(c.start)
	if n == 0 || rows <= 0 {
		return
	}
	taps := int(c.n[0])
	// The kernel indexes without checks: check every tap's reach here.
	for i := 0; i < n; i++ {
		lo, hi := (int(c.start[i])-x0)*ch, (int(c.start[i])-x0+taps)*ch
		if int(c.n[i]) != taps || lo < 0 || (rows-1)*srcStride+hi > len(src) {
			panic("resample: taps outside the source")
		}
	}
	if (rows-1)*dstStride+n*ch > len(dst) {
		panic("resample: destination too small")
	}
	C.snd_resample_rows((*C.uint8_t)(&src[0]), C.long(len(src)), C.int(srcStride), C.int(x0), C.int(ch), (*C.int32_t)(&c.start[0]), C.int(taps),
		(*C.int32_t)(&c.w[0]), C.int(c.ksize), C.int(n), (*C.uint8_t)(&dst[0]), C.int(dstStride), C.int(rows))
}

// resampleCols applies vertical taps: output row i (rowLen bytes, written
// at dst[i*rowLen:]) is the weighted sum of src rows c.start[i]-y0 ...
// (stride srcStride).
func resampleCols(c *coeffs, src []byte, srcStride, y0, rowLen int, dst []byte) {
	n := len(c.start)
	if n == 0 || rowLen <= 0 {
		return
	}
	for i := 0; i < n; i++ {
		lo, hi := int(c.start[i])-y0, int(c.start[i])-y0+int(c.n[i])
		if c.n[i] > 0 && (lo < 0 || (hi-1)*srcStride+rowLen > len(src)) {
			panic("resample: taps outside the source")
		}
	}
	if n*rowLen > len(dst) {
		panic("resample: destination too small")
	}
	C.snd_resample_cols((*C.uint8_t)(&src[0]), C.int(srcStride), C.int(y0), C.int(rowLen), (*C.int32_t)(&c.start[0]),
		(*C.int32_t)(&c.n[0]), (*C.int32_t)(&c.w[0]), C.int(c.ksize), C.int(n), (*C.uint8_t)(&dst[0]), C.int(rowLen))
}
