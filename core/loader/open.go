package loader

import (
	"io"

	"github.com/structure-net/structure-net-data/core/cmem"
	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/transform"
)

// SplitOptions are Options plus the transforms; nil Transforms means the
// dataset's defaults for the split (train or test).
type SplitOptions struct {
	Options
	Transforms *[]transform.Spec `json:"transforms"`
}

// OpenSplit returns a loader over one split of d. The loader keeps d open
// until it is closed.
func OpenSplit(d *dataset.Data, split string, opts SplitOptions) (*Loader, error) {
	s, err := d.SplitByName(split)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errNoSplit(d.Config.Name, split)
	}
	var specs []transform.Spec
	if opts.Transforms != nil {
		specs = *opts.Transforms
	} else if split == "train" {
		specs = transform.Specs(d.Config.DefaultTrainTransforms...)
	} else {
		specs = transform.Specs(d.Config.DefaultTestTransforms...)
	}
	src, err := NewArraySource(s, specs, d.Config.Mean, d.Config.Std)
	if err != nil {
		return nil, err
	}
	d.Retain()
	l, err := New(src, opts.Options, cmem.Default)
	if err != nil {
		d.Close()
		return nil, err
	}
	l.onClose = d
	return l, nil
}

func errNoSplit(name, split string) error {
	return errs.NotFoundf("dataset %q has no %s split", name, split)
}

var _ io.Closer = (*dataset.Data)(nil)

// SplitOpener is a dataset that opens loaders over its own splits (image
// folders); the C API's snd_loader_open accepts any handle implementing it.
type SplitOpener interface {
	OpenLoader(split string, opts SplitOptions) (*Loader, error)
}

// NewOwning is New for a loader that keeps owner open until it is closed:
// the caller has taken the reference that the loader's Close drops.
func NewOwning(src Source, opts Options, owner io.Closer) (*Loader, error) {
	l, err := New(src, opts, cmem.Default)
	if err != nil {
		return nil, err
	}
	l.onClose = owner
	return l, nil
}
