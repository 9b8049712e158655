package transform

/*
#include "resample_kernels.h"
*/
import "C"

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Rect is a half-open pixel rectangle [X0, X1) x [Y0, Y1).
type Rect struct{ X0, Y0, X1, Y1 int }

// Dx is the width of r.
func (r Rect) Dx() int { return r.X1 - r.X0 }

// Dy is the height of r.
func (r Rect) Dy() int { return r.Y1 - r.Y0 }

// Image holds 8-bit interleaved pixels (HWC) of the region Rect of a W x H
// image; C is 1 (gray) or 3 (RGB).
type Image struct {
	Pix    []byte
	Stride int
	C      int
	Rect   Rect
	W, H   int
}

// NewImage allocates a whole w x h image of c channels.
func NewImage(w, h, c int) *Image {
	return &Image{Pix: make([]byte, w*h*c), Stride: w * c, C: c, Rect: Rect{0, 0, w, h}, W: w, H: h}
}

// row returns the pixels of row y from column Rect.X0 on.
func (m *Image) row(y int) []byte { return m.Pix[(y-m.Rect.Y0)*m.Stride:] }

// Decoder gives an ImagePipeline the pixels it needs, so a JPEG decoder can
// decode a region only and use DCT-domain downscaling.
type Decoder interface {
	// Size is the full image's size.
	Size() (w, h int)
	// Scales reports whether Decode honours num < 8.
	Scales() bool
	// Decode returns an Image holding at least region r of the image
	// reduced by num/8 (whose size is ceil(w*num/8) x ceil(h*num/8)); r and
	// the returned Image's W, H and Rect are in the reduced coordinates.
	Decode(num int, r Rect) (*Image, error)
}

// ImageDecoder serves an in-memory image (no scaling).
type ImageDecoder struct{ Img *Image }

func (d ImageDecoder) Size() (int, int)                 { return d.Img.W, d.Img.H }
func (d ImageDecoder) Scales() bool                     { return false }
func (d ImageDecoder) Decode(int, Rect) (*Image, error) { return d.Img, nil }

const (
	opResize = iota
	opCenterCrop
	opRandomCrop
	opRandomResizedCrop
	opFlip
)

type imageOp struct {
	kind        int
	size        [2]int // [h, w]; for resize, w == 0 means "shorter side = h"
	maxSize     int
	padding     int
	padIfNeeded bool
	scale       [2]float64
	ratio       [2]float64
	p           float64
}

// ImageOptions tune how an ImagePipeline trades exactness for speed.
type ImageOptions struct {
	// DCTScaling lets JPEG decoding downscale by 1/2, 1/4 or 1/8 in the DCT
	// domain when the resize that follows shrinks by at least that much. The result
	// differs slightly from resizing the full-size decode (torchvision).
	DCTScaling bool
	// Size is the dataset's (h, w): the default size of center_crop and
	// random_resized_crop, and (scaled by 256/224, the ImageNet convention)
	// of resize. When the specs do not end at a fixed size (e.g. only
	// "to_tensor") resize + center_crop to Size are appended. Zero means
	// 224 x 224, and an error for specs without a fixed size.
	Size [2]int
}

// ImagePipeline is a compiled transform list for decoded images of any
// size: torchvision's Resize, CenterCrop, RandomCrop, RandomResizedCrop,
// RandomHorizontalFlip, ToTensor and Normalize, with their semantics on PIL
// images. Geometric steps compose lazily, so a crop before a resize decodes
// only the crop, and a crop after one resamples only the kept pixels. It is
// immutable and safe for concurrent use.
type ImagePipeline struct {
	ops        []imageOp
	c          int
	outH, outW int
	lut        [][256]float32 // per channel: uint8 value -> normalised float32
	names      []string
	random     bool
	dct        bool
}

