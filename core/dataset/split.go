package dataset

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Split is one decoded split held as uint8 NCHW samples.
type Split struct {
	Images     []byte  // len N*C*H*W, sample-major, channel-major inside a sample (NCHW)
	Labels     []int64 // len N
	Coarse     []int64 // CIFAR-100 coarse labels (len N) or nil
	N, C, H, W int
}

// SampleBytes is the size of one sample, C*H*W.
func (s *Split) SampleBytes() int { return s.C * s.H * s.W }

// Validate checks that the lengths agree with the shape, so that consumers can
// slice Images by SampleBytes without bounds surprises.
func (s *Split) Validate() error {
	if s.N < 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return errs.Invalidf("split: bad shape N=%d C=%d H=%d W=%d", s.N, s.C, s.H, s.W)
	}
	sample, ok := mulBounded(math.MaxInt, s.C, s.H, s.W)
	total, ok2 := mulBounded(math.MaxInt, sample, s.N)
	if !ok || !ok2 {
		return errs.Invalidf("split: shape N=%d C=%d H=%d W=%d overflows", s.N, s.C, s.H, s.W)
	}
	if len(s.Images) != total {
		return errs.Invalidf("split: %d image bytes, want N*C*H*W = %d", len(s.Images), total)
	}
	if len(s.Labels) != s.N {
		return errs.Invalidf("split: %d labels for %d samples", len(s.Labels), s.N)
	}
	if s.Coarse != nil && len(s.Coarse) != s.N {
		return errs.Invalidf("split: %d coarse labels for %d samples", len(s.Coarse), s.N)
	}
	for i, l := range s.Labels {
		if l < 0 {
			return errs.Invalidf("split: label %d of sample %d is negative", l, i)
		}
	}
	for i, l := range s.Coarse {
		if l < 0 {
			return errs.Invalidf("split: coarse label %d of sample %d is negative", l, i)
		}
	}
	return nil
}

// mulBounded multiplies non-negative factors and reports false as soon as the
// product would exceed limit, so sizes read from untrusted headers can be
// checked before anything is allocated.
func mulBounded(limit int, factors ...int) (int, bool) {
	p := 1
	for _, f := range factors {
		if f < 0 {
			return 0, false
		}
		if f != 0 && p > limit/f {
			return 0, false
		}
		p *= f
	}
	return p, p <= limit
}

// Record copies the split into an Arrow record batch allocated from mem:
// image fixed_size_binary[C*H*W], label int64 (and coarse_label when present).
func (s *Split) Record(mem memory.Allocator) arrow.RecordBatch {
	schema := cacheSchema(s, nil)
	img := memory.NewResizableBuffer(mem)
	img.Resize(len(s.Images))
	copy(img.Bytes(), s.Images)
	cols := []arrow.Array{newArray(schema.Field(0).Type, s.N, img)}
	for _, labels := range [][]int64{s.Labels, s.Coarse} {
		if labels == nil {
			continue
		}
		buf := memory.NewResizableBuffer(mem)
		buf.Resize(len(labels) * 8)
		copy(buf.Bytes(), int64Bytes(labels))
		cols = append(cols, newArray(arrow.PrimitiveTypes.Int64, s.N, buf))
	}
	rec := array.NewRecordBatch(schema, cols, int64(s.N))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// newArray wraps one value buffer as an array of n non-null values and takes
// over the caller's reference to buf.
func newArray(dt arrow.DataType, n int, buf *memory.Buffer) arrow.Array {
	data := array.NewData(dt, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer data.Release()
	return array.MakeFromData(data)
}
