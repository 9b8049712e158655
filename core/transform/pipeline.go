package transform

import (
	"math"
	"math/rand/v2"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Pipeline is a compiled transform list for one input shape. It is
// immutable and safe for concurrent use.
type Pipeline struct {
	c, inH, inW int
	outH, outW  int
	steps       []step
	lut         [][256]float32 // per channel: uint8 value -> normalised float32
	mean, std   []float32      // per channel, for the C output pass (same arithmetic as lut)
	pad         []float32      // per channel: the normalised value of a zero pixel
	random      bool
	names       []string
}

// step is one geometric transform. Geometric transforms on the pixel grid
// compose into an axis-aligned map from output to source coordinates, so a
// whole pipeline is applied in a single pass over the output.
type step struct {
	kind     int // crop (random or centred) or flip
	h, w     int
	padding  int
	p        float64
	centered bool
}

const (
	stepCrop = iota
	stepFlip
)

// Compile builds a pipeline for uint8 CHW samples of shape (c, h, w).
// mean and std are the dataset's defaults for "normalize"; without a
// "normalize" step the output is pixel/255, as torchvision's ToTensor.
func Compile(specs []Spec, c, h, w int, mean, std []float64) (*Pipeline, error) {
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, errs.Invalidf("transform: invalid input shape (%d, %d, %d)", c, h, w)
	}
	p := &Pipeline{c: c, inH: h, inW: w, outH: h, outW: w}
	var normMean, normStd []float64
	for _, s := range specs {
		pr := newParams(s)
		switch s.Name {
		case "to_tensor":
		case "normalize":
			normMean, normStd = normalizeParams(pr, mean, std)
		case "random_horizontal_flip":
			prob := pr.float("p", 0.5)
			if prob < 0 || prob > 1 {
				pr.fail("random_horizontal_flip: p must be in [0, 1], got %v", prob)
			}
			p.steps = append(p.steps, step{kind: stepFlip, p: prob})
			p.random = p.random || (prob > 0 && prob < 1)
		case "random_crop":
			size := pr.pair("size", [2]int{p.outH, p.outW})
			// Padding 4 is the CIFAR convention the original used with the bare name.
			padding := pr.int("padding", 4)
			if padding < 0 {
				pr.fail("random_crop: padding must be >= 0")
			}
			if size[0] <= 0 || size[1] <= 0 || size[0] > p.outH+2*padding || size[1] > p.outW+2*padding {
				pr.fail("random_crop: size %v does not fit a %dx%d image with padding %d", size, p.outH, p.outW, padding)
			}
			p.steps = append(p.steps, step{kind: stepCrop, h: size[0], w: size[1], padding: padding})
			p.outH, p.outW = size[0], size[1]
			p.random = true
		case "center_crop":
			size := pr.pair("size", [2]int{p.outH, p.outW})
			if size[0] <= 0 || size[1] <= 0 {
				pr.fail("center_crop: size must be positive")
			}
			p.steps = append(p.steps, step{kind: stepCrop, h: size[0], w: size[1], centered: true})
			p.outH, p.outW = size[0], size[1]
		case "resize", "random_resized_crop":
			return nil, errs.Unsupportedf("transform %q needs resampling, which is done on decoded images (image folders), not on fixed-size arrays", s.Name)
		default:
			return nil, errs.Invalidf("unknown transform %q (known: to_tensor, normalize, random_horizontal_flip, random_crop, center_crop, resize, random_resized_crop)", s.Name)
		}
		if err := pr.done(); err != nil {
			return nil, err
		}
		p.names = append(p.names, s.String())
	}
	lut, err := buildLUT(c, normMean, normStd)
	if err != nil {
		return nil, err
	}
	p.lut = lut
	p.mean, p.std, p.pad = make([]float32, c), make([]float32, c), make([]float32, c)
	for ch := 0; ch < c; ch++ {
		p.mean[ch], p.std[ch] = 0, 1
		if normMean != nil {
			p.mean[ch], p.std[ch] = float32(normMean[min(ch, len(normMean)-1)]), float32(normStd[min(ch, len(normStd)-1)])
		}
		p.pad[ch] = lut[ch][0]
	}
	return p, nil
}