// CompileImage builds a pipeline producing c-channel (1 or 3) float32 CHW
// samples. mean and std are the dataset's defaults for "normalize".
func CompileImage(specs []Spec, c int, mean, std []float64, opt ImageOptions) (*ImagePipeline, error) {
	if c != 1 && c != 3 {
		return nil, errs.Invalidf("transform: image pipelines produce 1 or 3 channels, not %d", c)
	}
	p := &ImagePipeline{c: c, dct: opt.DCTScaling}
	var normMean, normStd []float64
	h, w := 0, 0 // the fixed size so far; 0 when it depends on the image
	size := opt.Size
	if size[0] <= 0 || size[1] <= 0 {
		size = [2]int{224, 224}
	}
	resizeTo := int(math.Round(float64(max(size[0], size[1])) * 256 / 224))
	for _, s := range specs {
		pr := newParams(s)
		switch s.Name {
		case "to_tensor":
		case "normalize":
			normMean, normStd = normalizeParams(pr, mean, std)
		case "resize":
			op := imageOp{kind: opResize, size: sizeParam(pr, "size", [2]int{resizeTo, 0}), maxSize: pr.int("max_size", 0)}
			if op.size[0] <= 0 || op.size[1] < 0 || op.maxSize < 0 {
				pr.fail("resize: size and max_size must be positive")
			}
			if op.maxSize > 0 && op.size[1] != 0 {
				pr.fail("resize: max_size only applies when size is a single number")
			}
			if op.maxSize > 0 && op.maxSize <= op.size[0] {
				pr.fail("resize: max_size %d must be larger than size %d", op.maxSize, op.size[0])
			}
			if op.size[1] != 0 {
				h, w = op.size[0], op.size[1]
			} else {
				h, w = 0, 0
			}
			p.ops = append(p.ops, op)
		case "center_crop":
			op := imageOp{kind: opCenterCrop, size: sizeParam(pr, "size", size)}
			if op.size[1] == 0 {
				op.size[1] = op.size[0]
			}
			if op.size[0] <= 0 || op.size[1] <= 0 {
				pr.fail("center_crop: size must be positive")
			}
			h, w = op.size[0], op.size[1]
			p.ops = append(p.ops, op)
		case "random_crop":
			op := imageOp{kind: opRandomCrop, size: sizeParam(pr, "size", [2]int{h, w}), padding: pr.int("padding", 0),
				padIfNeeded: boolParam(pr, "pad_if_needed", false)}
			if op.size[1] == 0 {
				op.size[1] = op.size[0]
			}
			if op.size[0] <= 0 || op.size[1] <= 0 {
				pr.fail("random_crop: pass a size (the image size is not fixed here)")
			}
			if op.padding < 0 {
				pr.fail("random_crop: padding must be >= 0")
			}
			h, w = op.size[0], op.size[1]
			p.ops = append(p.ops, op)
			p.random = true
		case "random_resized_crop":
			op := imageOp{kind: opRandomResizedCrop, size: sizeParam(pr, "size", size),
				scale: floatPair(pr, "scale", [2]float64{0.08, 1}), ratio: floatPair(pr, "ratio", [2]float64{3.0 / 4, 4.0 / 3})}
			if op.size[1] == 0 {
				op.size[1] = op.size[0]
			}
			if op.size[0] <= 0 || op.size[1] <= 0 {
				pr.fail("random_resized_crop: size must be positive")
			}
			if !(op.scale[0] > 0 && op.scale[0] <= op.scale[1]) || !(op.ratio[0] > 0 && op.ratio[0] <= op.ratio[1]) {
				pr.fail("random_resized_crop: scale and ratio must be positive (min, max) pairs")
			}
			h, w = op.size[0], op.size[1]
			p.ops = append(p.ops, op)
			p.random = true
		case "random_horizontal_flip":
			prob := pr.float("p", 0.5)
			if prob < 0 || prob > 1 {
				pr.fail("random_horizontal_flip: p must be in [0, 1], got %v", prob)
			}
			p.ops = append(p.ops, imageOp{kind: opFlip, p: prob})
			p.random = p.random || (prob > 0 && prob < 1)
		default:
			return nil, errs.Invalidf("unknown transform %q (known: to_tensor, normalize, resize, center_crop, random_crop, random_resized_crop, random_horizontal_flip)", s.Name)
		}
		if err := pr.done(); err != nil {
			return nil, err
		}
		p.names = append(p.names, s.String())
	}
	if h == 0 {
		if opt.Size[0] <= 0 || opt.Size[1] <= 0 {
			return nil, errs.Invalidf("transform: images vary in size, so the transforms must end at a fixed size (add center_crop or a resize with [h, w])")
		}
		side := max(size[0], size[1])
		p.ops = append(p.ops, imageOp{kind: opResize, size: [2]int{side, 0}}, imageOp{kind: opCenterCrop, size: size})
		p.names = append(p.names, Spec{Name: "resize", Params: map[string]any{"size": side}}.String(),
			Spec{Name: "center_crop", Params: map[string]any{"size": []any{size[0], size[1]}}}.String())
		h, w = size[0], size[1]
	}
	p.outH, p.outW = h, w
	lut, err := buildLUT(c, normMean, normStd)
	if err != nil {
		return nil, err
	}
	p.lut = lut
	return p, nil
}

