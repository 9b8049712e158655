package dataset

import (
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/loader"
	"github.com/structure-net/structure-net-data/core/transform"
)

// OpenLoader returns a loader over one split of d ("train" or "test"); nil
// opts.Transforms means the config's default transforms for that split. The
// loader keeps d open until it is closed. It makes *Data a
// loader.SplitOpener.
func (d *Data) OpenLoader(split string, opts loader.SplitOptions) (*loader.Loader, error) {
	s, err := d.SplitByName(split)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errs.NotFoundf("dataset %q has no %s split", d.Config.Name, split)
	}
	specs := opts.Specs(split, d.Config.DefaultTrainTransforms, d.Config.DefaultTestTransforms)
	src, err := NewArraySource(s, specs, d.Config.Mean, d.Config.Std)
	if err != nil {
		return nil, err
	}
	d.Retain()
	l, err := loader.NewOwning(src, opts.Options, d)
	if err != nil {
		d.Close()
		return nil, err
	}
	return l, nil
}

var _ loader.SplitOpener = (*Data)(nil)

// ArraySource serves a decoded uint8 split through a transform pipeline; it
// is the loader.Source of array datasets.
type ArraySource struct {
	split *Split
	pipe  *transform.Pipeline
}

var _ loader.Source = (*ArraySource)(nil)

// NewArraySource compiles specs for the split's sample shape.
func NewArraySource(s *Split, specs []transform.Spec, mean, std []float64) (*ArraySource, error) {
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
