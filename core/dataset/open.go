package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// OpenOptions says where a dataset's files are and what may be done to get them.
type OpenOptions struct {
	DataDir     string       `json:"data_dir"`     // torchvision-style root; default DefaultDataDir()
	CacheDir    string       `json:"cache_dir"`    // decoded cache; default DefaultCacheDir()
	Download    bool         `json:"download"`     // fetch missing files from the mirrors
	ForceReload bool         `json:"force_reload"` // rebuild the decoded cache
	Fetch       FetchOptions `json:"-"`
}

// DefaultDataDir is $DATA_DIR, else a per-user cache folder.
func DefaultDataDir() string {
	if d := os.Getenv("DATA_DIR"); d != "" {
		return d
	}
	return filepath.Join(userCacheDir(), "datasets")
}

// DefaultCacheDir is $SND_CACHE_DIR, else a per-user cache folder.
func DefaultCacheDir() string {
	if d := os.Getenv("SND_CACHE_DIR"); d != "" {
		return d
	}
	return filepath.Join(userCacheDir(), "decoded")
}

func userCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "structure-net-data")
}

// Data is an opened dataset: its config and its decoded splits.
type Data struct {
	Config    *Config
	Train     *Split
	Test      *Split
	Files     []string      // source files the splits were decoded from, or that the cache was built from
	Sources   []SourceStamp // those files with their SHA-256
	CacheHits int           // splits served from the memory-mapped cache
	mapped    []*Mapped
	refs      atomic.Int32 // owners: the opener plus every loader reading a split
}

// Retain adds an owner; every Retain needs a Close. Loaders retain the data
// they read, so closing the dataset while a loader runs cannot unmap its samples.
func (d *Data) Retain() { d.refs.Add(1) }

// SplitByName returns "train" or "test".
func (d *Data) SplitByName(name string) (*Split, error) {
	switch name {
	case "train":
		return d.Train, nil
	case "test", "val", "validation":
		return d.Test, nil
	}
	return nil, errs.Invalidf("unknown split %q (want train or test)", name)
}

// Checksum is a digest of the source files' SHA-256s ("" for in-memory data).
func (d *Data) Checksum() string { return Checksum(d.Sources) }

// Close drops one owner; the last one unmaps cached splits. Batches already
// handed out are unaffected: they live in their own memory.
func (d *Data) Close() error {
	if d.refs.Add(-1) > 0 {
		return nil
	}
	var first error
	for _, m := range d.mapped {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
	}
	d.mapped = nil
	d.Train, d.Test = nil, nil
	return first
}

// FromArrays wraps splits the caller decoded (for example numpy arrays from a
// Python DatasetLoader) as a Data.
func FromArrays(cfg *Config, train, test *Split) (*Data, error) {
	for _, s := range []*Split{train, test} {
		if s == nil {
			continue
		}
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	if train == nil {
		return nil, errs.Invalidf("dataset %q: a train split is required", cfg.Name)
	}
	d := &Data{Config: cfg, Train: train, Test: test}
	d.refs.Store(1)
	return d, nil
}

// Open loads a registered dataset of an array format (mnist, cifar10,
// cifar100): from the memory-mapped decoded cache when it is there and its
// sources are unchanged, else by decoding (and, when allowed, downloading) the
// source files and writing the cache.
func Open(ctx context.Context, reg *Registry, name string, opt OpenOptions) (*Data, error) {
	cfg, err := reg.Get(name)
	if err != nil {
		return nil, err
	}
	switch cfg.Format {
	case "mnist", "cifar10", "cifar100":
	case "":
		return nil, errs.Invalidf("dataset %q has no file format: register a loader for it", name)
	default:
		return nil, errs.Unsupportedf("dataset %q has format %q, which is not an array format", name, cfg.Format)
	}
	if opt.DataDir == "" {
		opt.DataDir = DefaultDataDir()
	}
	if opt.CacheDir == "" {
		opt.CacheDir = DefaultCacheDir()
	}
	root := cacheRoot(opt.CacheDir, opt.DataDir)

	d := &Data{Config: cfg}
	d.refs.Store(1)
	for _, split := range []string{"train", "test"} {
		r, err := openSplit(ctx, cfg, split, root, opt)
		if err != nil {
			d.Close()
			return nil, err
		}
		if r.mapped != nil {
			d.mapped = append(d.mapped, r.mapped)
		}
		if err := checkShape(cfg, split, r); err != nil {
			d.Close()
			return nil, err
		}
		if r.fromCache {
			d.CacheHits++
		}
		for _, src := range r.sources {
			d.Sources = append(d.Sources, src)
			d.Files = append(d.Files, src.Path)
		}
		if split == "train" {
			d.Train = r.split
		} else {
			d.Test = r.split
		}
	}
	return d, nil
}

// checkShape rejects samples whose shape is not the config's input_shape:
// tensors that disagree with input_size would fail much later, in a model.
func checkShape(cfg *Config, split string, r openedSplit) error {
	s := r.split
	want := cfg.InputShape
	if len(want) == 3 && want[0] == s.C && want[1] == s.H && want[2] == s.W {
		return nil
	}
	where := "the decoded cache"
	var largest int64 = -1
	for _, src := range r.sources { // the largest source holds the pixels
		if src.Size > largest {
			where, largest = src.Path, src.Size
		}
	}
	return errs.Corruptf("dataset %q: %s samples in %s have shape (%d, %d, %d), but its input_shape is %v",
		cfg.Name, split, where, s.C, s.H, s.W, want)
}

type openedSplit struct {
	split     *Split
	sources   []SourceStamp
	mapped    *Mapped // nil when served from memory (cache not writable)
	fromCache bool
}

func openSplit(ctx context.Context, cfg *Config, split, cacheRoot string, opt OpenOptions) (openedSplit, error) {
	log := logging.L()
	path := CachePath(cacheRoot, cfg.Name, cfg.Version, split)
	if !opt.ForceReload {
		m, err := OpenCache(path)
		switch {
		case err == nil && m.Fresh():
			log.Debug().Str("dataset", cfg.Name).Str("split", split).Str("cache", path).Msg("mapped decoded cache")
			return openedSplit{m.Split, m.Sources, m, true}, nil
		case err == nil:
			log.Info().Str("dataset", cfg.Name).Str("cache", path).Msg("source files changed; rebuilding cache")
			m.Close()
		case errors.Is(err, errs.ErrCorrupt):
			log.Warn().Err(err).Str("cache", path).Msg("rebuilding corrupt cache")
		}
	}
	start := time.Now()
	s, files, err := LocateAndLoad(ctx, cfg.Name, opt.DataDir, split, withDownload(opt))
	if err != nil {
		return openedSplit{}, err
	}
	stamps, err := StampFiles(files)
	if err != nil {
		return openedSplit{}, err
	}
	if err := WriteCache(path, s, stamps); err != nil {
		// A read-only cache folder must not stop training: serve the decoded split.
		log.Warn().Err(err).Str("cache", path).Msg("could not write decoded cache")
		return openedSplit{s, stamps, nil, false}, nil
	}
	m, err := OpenCache(path)
	if err != nil {
		return openedSplit{s, stamps, nil, false}, nil
	}
	log.Info().Str("dataset", cfg.Name).Str("split", split).Int("samples", s.N).
		Dur("decode", time.Since(start)).Str("cache", path).Msg("decoded and cached")
	// Serve from the mapping so this process shares pages with later ones
	// instead of holding a private decoded copy.
	return openedSplit{m.Split, stamps, m, false}, nil
}

func withDownload(opt OpenOptions) FetchOptions {
	f := opt.Fetch
	f.Download = opt.Download
	return f
}