// sizeParam reads an int (w == 0 marks "single number") or [h, w].
func sizeParam(pr *params, key string, def [2]int) [2]int {
	pr.used[key] = true
	v, ok := pr.spec.Params[key]
	if !ok || v == nil {
		return def
	}
	if f, ok := v.(float64); ok {
		if f != math.Trunc(f) {
			pr.fail("%s: parameter %q must be an integer, got %v", pr.spec.Name, key, f)
		}
		return [2]int{int(f), 0}
	}
	if l, ok := v.([]any); ok && len(l) == 1 {
		if f, ok := l[0].(float64); ok && f == math.Trunc(f) {
			return [2]int{int(f), 0} // torchvision reads [n] as n
		}
	}
	return pr.pair(key, def)
}

func boolParam(pr *params, key string, def bool) bool {
	pr.used[key] = true
	v, ok := pr.spec.Params[key]
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		pr.fail("%s: parameter %q must be true or false, got %v", pr.spec.Name, key, v)
	}
	return b
}

func floatPair(pr *params, key string, def [2]float64) [2]float64 {
	f := pr.floats(key)
	if f == nil {
		return def
	}
	if len(f) != 2 {
		pr.fail("%s: parameter %q must be a (min, max) pair", pr.spec.Name, key)
		return def
	}
	return [2]float64{f[0], f[1]}
}

// OutShape is the (C, H, W) of every output sample.
func (p *ImagePipeline) OutShape() (int, int, int) { return p.c, p.outH, p.outW }

// Names lists the compiled transforms, for metadata.
func (p *ImagePipeline) Names() []string { return append([]string(nil), p.names...) }

// Random reports whether outputs depend on the sample seed.
func (p *ImagePipeline) Random() bool { return p.random }

// Step records what a random transform drew for one sample (for tests and
// for reproducing a sample with torchvision's functional API).
type Step struct {
	Op     string `json:"op"`
	Top    int    `json:"top"`
	Left   int    `json:"left"`
	Height int    `json:"height"`
	Width  int    `json:"width"`
	Flip   bool   `json:"flip"`
}

// view is the image as the transforms so far have made it, not yet
// computed: the rectangle clip of the base image is resampled from box
// (relative to clip) onto a gw x gh grid, of which the window
// (wx, wy, ww, wh) is visible (outside the grid: zero padding), mirrored
// when flip. Pillow resamples a cropped image within the crop's bounds, so
// clip is also where the filter stops.
type view struct {
	clip               Rect
	bx0, by0, bx1, by1 float64
	gw, gh             int
	resampled          bool
	wx, wy, ww, wh     int
	flip               bool
}

func identityView(w, h int) view {
	return view{clip: Rect{0, 0, w, h}, bx1: float64(w), by1: float64(h), gw: w, gh: h, ww: w, wh: h}
}

func (v *view) crop(top, left, h, w int) {
	if v.flip {
		left = v.ww - left - w
	}
	v.wx += left
	v.wy += top
	v.ww, v.wh = w, h
}

func (v *view) windowInGrid() bool {
	return v.wx >= 0 && v.wy >= 0 && v.wx+v.ww <= v.gw && v.wy+v.wh <= v.gh
}

// run is one sample's execution state.
type run struct {
	p     *ImagePipeline
	dec   Decoder
	base  *Image // nil until decoded
	v     view
	rng   *rand.Rand
	pcg   rand.PCG
	trace *[]Step
	// Scratch reused across samples (runs come from a pool).
	hc, vc          coeffs
	tmp, line, vout []byte
	materialized    [2]*Image
}

var runPool = sync.Pool{New: func() any { r := &run{}; r.rng = rand.New(&r.pcg); return r }}

// Apply decodes and transforms one image into dst (len C*H*W of OutShape)
// with randomness from seed.
func (p *ImagePipeline) Apply(dec Decoder, dst []float32, seed uint64) error {
	return p.ApplyTrace(dec, dst, seed, nil)
}

