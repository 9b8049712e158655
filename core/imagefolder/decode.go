package imagefolder

/*
#cgo CFLAGS: -O2
#cgo LDFLAGS: -ljpeg -lturbojpeg
#include <stdlib.h>
#include "jpeg.h"
*/
import "C"

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"sync"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/transform"
)

var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
)

// maxPixels refuses decompression bombs, at Pillow's error threshold
// (2 x Image.MAX_IMAGE_PIXELS).
const maxPixels = 2 * 89478485

func checkSize(kind string, w, h int) error {
	if w <= 0 || h <= 0 {
		return errs.Corruptf("%s: no pixels (%dx%d)", kind, w, h)
	}
	if int64(w)*int64(h) > maxPixels {
		return errs.Corruptf("%s: %dx%d pixels is over the %d-pixel limit (decompression bomb?)", kind, w, h, maxPixels)
	}
	return nil
}

// NewDecoder sniffs data (JPEG or PNG, whatever the file name says) and
// returns a decoder that has read the header only. Errors are ErrCorrupt.
func NewDecoder(data []byte) (transform.Decoder, error) {
	switch {
	case len(data) == 0:
		return nil, errs.Corruptf("empty file")
	case bytes.HasPrefix(data, jpegMagic):
		return newJPEG(data)
	case bytes.HasPrefix(data, pngMagic):
		return newPNG(data)
	}
	head := data[:min(len(data), 8)]
	return nil, errs.Corruptf("not a JPEG or PNG image (starts with % x)", head)
}

type jpegDecoder struct {
	data  []byte
	w, h  int
	comps int
	pix   []byte // the last decode's buffer, returned to the pool by release
}

func newJPEG(data []byte) (*jpegDecoder, error) {
	var w, h, comps C.int
	var msg [C.SND_JPEG_MSG]C.char
	if C.snd_jpeg_header((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)), &w, &h, &comps, &msg[0]) != 0 {
		return nil, errs.Corruptf("JPEG: %s", C.GoString(&msg[0]))
	}
	if err := checkSize("JPEG", int(w), int(h)); err != nil {
		return nil, err
	}
	return &jpegDecoder{data: data, w: int(w), h: int(h), comps: int(comps)}, nil
}

func (d *jpegDecoder) Size() (int, int) { return d.w, d.h }
func (d *jpegDecoder) Scales() bool     { return true }

// edge is how far a requested region is widened before decoding: libjpeg's
// smooth chroma upsampling at the border of a partial decode may differ
// from a full decode, so those border pixels are decoded but not used.
const edge = 16

// maxIMCU bounds how far libjpeg widens a region to iMCU boundaries.
const maxIMCU = 32

var pixPool sync.Pool

func getPix(n int) []byte {
	if b, ok := pixPool.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n)
}

// release returns the decoded pixels to the pool once the sample is done.
func (d *jpegDecoder) release() {
	if cap(d.pix) > 0 {
		b := d.pix[:0]
		pixPool.Put(&b)
		d.pix = nil
	}
}

func (d *jpegDecoder) Decode(num int, r transform.Rect) (*transform.Image, error) {
	if num < 1 || num > 8 {
		num = 8
	}
	sw, sh := (d.w*num+7)/8, (d.h*num+7)/8
	x0, y0 := max(r.X0-edge, 0), max(r.Y0-edge, 0)
	x1, y1 := min(r.X1+edge, sw), min(r.Y1+edge, sh)
	if x1 <= x0 || y1 <= y0 {
		x0, y0, x1, y1 = 0, 0, 1, 1
	}
	ch := 3
	if d.comps == 1 {
		ch = 1
	}
	need := (min(x1-x0+2*maxIMCU, sw) * ch) * (y1 - y0)
	d.release()
	pix := getPix(need)
	d.pix = pix
	var rx, rw, ry, rh, chans C.int
	var msg [C.SND_JPEG_MSG]C.char
	rc := C.snd_jpeg_decode((*C.uchar)(unsafe.Pointer(&d.data[0])), C.size_t(len(d.data)), C.int(num),
		C.int(x0), C.int(y0), C.int(x1), C.int(y1), (*C.uchar)(unsafe.Pointer(&pix[0])), C.size_t(len(pix)),
		&rx, &rw, &ry, &rh, &chans, &msg[0])
	switch rc {
	case 0:
	case -2:
		return nil, errs.Invalidf("JPEG: region buffer too small (%d bytes)", len(pix))
	default:
		return nil, errs.Corruptf("JPEG: %s", C.GoString(&msg[0]))
	}
	c := int(chans)
	return &transform.Image{Pix: pix[:int(rw)*c*int(rh)], Stride: int(rw) * c, C: c,
		Rect: transform.Rect{X0: int(rx), Y0: int(ry), X1: int(rx + rw), Y1: int(ry + rh)}, W: sw, H: sh}, nil
}

