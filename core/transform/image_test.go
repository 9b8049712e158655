package transform_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/transform"
)

func TestResampleIsPillowBilinear(t *testing.T) {
	// Halving a row: Pillow's antialiased bilinear weights are 1/8, 3/8, 3/8, 1/8
	// (the triangle stretched 2x), clipped and renormalised at the borders.
	w := 8
	img := transform.NewImage(w, 1, 1)
	vals := []byte{0, 80, 160, 240, 40, 120, 200, 10}
	copy(img.Pix, vals)
	out, err := transform.Resize(transform.ImageDecoder{Img: img}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4)
	for i := range want {
		taps := map[int]float64{2*i - 1: 1, 2 * i: 3, 2*i + 1: 3, 2*i + 2: 1}
		sum, norm := 0.0, 0.0
		for x, wt := range taps {
			if x >= 0 && x < w {
				sum += wt * float64(vals[x])
				norm += wt
			}
		}
		want[i] = byte(sum/norm + 0.5)
	}
	if !slices.Equal(out.Pix, want) {
		t.Fatalf("got %v, want %v", out.Pix, want)
	}
	// Same size: no resampling at all.
	same, err := transform.Resize(transform.ImageDecoder{Img: img}, 8, 1)
	if err != nil || !slices.Equal(same.Pix, vals) {
		t.Fatalf("same-size resize changed the pixels: %v %v", same.Pix, err)
	}
}

func TestImagePipelineShapesAndPadding(t *testing.T) {
	img := transform.NewImage(10, 6, 3)
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	p, err := transform.CompileImage([]transform.Spec{
		{Name: "center_crop", Params: map[string]any{"size": []any{8.0, 12.0}}},
	}, 3, nil, nil, transform.ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := p.OutShape(); c != 3 || h != 8 || w != 12 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	dst := make([]float32, 3*8*12)
	if err := p.Apply(transform.ImageDecoder{Img: img}, dst, 1); err != nil {
		t.Fatal(err)
	}
	// torchvision pads (12-10)//2 = 1 column left, 1 right, 1 row top and bottom with zeros.
	for y := 0; y < 8; y++ {
		for x := 0; x < 12; x++ {
			inside := y >= 1 && y < 7 && x >= 1 && x < 11
			if got := dst[y*12+x]; (got == 1) != inside {
				t.Fatalf("pixel (%d,%d) = %v, inside=%v", y, x, got, inside)
			}
		}
	}
	if _, err := transform.CompileImage(transform.Specs("resize"), 3, nil, nil, transform.ImageOptions{}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("a variable output size must be rejected, got %v", err)
	}
	if _, err := transform.CompileImage([]transform.Spec{{Name: "random_resized_crop", Params: map[string]any{"scale": []any{0.9, 0.1}}}}, 3, nil, nil,
		transform.ImageOptions{}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("a reversed scale range must be rejected, got %v", err)
	}
}

func TestImageRandomResizedCropStaysInsideAndVaries(t *testing.T) {
	img := transform.NewImage(300, 200, 3)
	p, err := transform.CompileImage(transform.Specs("random_resized_crop"), 3, nil, nil, transform.ImageOptions{Size: [2]int{64, 64}})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 3*64*64)
	seen := map[[4]int]bool{}
	for seed := uint64(0); seed < 200; seed++ {
		var steps []transform.Step
		if err := p.ApplyTrace(transform.ImageDecoder{Img: img}, dst, seed, &steps); err != nil {
			t.Fatal(err)
		}
		s := steps[0]
		if s.Top < 0 || s.Left < 0 || s.Top+s.Height > 200 || s.Left+s.Width > 300 || s.Height <= 0 || s.Width <= 0 {
			t.Fatalf("crop %+v outside the 300x200 image", s)
		}
		area := float64(s.Height*s.Width) / (300 * 200)
		ratio := float64(s.Width) / float64(s.Height)
		if area > 1.001 || ratio < 0.74 || ratio > 1.35 {
			t.Fatalf("crop %+v breaks scale/ratio bounds (area %.3f, ratio %.3f)", s, area, ratio)
		}
		seen[[4]int{s.Top, s.Left, s.Height, s.Width}] = true
	}
	if len(seen) < 150 {
		t.Fatalf("only %d distinct crops in 200 seeds", len(seen))
	}
}