// ApplyTrace is Apply that also appends the random draws to trace.
func (p *ImagePipeline) ApplyTrace(dec Decoder, dst []float32, seed uint64, trace *[]Step) error {
	w, h := dec.Size()
	if w <= 0 || h <= 0 {
		return errs.Corruptf("image has no pixels (%dx%d)", w, h)
	}
	r := runPool.Get().(*run)
	defer runPool.Put(r)
	r.p, r.dec, r.base, r.v, r.trace = p, dec, nil, identityView(w, h), trace
	defer func() { r.dec, r.base, r.trace = nil, nil, nil }()
	r.pcg.Seed(seed, mix(seed))
	for i := range p.ops {
		if err := r.step(&p.ops[i]); err != nil {
			return err
		}
	}
	if r.v.ww != p.outW || r.v.wh != p.outH {
		return fmt.Errorf("transform: produced %dx%d, want %dx%d", r.v.ww, r.v.wh, p.outW, p.outH)
	}
	return r.render(dst)
}

func (r *run) record(s Step) {
	if r.trace != nil {
		*r.trace = append(*r.trace, s)
	}
}

func (r *run) step(op *imageOp) error {
	v := &r.v
	switch op.kind {
	case opFlip:
		if op.p >= 1 || (op.p > 0 && r.rng.Float64() < op.p) {
			v.flip = !v.flip
			r.record(Step{Op: "random_horizontal_flip", Flip: true})
		} else {
			r.record(Step{Op: "random_horizontal_flip"})
		}
	case opCenterCrop:
		ch, cw := op.size[0], op.size[1]
		// torchvision pads (fill 0) an image smaller than the crop, then crops the centre.
		top, left := centerOffset(v.wh, ch), centerOffset(v.ww, cw)
		v.crop(top, left, ch, cw)
	case opRandomCrop:
		ch, cw := op.size[0], op.size[1]
		pad := op.padding
		hh, ww := v.wh+2*pad, v.ww+2*pad
		padL, padT := pad, pad
		if op.padIfNeeded && ww < cw {
			padL += cw - ww
			ww += 2 * (cw - ww)
		}
		if op.padIfNeeded && hh < ch {
			padT += ch - hh
			hh += 2 * (ch - hh)
		}
		if hh < ch || ww < cw {
			return errs.Invalidf("random_crop: crop size (%d, %d) is larger than the (padded) image (%d, %d); pass pad_if_needed=true", ch, cw, hh, ww)
		}
		i, j := r.rng.IntN(hh-ch+1), r.rng.IntN(ww-cw+1)
		v.crop(i-padT, j-padL, ch, cw)
		r.record(Step{Op: "random_crop", Top: i - padT, Left: j - padL, Height: ch, Width: cw})
	case opRandomResizedCrop:
		i, j, h, w := r.rrcParams(op)
		r.record(Step{Op: "random_resized_crop", Top: i, Left: j, Height: h, Width: w})
		v.crop(i, j, h, w)
		return r.resize(op.size[0], op.size[1])
	case opResize:
		nh, nw := op.size[0], op.size[1]
		if nw == 0 {
			nh, nw = resizedSize(v.wh, v.ww, op.size[0], op.maxSize)
		}
		return r.resize(nh, nw)
	}
	return nil
}

// centerOffset is torchvision's center_crop offset along one axis,
// including the zero padding of an axis shorter than the crop.
func centerOffset(have, want int) int {
	if want > have {
		return -((want - have) / 2)
	}
	return int(math.RoundToEven(float64(have-want) / 2))
}

// resizedSize is torchvision's _compute_resized_output_size for an int size.
func resizedSize(h, w, size, maxSize int) (int, int) {
	short, long := w, h
	if w > h {
		short, long = h, w
	}
	newShort, newLong := size, int(float64(size)*float64(long)/float64(short))
	if maxSize > 0 && newLong > maxSize {
		newShort, newLong = int(float64(maxSize)*float64(newShort)/float64(newLong)), maxSize
	}
	if w <= h {
		return newLong, newShort
	}
	return newShort, newLong
}