// Encode compresses packed RGB (c == 3) or gray (c == 1) pixels as a JPEG
// of the given quality with libjpeg-turbo.
func Encode(pix []byte, w, h, c, quality int) ([]byte, error) {
	if len(pix) < w*h*c || w <= 0 || h <= 0 {
		return nil, errs.Invalidf("encode: %d bytes for a %dx%dx%d image", len(pix), w, h, c)
	}
	var out *C.uchar
	var n C.ulong
	var msg [C.SND_JPEG_MSG]C.char
	if C.snd_jpeg_encode((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), C.int(h), C.int(c), C.int(quality), &out, &n, &msg[0]) != 0 {
		return nil, errs.Invalidf("JPEG encode: %s", C.GoString(&msg[0]))
	}
	defer C.snd_jpeg_free(out)
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}

type pngDecoder struct {
	data []byte
	w, h int
}

func newPNG(data []byte) (*pngDecoder, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, errs.Corruptf("PNG: %v", err)
	}
	if err := checkSize("PNG", cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	return &pngDecoder{data: data, w: cfg.Width, h: cfg.Height}, nil
}

func (d *pngDecoder) Size() (int, int) { return d.w, d.h }
func (d *pngDecoder) Scales() bool     { return false }

// Decode returns the whole image as Pillow's convert("RGB") (or "L" for
// gray PNGs) would: alpha is dropped, not composited; 16-bit samples keep
// their high byte.
func (d *pngDecoder) Decode(int, transform.Rect) (*transform.Image, error) {
	m, err := png.Decode(bytes.NewReader(d.data))
	if err != nil {
		return nil, errs.Corruptf("PNG: %v", err)
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	switch src := m.(type) {
	case *image.Gray:
		out := transform.NewImage(w, h, 1)
		for y := 0; y < h; y++ {
			copy(out.Pix[y*w:(y+1)*w], src.Pix[y*src.Stride:])
		}
		return out, nil
	case *image.Gray16:
		out := transform.NewImage(w, h, 1)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out.Pix[y*w+x] = src.Pix[y*src.Stride+2*x]
			}
		}
		return out, nil
	case *image.RGBA: // opaque truecolour
		return fromRGBA(src.Pix, src.Stride, w, h), nil
	case *image.NRGBA:
		return fromRGBA(src.Pix, src.Stride, w, h), nil
	case *image.NRGBA64:
		return from64(src.Pix, src.Stride, w, h), nil
	case *image.RGBA64:
		return from64(src.Pix, src.Stride, w, h), nil
	case *image.Paletted: // the palette's RGB, transparency ignored, as Pillow's P -> RGB
		out := transform.NewImage(w, h, 3)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var r, g, bl uint8
				switch c := src.Palette[src.Pix[y*src.Stride+x]].(type) {
				case color.NRGBA:
					r, g, bl = c.R, c.G, c.B
				case color.RGBA:
					r, g, bl = c.R, c.G, c.B
				}
				o := out.Pix[3*(y*w+x):]
				o[0], o[1], o[2] = r, g, bl
			}
		}
		return out, nil
	}
	return nil, errs.Unsupportedf("PNG: unsupported pixel layout %T", m)
}

// from64 keeps the high byte of 16-bit RGBA samples, dropping alpha.
func from64(pix []byte, stride, w, h int) *transform.Image {
	out := transform.NewImage(w, h, 3)
	for y := 0; y < h; y++ {
		in := pix[y*stride : y*stride+8*w]
		o := out.Pix[3*w*y : 3*w*(y+1)]
		for x := 0; x < w; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = in[8*x], in[8*x+2], in[8*x+4]
		}
	}
	return out
}

func fromRGBA(pix []byte, stride, w, h int) *transform.Image {
	out := transform.NewImage(w, h, 3)
	for y := 0; y < h; y++ {
		in := pix[y*stride : y*stride+4*w]
		o := out.Pix[3*w*y : 3*w*(y+1)]
		for x := 0; x < w; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = in[4*x], in[4*x+1], in[4*x+2]
		}
	}
	return out
}