// pillowAxis is an independent transcription of Pillow's precompute_coeffs +
// normalize_coeffs_8bpc for bilinear: per output, the first input and the
// fixed-point weights.
func pillowAxis(in, out int) ([]int, [][]int32) {
	scale := float64(in) / float64(out)
	support := max(scale, 1)
	starts, weights := make([]int, out), make([][]int32, out)
	for i := 0; i < out; i++ {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		var ws []float64
		total := 0.0
		for x := lo; x < hi; x++ {
			t := (float64(x) - center + 0.5) / support
			if t < 0 {
				t = -t
			}
			w := max(0, 1-t)
			ws = append(ws, w)
			total += w
		}
		starts[i] = lo
		for _, w := range ws {
			weights[i] = append(weights[i], int32(0.5+w/total*(1<<22)))
		}
	}
	return starts, weights
}

// pillowPass resamples one axis of an HWC image (axis 0: columns, 1: rows).
func pillowPass(src []byte, w, h, out, axis int) []byte {
	in, other := w, h
	if axis == 1 {
		in, other = h, w
	}
	starts, weights := pillowAxis(in, out)
	nw, nh := out, h
	if axis == 1 {
		nw, nh = w, out
	}
	dst := make([]byte, nw*nh*3)
	for o := 0; o < other; o++ {
		for i := 0; i < out; i++ {
			for c := 0; c < 3; c++ {
				s := int32(1 << 21)
				for j, wt := range weights[i] {
					x, y := starts[i]+j, o
					if axis == 1 {
						x, y = o, starts[i]+j
					}
					s += int32(src[(y*w+x)*3+c]) * wt
				}
				x, y := i, o
				if axis == 1 {
					x, y = o, i
				}
				dst[(y*nw+x)*3+c] = byte(min(max(s>>22, 0), 255))
			}
		}
	}
	return dst
}

func TestResampleMatchesPillowModelOnRandomSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type size struct{ w, h, nw, nh int }
	var sizes []size
	for k := 0; k < 150; k++ {
		sizes = append(sizes, size{3 + rng.IntN(200), 3 + rng.IntN(60), 1 + rng.IntN(260), 1 + rng.IntN(80)})
	}
	// Rows wider than the AVX2 kernel's 1024-pixel weight block, odd and
	// even, shrinking (up to 4 taps) and enlarging.
	sizes = append(sizes, size{2100, 5, 1501, 5}, size{1200, 4, 2050, 4}, size{1030, 3, 1029, 3}, size{3000, 3, 1100, 3})
	for _, sz := range sizes {
		w, h, nw, nh := sz.w, sz.h, sz.nw, sz.nh
		img := transform.NewImage(w, h, 3)
		for i := range img.Pix {
			img.Pix[i] = byte(rng.IntN(256))
		}
		got, err := transform.Resize(transform.ImageDecoder{Img: img}, nw, nh)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		switch {
		case nw == w && nh == h:
			want = img.Pix
		case nw == w:
			want = pillowPass(img.Pix, w, h, nh, 1)
		case nh == h:
			want = pillowPass(img.Pix, w, h, nw, 0)
		case nw >= w && nh < h: // Pillow 13: vertical pass first
			want = pillowPass(pillowPass(img.Pix, w, h, nh, 1), w, nh, nw, 0)
		default:
			want = pillowPass(pillowPass(img.Pix, w, h, nw, 0), nw, h, nh, 1)
		}
		if !slices.Equal(got.Pix, want) {
			t.Fatalf("%dx%d -> %dx%d differs from the Pillow model", w, h, nw, nh)
		}
	}
}