// rrcParams is torchvision's RandomResizedCrop.get_params on the visible image.
func (r *run) rrcParams(op *imageOp) (int, int, int, int) {
	width, height := r.v.ww, r.v.wh
	area := float64(height * width)
	logR0, logR1 := math.Log(op.ratio[0]), math.Log(op.ratio[1])
	for range 10 {
		target := area * (op.scale[0] + r.rng.Float64()*(op.scale[1]-op.scale[0]))
		aspect := math.Exp(logR0 + r.rng.Float64()*(logR1-logR0))
		w := int(math.RoundToEven(math.Sqrt(target * aspect)))
		h := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < w && w <= width && 0 < h && h <= height {
			i := r.rng.IntN(height - h + 1)
			j := r.rng.IntN(width - w + 1)
			return i, j, h, w
		}
	}
	inRatio := float64(width) / float64(height)
	w, h := width, height
	if inRatio < op.ratio[0] {
		h = int(math.RoundToEven(float64(w) / op.ratio[0]))
	} else if inRatio > op.ratio[1] {
		w = int(math.RoundToEven(float64(h) * op.ratio[1]))
	}
	return (height - h) / 2, (width - w) / 2, h, w
}

// resize resamples the visible image to nh x nw. A pending resample or
// padding is computed first, as torchvision would have.
func (r *run) resize(nh, nw int) error {
	v := &r.v
	if nh == v.wh && nw == v.ww {
		return nil // Pillow returns a copy for a same-size resize
	}
	if v.resampled || !v.windowInGrid() {
		if err := r.materialize(); err != nil {
			return err
		}
	}
	clip := Rect{v.clip.X0 + v.wx, v.clip.Y0 + v.wy, v.clip.X0 + v.wx + v.ww, v.clip.Y0 + v.wy + v.wh}
	*v = view{clip: clip, bx1: float64(clip.Dx()), by1: float64(clip.Dy()), gw: nw, gh: nh, resampled: true,
		ww: nw, wh: nh, flip: v.flip}
	return nil
}

// materialize computes the visible image into a new base.
func (r *run) materialize() error {
	if r.base == nil {
		if err := r.decode(); err != nil {
			return err
		}
	}
	v := r.v
	// Alternate between two buffers: the current base may be the previous one.
	slot := 0
	if r.base == r.materialized[0] {
		slot = 1
	}
	out := r.materialized[slot]
	c := r.base.C
	if out == nil {
		out = &Image{}
		r.materialized[slot] = out
	}
	*out = Image{Pix: grow(out.Pix, v.ww*v.wh*c), Stride: v.ww * c, C: c, Rect: Rect{0, 0, v.ww, v.wh}, W: v.ww, H: v.wh}
	flip := v.flip
	if err := r.rows(func(y int, row []byte, ch int) {
		dst := out.row(y)[:len(row)]
		if !flip {
			copy(dst, row)
			return
		}
		n := len(row) / ch
		for x := 0; x < n; x++ {
			copy(dst[x*ch:(x+1)*ch], row[(n-1-x)*ch:(n-x)*ch])
		}
	}); err != nil {
		return err
	}
	r.base = out
	r.v = identityView(v.ww, v.wh)
	return nil
}

// render writes the visible image through the lookup table into dst (CHW).
func (r *run) render(dst []float32) error {
	p := r.p
	plane := p.outH * p.outW
	if len(dst) < p.c*plane {
		return errs.Invalidf("transform: destination holds %d values, want %d", len(dst), p.c*plane)
	}
	flip := 0
	if r.v.flip {
		flip = 1
	}
	return r.rows(func(y int, row []byte, ch int) {
		n := p.outW
		if len(row) < n*ch {
			panic("transform: short row")
		}
		C.snd_lut_row((*C.uint8_t)(&row[0]), C.int(n), C.int(ch), C.int(p.c), (*C.float)(&p.lut[0][0]),
			(*C.float)(&dst[y*n]), C.long(plane), C.int(flip))
	})
}

