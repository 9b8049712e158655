package transform

/*
#cgo CFLAGS: -O3
#include "render_kernels.h"
*/
import "C"

import "unsafe"

// renderSample runs the output pass in C, where the compiler vectorizes the
// uint8 -> float32 conversion; the Go version was the loader's bottleneck.
// No pointer is kept after the call (cgo rules).
func renderSample(src []byte, dst []float32, c, inH, inW, outH, outW, x0, xs, y0, vy0, vy1, lo, hi int, mean, std, pad []float32) {
	C.snd_render_sample((*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(src))), C.int(c), C.int(inH), C.int(inW),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(dst))), C.int(outH), C.int(outW),
		C.int(x0), C.int(xs), C.int(y0), C.int(vy0), C.int(vy1), C.int(lo), C.int(hi),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(mean))), (*C.float)(unsafe.Pointer(unsafe.SliceData(std))),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(pad))))
}
