package loader

import (
	"io"

	"github.com/structure-net/structure-net-data/core/cmem"
	"github.com/structure-net/structure-net-data/core/transform"
)

// SplitOptions are Options plus the transforms; nil Transforms means the
// dataset's defaults for the split (train or test).
type SplitOptions struct {
	Options
	Transforms *[]transform.Spec `json:"transforms"`
}

// Specs returns the transforms for split: o.Transforms when set, otherwise
// defaultTrain for "train" and defaultTest for any other split.
func (o SplitOptions) Specs(split string, defaultTrain, defaultTest []string) []transform.Spec {
	switch {
	case o.Transforms != nil:
		return *o.Transforms
	case split == "train":
		return transform.Specs(defaultTrain...)
	default:
		return transform.Specs(defaultTest...)
	}
}

// SplitOpener is a dataset that opens loaders over its own splits: array
// datasets (dataset.Data) and image folders (imagefolder.Dataset) alike.
// Datasets depend on this package, never the other way round, so the C
// API's snd_loader_open serves any handle implementing it through one path.
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
