package transform_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/transform"
)

func compile(t *testing.T, specs []transform.Spec, c, h, w int) *transform.Pipeline {
	t.Helper()
	p, err := transform.Compile(specs, c, h, w, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func spec(name string, params map[string]any) transform.Spec {
	return transform.Spec{Name: name, Params: params}
}

// pixels returns 0, 1, 2, ... as a CHW sample so each value names its position.
func pixels(c, h, w int) []byte {
	b := make([]byte, c*h*w)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

func apply(p *transform.Pipeline, src []byte, seed uint64) []float32 {
	c, h, w := p.OutShape()
	dst := make([]float32, c*h*w)
	p.Apply(src, dst, seed)
	return dst
}

// Transforms without randomness (or with p=1) give exactly torchvision's
// output; each source value names its position (see pixels).
func TestKnownOutputs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		specs   []transform.Spec
		c, h, w int
		src     []byte
		want    []byte // divided by 255
	}{
		{"to_tensor divides by 255", nil, 1, 2, 3, []byte{0, 1, 2, 127, 128, 255}, []byte{0, 1, 2, 127, 128, 255}},
		{"flip reverses rows", []transform.Spec{spec("random_horizontal_flip", map[string]any{"p": 1.0})}, 2, 2, 3,
			pixels(2, 2, 3), []byte{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}},
		// torchvision: top = int(round((5 - 2) / 2)) = 2 (round half to even), left = int(round((4 - 2) / 2)) = 1.
		{"center crop rounds like torchvision", []transform.Spec{spec("center_crop", map[string]any{"size": []any{2.0, 2.0}})}, 1, 5, 4,
			pixels(1, 5, 4), []byte{10, 11, 14, 15}},
	} {
		got := apply(compile(t, tc.specs, tc.c, tc.h, tc.w), tc.src, 0)
		want := make([]float32, len(tc.want))
		for i, v := range tc.want {
			want[i] = float32(v) / 255
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, want)
		}
	}
}

func TestRandomCropWithPadding(t *testing.T) {
	p := compile(t, []transform.Spec{spec("random_crop", map[string]any{"size": 4.0, "padding": 2.0})}, 1, 4, 4)
	src := pixels(1, 4, 4)
	sawPad, sawShift := false, false
	for seed := uint64(0); seed < 200; seed++ {
		got := apply(p, src, seed)
		// Each output row is a contiguous run of one source row, padded by zeros.
		for y := 0; y < 4; y++ {
			row := got[y*4 : y*4+4]
			prev := float32(-1)
			for _, v := range row {
				if v == 0 {
					sawPad = true
					continue
				}
				if prev >= 0 && v*255-prev*255 != 1 && prev != 0 {
					t.Fatalf("seed %d: row %v is not a contiguous crop", seed, row)
				}
				prev = v
			}
		}
		if got[0] != float32(1)/255 {
			sawShift = true
		}
	}
	if !sawPad || !sawShift {
		t.Fatalf("random crop never padded (%v) or never moved (%v)", sawPad, sawShift)
	}
	// Same seed, same output: randomness depends only on the seed.
	if !slices.Equal(apply(p, src, 5), apply(p, src, 5)) {
		t.Fatal("same seed gave different crops")
	}
}

func TestPaddingUsesNormalisedZero(t *testing.T) {
	p, err := transform.Compile([]transform.Spec{
		spec("center_crop", map[string]any{"size": 4.0}), spec("normalize", nil),
	}, 1, 2, 2, []float64{0.5}, []float64{0.25})
	if err != nil {
		t.Fatal(err)
	}
	got := apply(p, []byte{255, 255, 255, 255}, 0)
	pad := float32(0-0.5) / 0.25
	if got[0] != pad || got[5] != (1-0.5)/0.25 {
		t.Fatalf("padding %v / pixel %v, want %v / %v", got[0], got[5], pad, (1-0.5)/0.25)
	}
}

func TestRejectsBadSpecs(t *testing.T) {
	cases := map[string][]transform.Spec{
		"unknown name":     {spec("sharpen", nil)},
		"unknown param":    {spec("random_horizontal_flip", map[string]any{"prob": 0.5})},
		"bad p":            {spec("random_horizontal_flip", map[string]any{"p": 2.0})},
		"crop too big":     {spec("random_crop", map[string]any{"size": 40.0, "padding": 0.0})},
		"negative padding": {spec("random_crop", map[string]any{"padding": -1.0})},
		"std zero":         {spec("normalize", map[string]any{"mean": []any{0.5}, "std": []any{0.0}})},
		"wrong type":       {spec("center_crop", map[string]any{"size": "big"})},
	}
	for name, specs := range cases {
		if _, err := transform.Compile(specs, 1, 8, 8, nil, nil); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := transform.Compile(transform.Specs("resize"), 1, 8, 8, nil, nil); !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("resize on arrays: err = %v, want ErrUnsupported", err)
	}
}
