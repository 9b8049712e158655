package imagefolder

import (
	"context"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
)

// PrepareSplitsOptions are prepare_dataset's options: how to open the image
// folders, how to pack each image, and which splits (default train and test).
type PrepareSplitsOptions struct {
	OpenOptions
	PrepareOptions
	Splits []string `json:"splits"`
}

// PrepareReport says what PrepareSplits wrote.
type PrepareReport struct {
	Packs  map[string]string `json:"packs"`  // split -> pack path
	Images map[string]int    `json:"images"` // split -> images in it
	// Skipped lists unreadable images left out (on_error="skip"), at most 100.
	Skipped any `json:"skipped"`
}

// PrepareSplits writes the pack of each requested split the registered image
// dataset name has (a split it lacks is left out), always from the folders,
// never from an older pack. progress, when not nil, hears (split, done, total).
func PrepareSplits(ctx context.Context, reg *dataset.Registry, name string, opt PrepareSplitsOptions,
	progress func(split string, done, total int64)) (*PrepareReport, error) {
	if opt.MaxSide < 0 {
		return nil, errs.Invalidf("max_side must be positive, got %d", opt.MaxSide)
	}
	opt.ForceReload = true
	d, err := Open(reg, name, opt.OpenOptions)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if opt.Splits == nil {
		opt.Splits = []string{"train", "test"}
	}
	report := &PrepareReport{Packs: map[string]string{}, Images: map[string]int{}}
	for _, splitName := range opt.Splits {
		s, err := d.SplitByName(splitName)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		po := opt.PrepareOptions
		if progress != nil {
			po.Progress = func(done, total int64) { progress(splitName, done, total) }
		}
		path, err := d.Prepare(ctx, s, po)
		if err != nil {
			return nil, err
		}
		report.Packs[splitName], report.Images[splitName] = path, s.Len()
	}
	report.Skipped = d.Info()["skipped"]
	return report, nil
}