// rows computes the visible image row by row (HWC bytes with padding, not
// yet mirrored: emit applies v.flip) and hands each to emit with its
// channel count.
func (r *run) rows(emit func(y int, row []byte, ch int)) error {
	if r.base == nil {
		if err := r.decode(); err != nil {
			return err
		}
	}
	v, base := &r.v, r.base
	ch := base.C
	r.line = grow(r.line, v.ww*ch)
	line := r.line // the visible row
	clear(line)
	// Grid columns and rows that the window shows (the rest is padding).
	gx0, gx1 := max(v.wx, 0), min(v.wx+v.ww, v.gw)
	gy0, gy1 := max(v.wy, 0), min(v.wy+v.wh, v.gh)
	if gx1 < gx0 {
		gx1 = gx0
	}
	if gy1 < gy0 {
		gy1 = gy0
	}
	lo, hi := (gx0-v.wx)*ch, (gx1-v.wx)*ch // where the grid lands in line
	finish := func(y int) { emit(y, line, ch) }
	if gx1 <= gx0 || gy1 <= gy0 { // nothing of the image is visible
		for y := 0; y < v.wh; y++ {
			finish(y)
		}
		return nil
	}
	for y := 0; y < gy0-v.wy; y++ {
		finish(y)
	}
	{
		needH := v.resampled && !(v.gw == v.clip.Dx() && v.bx0 == 0 && v.bx1 == float64(v.gw))
		needV := v.resampled && !(v.gh == v.clip.Dy() && v.by0 == 0 && v.by1 == float64(v.gh))
		// Source rows, relative to clip, that the visible grid part reads.
		hc, vc := &r.hc, &r.vc
		sy0, sy1 := gy0, gy1
		if needH {
			hc.compute(v.clip.Dx(), v.bx0, v.bx1, v.gw, gx0, gx1)
		}
		if needV {
			vc.compute(v.clip.Dy(), v.by0, v.by1, v.gh, gy0, gy1)
			sy0, sy1 = vc.span()
		}
		nx := gx1 - gx0
		// Pillow 13 resamples vertically first when the width grows and the
		// height shrinks; the uint8 between the passes makes the order visible.
		if needH && needV && v.bx1-v.bx0 <= float64(v.gw) && v.by1-v.by0 > float64(v.gh) {
			sx0, sx1 := hc.span()
			span := (sx1 - sx0) * ch
			ny := gy1 - gy0
			r.tmp = grow(r.tmp, ny*span)
			src := base.row(v.clip.Y0 + sy0)[(v.clip.X0-base.Rect.X0+sx0)*ch:]
			resampleCols(vc, src, base.Stride, sy0, span, r.tmp)
			r.vout = grow(r.vout, ny*nx*ch)
			resampleRows(hc, r.tmp, span, sx0, ch, r.vout, nx*ch, ny)
			padded := lo > 0 || hi < len(line)
			for i := 0; i < ny; i++ {
				row := r.vout[i*nx*ch : (i+1)*nx*ch]
				if padded {
					copy(line[lo:hi], row)
					row = line
				}
				emit(gy0-v.wy+i, row, ch)
			}
			clear(line)
			for y := gy1 - v.wy; y < v.wh; y++ {
				finish(y)
			}
			return nil
		}
		// Rows of the horizontally resampled (or plain) source: width gx1-gx0.
		var tmp []byte
		tmpStride := nx * ch
		rowsH := sy1 - sy0
		if needH {
			r.tmp = grow(r.tmp, rowsH*tmpStride)
			tmp = r.tmp
			if rowsH > 0 {
				// base may hold only from column Rect.X0 on: taps are clip-relative.
				resampleRows(hc, base.row(v.clip.Y0+sy0), base.Stride, base.Rect.X0-v.clip.X0, ch, tmp, tmpStride, rowsH)
			}
		}
		srcRow := func(y int) []byte { // y relative to clip, in [sy0, sy1)
			if needH {
				return tmp[(y-sy0)*tmpStride : (y-sy0+1)*tmpStride]
			}
			row := base.row(v.clip.Y0 + y)
			off := (v.clip.X0 - base.Rect.X0 + gx0) * ch
			return row[off : off+tmpStride]
		}
		if needV {
			var src []byte
			stride := tmpStride
			if needH {
				src = tmp
			} else {
				stride = base.Stride
				src = base.row(v.clip.Y0 + sy0)[(v.clip.X0-base.Rect.X0+gx0)*ch:]
			}
			ny := gy1 - gy0
			r.vout = grow(r.vout, ny*tmpStride)
			resampleCols(vc, src, stride, sy0, tmpStride, r.vout)
			padded := lo > 0 || hi < len(line)
			for i := 0; i < ny; i++ {
				row := r.vout[i*tmpStride : (i+1)*tmpStride]
				if !padded {
					emit(gy0-v.wy+i, row, ch)
					continue
				}
				copy(line[lo:hi], row)
				finish(gy0 - v.wy + i)
			}
		} else {
			for y := gy0; y < gy1; y++ {
				copy(line[lo:hi], srcRow(y))
				finish(y - v.wy)
			}
		}
	}
	clear(line)
	for y := gy1 - v.wy; y < v.wh; y++ {
		finish(y)
	}
	return nil
}