func buildLUT(c int, mean, std []float64) ([][256]float32, error) {
	lut := make([][256]float32, c)
	for ch := 0; ch < c; ch++ {
		m, s := 0.0, 1.0
		if mean != nil {
			if len(mean) != 1 && len(mean) != c || len(std) != len(mean) {
				return nil, errs.Invalidf("normalize: %d mean and %d std values for %d channels", len(mean), len(std), c)
			}
			m, s = mean[min(ch, len(mean)-1)], std[min(ch, len(std)-1)]
			if !(s > 0) || math.IsInf(s, 0) || math.IsNaN(m) || math.IsInf(m, 0) {
				return nil, errs.Invalidf("normalize: std must be positive and finite and mean finite (channel %d: mean %v, std %v)", ch, m, s)
			}
		}
		for v := 0; v < 256; v++ {
			// Same arithmetic order as ToTensor then Normalize, in float32.
			lut[ch][v] = (float32(v)/255 - float32(m)) / float32(s)
		}
	}
	return lut, nil
}

// OutShape is the (C, H, W) of every output sample.
func (p *Pipeline) OutShape() (int, int, int) { return p.c, p.outH, p.outW }

// InShape is the (C, H, W) the pipeline was compiled for.
func (p *Pipeline) InShape() (int, int, int) { return p.c, p.inH, p.inW }

// Random reports whether outputs depend on the sample seed.
func (p *Pipeline) Random() bool { return p.random }

// Names lists the compiled transforms, for metadata.
func (p *Pipeline) Names() []string { return append([]string(nil), p.names...) }

// SampleSeed derives the seed of one sample's randomness from the loader seed,
// the epoch and the sample's index in the dataset.
func SampleSeed(seed uint64, epoch, index int) uint64 {
	return mix(mix(seed^0x9e3779b97f4a7c15) ^ mix(uint64(epoch)+0x632be59bd9b4e019) ^ uint64(index)*0xbf58476d1ce4e5b9)
}

func mix(z uint64) uint64 { // splitmix64 finaliser
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Apply transforms one uint8 CHW sample into dst (len C*outH*outW).
func (p *Pipeline) Apply(src []byte, dst []float32, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, mix(seed)))
	// Map: src_x = x0 + xs*x, src_y = y0 + y, valid where inside [vx0,vx1) x [vy0,vy1).
	x0, xs, y0 := 0, 1, 0
	vx0, vx1, vy0, vy1 := 0, p.inW, 0, p.inH
	curH, curW := p.inH, p.inW
	for _, s := range p.steps {
		switch s.kind {
		case stepFlip:
			if s.p >= 1 || (s.p > 0 && rng.Float64() < s.p) {
				x0 += xs * (curW - 1)
				xs = -xs
			}
		case stepCrop:
			// Pixels outside the current image are padding, whatever they map to.
			ex0, ex1 := x0, x0+xs*(curW-1)
			if ex0 > ex1 {
				ex0, ex1 = ex1, ex0
			}
			vx0, vx1 = max(vx0, ex0), min(vx1, ex1+1)
			vy0, vy1 = max(vy0, y0), min(vy1, y0+curH)
			var top, left int
			if s.centered {
				top = int(math.RoundToEven(float64(curH-s.h) / 2))
				left = int(math.RoundToEven(float64(curW-s.w) / 2))
			} else {
				top = rng.IntN(curH+2*s.padding-s.h+1) - s.padding
				left = rng.IntN(curW+2*s.padding-s.w+1) - s.padding
			}
			y0 += top
			x0 += xs * left
			curH, curW = s.h, s.w
		}
	}
	p.render(src, dst, x0, xs, y0, vx0, vx1, vy0, vy1)
}

func (p *Pipeline) render(src []byte, dst []float32, x0, xs, y0, vx0, vx1, vy0, vy1 int) {
	h, w := p.outH, p.outW
	// Output columns whose source x lies in [vx0, vx1).
	lo, hi := 0, w
	if xs > 0 {
		lo, hi = max(0, vx0-x0), min(w, vx1-x0)
	} else {
		lo, hi = max(0, x0-vx1+1), min(w, x0-vx0+1)
	}
	if hi < lo {
		hi = lo
	}
	if len(src) < p.c*p.inH*p.inW || len(dst) < p.c*h*w {
		panic("transform: sample buffers are smaller than the pipeline's shapes")
	}
	renderSample(src, dst, p.c, p.inH, p.inW, h, w, x0, xs, y0, vy0, vy1, lo, hi, p.mean, p.std, p.pad)
}
