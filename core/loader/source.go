package loader

import (
	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/transform"
)

// Source produces transformed samples by dataset index. Implementations must
// be safe for concurrent Produce calls and deterministic in (index, seed).
type Source interface {
	Len() int
	Label(i int) int64
	OutShape() (c, h, w int)
	// Produce writes sample i, transformed with randomness from seed, into dst
	// (len C*H*W of OutShape).
	Produce(i int, dst []float32, seed uint64) error
	// Transforms names the transforms applied, for metadata.
	Transforms() []string
}

// ArraySource serves a decoded uint8 split through a transform pipeline.
type ArraySource struct {
	split *dataset.Split
	pipe  *transform.Pipeline
}

// NewArraySource compiles specs for the split's sample shape.
func NewArraySource(s *dataset.Split, specs []transform.Spec, mean, std []float64) (*ArraySource, error) {
	if s == nil {
		return nil, errs.Invalidf("split is missing")
	}
	pipe, err := transform.Compile(specs, s.C, s.H, s.W, mean, std)
	if err != nil {
		return nil, err
	}
	return &ArraySource{split: s, pipe: pipe}, nil
}

func (a *ArraySource) Len() int                  { return a.split.N }
func (a *ArraySource) Label(i int) int64         { return a.split.Labels[i] }
func (a *ArraySource) OutShape() (int, int, int) { return a.pipe.OutShape() }
func (a *ArraySource) Transforms() []string      { return a.pipe.Names() }

func (a *ArraySource) Produce(i int, dst []float32, seed uint64) error {
	n := a.split.SampleBytes()
	a.pipe.Apply(a.split.Images[i*n:(i+1)*n], dst, seed)
	return nil
}