// decode fetches the base pixels the view needs, choosing a DCT scale when
// allowed and rewriting the view into the reduced coordinates.
func (r *run) decode() error {
	v := &r.v
	num := 8
	if r.p.dct && v.resampled && r.dec.Scales() {
		bw, bh := v.bx1-v.bx0, v.by1-v.by0
		// Only 1/8, 1/4 and 1/2: libjpeg-turbo's other scaled IDCTs have no
		// SIMD code and are slower than a full decode.
		for _, n := range []int{1, 2, 4} {
			if bw*float64(n)/8 >= float64(v.gw) && bh*float64(n)/8 >= float64(v.gh) {
				num = n
				break
			}
		}
	}
	fw, fh := r.dec.Size()
	if num < 8 {
		s := float64(num) / 8
		sw, sh := (fw*num+7)/8, (fh*num+7)/8
		bx0 := float64(v.clip.X0) + v.bx0
		by0 := float64(v.clip.Y0) + v.by0
		bx1 := float64(v.clip.X0) + v.bx1
		by1 := float64(v.clip.Y0) + v.by1
		clip := Rect{int(math.Floor(bx0 * s)), int(math.Floor(by0 * s)), int(math.Ceil(bx1 * s)), int(math.Ceil(by1 * s))}
		clip.X1, clip.Y1 = min(clip.X1, sw), min(clip.Y1, sh)
		v.clip = clip
		v.bx0, v.by0 = bx0*s-float64(clip.X0), by0*s-float64(clip.Y0)
		v.bx1, v.by1 = min(bx1*s, float64(sw))-float64(clip.X0), min(by1*s, float64(sh))-float64(clip.Y0)
	}
	want := r.needed()
	img, err := r.dec.Decode(num, want)
	if err != nil {
		return err
	}
	if img.C != 1 && img.C != 3 || img.Rect.X0 > want.X0 || img.Rect.Y0 > want.Y0 || img.Rect.X1 < want.X1 || img.Rect.Y1 < want.Y1 {
		return fmt.Errorf("decoder returned region %v (%d channels) for %v", img.Rect, img.C, want)
	}
	r.base = img
	return nil
}

// needed is the base region (in the base's coordinates) that rendering the
// view reads.
func (r *run) needed() Rect {
	v := &r.v
	gx0, gx1 := max(v.wx, 0), min(v.wx+v.ww, v.gw)
	gy0, gy1 := max(v.wy, 0), min(v.wy+v.wh, v.gh)
	if gx1 <= gx0 || gy1 <= gy0 {
		return Rect{v.clip.X0, v.clip.Y0, v.clip.X0, v.clip.Y0}
	}
	sx0, sx1, sy0, sy1 := gx0, gx1, gy0, gy1
	if v.resampled {
		hc, vc := &r.hc, &r.vc
		hc.compute(v.clip.Dx(), v.bx0, v.bx1, v.gw, gx0, gx1)
		vc.compute(v.clip.Dy(), v.by0, v.by1, v.gh, gy0, gy1)
		sx0, sx1 = hc.span()
		sy0, sy1 = vc.span()
		if v.gw == v.clip.Dx() && v.bx0 == 0 && v.bx1 == float64(v.gw) {
			sx0, sx1 = gx0, gx1
		}
		if v.gh == v.clip.Dy() && v.by0 == 0 && v.by1 == float64(v.gh) {
			sy0, sy1 = gy0, gy1
		}
	}
	return Rect{v.clip.X0 + sx0, v.clip.Y0 + sy0, v.clip.X0 + sx1, v.clip.Y0 + sy1}
}

// Resize decodes a whole image and resamples it to w x h (Pillow's
// bilinear with antialias, no DCT scaling), in the decoder's channels.
func Resize(dec Decoder, w, h int) (*Image, error) {
	if w <= 0 || h <= 0 {
		return nil, errs.Invalidf("resize to %dx%d", w, h)
	}
	sw, sh := dec.Size()
	if sw <= 0 || sh <= 0 {
		return nil, errs.Corruptf("image has no pixels (%dx%d)", sw, sh)
	}
	r := &run{p: &ImagePipeline{}, dec: dec, v: identityView(sw, sh)}
	if err := r.resize(h, w); err != nil {
		return nil, err
	}
	if err := r.materialize(); err != nil {
		return nil, err
	}
	return r.base, nil
}
