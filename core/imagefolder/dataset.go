package imagefolder

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/loader"
	"github.com/structure-net/structure-net-data/core/logging"
)

// Format is the dataset.Config format this package serves.
const Format = "imagefolder"

// OpenOptions say where the images are and how to treat bad ones. JSON
// names match the Python keyword arguments.
type OpenOptions struct {
	DataDir     string `json:"data_dir"`     // where to look for ImageNet; default dataset.DefaultDataDir()
	CacheDir    string `json:"cache_dir"`    // where prepared packs live; default dataset.DefaultCacheDir()
	ForceReload bool   `json:"force_reload"` // scan the folders even when a prepared pack exists
	OnError     string `json:"on_error"`     // "raise" (default) or "skip" unreadable images
	DCTScaling  *bool  `json:"dct_scaling"`  // decode JPEGs reduced when a resize shrinks them (default true)
	UsePack     *bool  `json:"use_pack"`     // read a prepared pack when present (default true)
}

func (o *OpenOptions) fill(cfg *dataset.Config) error {
	if o.DataDir == "" {
		o.DataDir = dataset.DefaultDataDir()
	}
	if o.CacheDir == "" {
		o.CacheDir = dataset.DefaultCacheDir()
	}
	// A registered folder may carry its own defaults (register_image_folder).
	if o.OnError == "" {
		o.OnError, _ = cfg.Metadata["on_error"].(string)
	}
	if o.DCTScaling == nil {
		if b, ok := cfg.Metadata["dct_scaling"].(bool); ok {
			o.DCTScaling = &b
		}
	}
	switch o.OnError {
	case "":
		o.OnError = "raise"
	case "raise", "skip":
	default:
		return errs.Invalidf("on_error must be \"raise\" or \"skip\", got %q", o.OnError)
	}
	return nil
}

// Dataset is an opened image-folder dataset: its class list and the sample
// lists of its splits (or the prepared packs serving them).
type Dataset struct {
	Config     *dataset.Config
	Root       string
	Classes    []string // class folder names (wnids for ImageNet); label = index
	ClassNames []string // human-readable names (LOC_synset_mapping.txt, the devkit or meta.bin), else Classes
	// ClassSource is the file that fixed the class list, "" for the folders.
	ClassSource string
	Train       *Split
	Test        *Split
	opts        OpenOptions
	refs        atomic.Int32

	// The devkit and torchvision's meta.bin, read once when first needed.
	kit       *Devkit
	torchMeta *TorchMeta
	metaRead  bool

	badMu sync.Mutex
	bad   map[string]string // unreadable file -> error, each logged once
}

// Split is one split's samples, from a folder scan or a prepared pack.
type Split struct {
	Name  string
	Dir   string
	List  *List // nil when Pack serves the split
	Pack  *Pack
	Stats ScanStats
	// LabelSource is the ground-truth file that labelled a flat folder.
	LabelSource string
}

// Len is the number of samples.
func (s *Split) Len() int {
	if s.Pack != nil {
		return s.Pack.Len()
	}
	return s.List.Len()
}

// Label is sample i's class index.
func (s *Split) Label(i int) int64 {
	if s.Pack != nil {
		return int64(s.Pack.Label(i))
	}
	return int64(s.List.Labels[i])
}

// Path names sample i's file (absolute), for messages.
func (s *Split) Path(i int) string {
	if s.Pack != nil {
		return filepath.Join(s.Dir, s.Pack.Name(i))
	}
	return filepath.Join(s.Dir, s.List.Paths[i])
}

// Read returns sample i's encoded bytes. Bytes from a pack point into its
// mapping; file bytes come from buf when it is large enough.
func (s *Split) Read(i int, buf []byte) ([]byte, error) {
	if s.Pack != nil {
		return s.Pack.Data(i), nil
	}
	return readFile(s.Path(i), buf)
}

func readFile(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.IOf("%s: %v", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errs.IOf("%s: %v", path, err)
	}
	n := int(fi.Size())
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	read := 0
	for read < n {
		m, err := f.Read(buf[read:])
		read += m
		if err != nil {
			if read < n {
				return nil, errs.IOf("%s: read %d of %d bytes: %v", path, read, n, err)
			}
			break
		}
	}
	return buf, nil
}

// Open opens a registered dataset of format "imagefolder". Its config's
// metadata "root" names the folder; without one (the built-in imagenet) the
// folder is found under the data directory (see LocateImageNet).
func Open(reg *dataset.Registry, name string, opt OpenOptions) (*Dataset, error) {
	cfg, err := reg.Get(name)
	if err != nil {
		return nil, err
	}
	return OpenConfig(cfg, opt)
}

// OpenConfig is Open for a config that need not be registered.
func OpenConfig(cfg *dataset.Config, opt OpenOptions) (*Dataset, error) {
	cfg = cfg.Clone()
	cfg.EnsureDefaults()
	name := cfg.Name
	var err error
	if cfg.Format != Format {
		return nil, errs.Invalidf("dataset %q has format %q, not %q", name, cfg.Format, Format)
	}
	if len(cfg.InputShape) != 3 || (cfg.InputShape[0] != 1 && cfg.InputShape[0] != 3) {
		return nil, errs.Invalidf("dataset %q: image folders need input_shape (1 or 3, H, W), got %v", name, cfg.InputShape)
	}
	if err := opt.fill(cfg); err != nil {
		return nil, err
	}
	root, _ := cfg.Metadata["root"].(string)
	if root == "" {
		if root, err = LocateImageNet(opt.DataDir); err != nil {
			return nil, err
		}
	}
	if !isDir(root) {
		return nil, errs.NotFoundf("dataset %q: image folder %s does not exist", name, root)
	}
	root, _ = filepath.Abs(root)
	d := &Dataset{Config: cfg, Root: root, opts: opt, bad: map[string]string{}}
	d.refs.Store(1)
	trainDir, testDir := splitDirs(cfg, root)
	if trainDir == "" && testDir == "" {
		return nil, errs.NotFoundf("dataset %q: %s has neither class folders nor train/ and val/ folders", name, root)
	}
	if err := d.loadClasses(trainDir, testDir); err != nil {
		return nil, err
	}
	for _, sp := range []struct {
		name, dir string
		dst       **Split
	}{{"train", trainDir, &d.Train}, {"test", testDir, &d.Test}} {
		if sp.dir == "" {
			continue
		}
		s, err := d.openSplit(sp.name, sp.dir)
		if err != nil {
			d.Close()
			return nil, err
		}
		*sp.dst = s
	}
	if d.Train != nil && d.Train.Len() == 0 {
		d.Close()
		return nil, errs.NotFoundf("dataset %q: no JPEG or PNG images under %s", name, trainDir)
	}
	return d, nil
}

// splitDirs resolves the train and test folders: metadata "train_dir" /
// "test_dir" (relative to root; "." is root itself), else train/ and the
// first of val/, validation/, test/; a root of class folders alone is the
// train split.
func splitDirs(cfg *dataset.Config, root string) (string, string) {
	resolve := func(key string, defaults ...string) string {
		if v, ok := cfg.Metadata[key].(string); ok {
			if v == "" {
				return ""
			}
			return filepath.Join(root, v)
		}
		for _, d := range defaults {
			if p := filepath.Join(root, d); isDir(p) {
				return p
			}
		}
		return ""
	}
	train := resolve("train_dir", "train")
	test := resolve("test_dir", "val", "validation", "test")
	if _, set := cfg.Metadata["train_dir"]; !set && train == "" && test == "" && hasSubdirs(root) {
		train = root
	}
	return train, test
}

// loadClasses fixes the label of every class. The first of these that is
// there decides: a LOC_synset_mapping.txt next to the data (Kaggle's), the
// devkit's meta.mat (its 1000 leaf synsets), torchvision's meta.bin, each
// giving the sorted wnids (so a partial ImageNet tree keeps the real labels)
// and their names; else the sorted class folders of the train split
// (torchvision's ImageFolder order).
func (d *Dataset) loadClasses(trainDir, testDir string) error {
	if m := findUp(d.Root, rootLevels, "LOC_synset_mapping.txt"); m != "" {
		wnids, names, err := ReadSynsetMapping(m)
		if err != nil {
			return err
		}
		d.setClasses(wnids, names, m)
		return d.checkClassCount()
	}
	if err := d.readMeta(); err != nil {
		return err
	}
	switch {
	case d.kit != nil:
		d.setClasses(d.kit.Classes, d.kit.Names, d.kit.Path)
		return d.checkClassCount()
	case d.torchMeta != nil:
		d.setClasses(d.torchMeta.Classes, d.torchMeta.Names, d.torchMeta.Path)
		return d.checkClassCount()
	}
	dir := trainDir
	if dir == "" || !hasSubdirs(dir) {
		dir = testDir
	}
	if dir == "" || !hasSubdirs(dir) {
		return errs.NotFoundf("dataset %q: no class folders in %s and nothing naming the classes (LOC_synset_mapping.txt, %s/%s, %s or %s)",
			d.Config.Name, d.Root, DevkitDir, devkitMeta, DevkitTarball, TorchvisionMeta)
	}
	classes, err := ClassDirs(dir)
	if err != nil {
		return err
	}
	d.Classes = classes
	d.ClassNames = classes
	return d.checkClassCount()
}

func (d *Dataset) setClasses(wnids []string, names map[string]string, source string) {
	d.Classes = wnids
	d.ClassNames = make([]string, len(wnids))
	for i, w := range wnids {
		d.ClassNames[i] = names[w]
		if d.ClassNames[i] == "" {
			d.ClassNames[i] = w
		}
	}
	d.ClassSource = source
}

// readMeta reads, once, ImageNet's devkit (the ILSVRC2012_devkit_t12 folder
// or its tarball, at or above the root) and torchvision's meta.bin (in the
// root) when they are there. A damaged one is an error, not skipped: it
// would silently change the labels.
func (d *Dataset) readMeta() error {
	if d.metaRead {
		return nil
	}
	d.metaRead = true
	if p := findUp(d.Root, rootLevels, filepath.Join(DevkitDir, devkitMeta), DevkitTarball); p != "" {
		if strings.HasSuffix(p, devkitMeta) {
			p = filepath.Dir(filepath.Dir(p))
		}
		k, err := ReadDevkit(p)
		if err != nil {
			return err
		}
		d.kit = k
	}
	if p := findUp(d.Root, 0, TorchvisionMeta); p != "" {
		m, err := ReadTorchMeta(p)
		if err != nil {
			return err
		}
		d.torchMeta = m
	}
	return nil
}

// flatLabels finds the ground truth of a folder of images without class
// folders: LOC_val_solution.csv or val_labels.txt at or above it, else the
// devkit's validation ground truth, else meta.bin's val_wnids.
func (d *Dataset) flatLabels(dir string) (map[string]string, string, error) {
	if gt := findUp(dir, splitLevels, "LOC_val_solution.csv", "val_labels.txt"); gt != "" {
		labels, err := ReadValLabels(gt)
		return labels, gt, err
	}
	if err := d.readMeta(); err != nil {
		return nil, "", err
	}
	if d.kit != nil && d.kit.ValLabels != nil {
		return d.kit.ValLabels, d.kit.Path, nil
	}
	if d.torchMeta != nil && len(d.torchMeta.ValLabels) > 0 {
		return d.torchMeta.ValLabels, d.torchMeta.Path, nil
	}
	return nil, "", errs.NotFoundf("dataset %q: %s has no class folders and no ground truth for its images: looked for "+
		"LOC_val_solution.csv or val_labels.txt (\"<file> <wnid>\" lines) in it and the %d folders above, %s (with %s) or %s at or above %s, and %s in %s",
		d.Config.Name, dir, splitLevels, DevkitDir, devkitTruth, DevkitTarball, d.Root, TorchvisionMeta, d.Root)
}

func (d *Dataset) checkClassCount() error {
	if len(d.Classes) > d.Config.NumClasses {
		return errs.Invalidf("dataset %q has %d classes in %s but its config says num_classes=%d",
			d.Config.Name, len(d.Classes), d.Root, d.Config.NumClasses)
	}
	return nil
}

func (d *Dataset) classIndex() map[string]int {
	m := make(map[string]int, len(d.Classes))
	for i, c := range d.Classes {
		m[c] = i
	}
	return m
}

func (d *Dataset) openSplit(name, dir string) (*Split, error) {
	s := &Split{Name: name, Dir: dir}
	if usePack := d.opts.UsePack == nil || *d.opts.UsePack; usePack && !d.opts.ForceReload {
		p, err := OpenPack(PackPath(d.opts.CacheDir, d.Config.Name, dir))
		switch {
		case err == nil && p.Fresh(dir):
			logging.L().Debug().Str("dataset", d.Config.Name).Str("split", name).Str("pack", p.Path).Msg("serving from prepared pack")
			s.Pack = p
			return s, nil
		case err == nil:
			logging.L().Warn().Str("pack", p.Path).Str("dir", dir).Msg("image folder changed since prepare_dataset; scanning it instead (prepare again to refresh)")
			p.Close()
		case !errors.Is(err, errs.ErrNotFound):
			logging.L().Warn().Err(err).Msg("ignoring unreadable prepared pack")
		}
	}
	var err error
	if hasSubdirs(dir) {
		s.List, _, err = ScanTree(dir, d.classIndex())
	} else {
		labels, source, lerr := d.flatLabels(dir)
		if lerr != nil {
			return nil, lerr
		}
		s.LabelSource = source
		s.List, err = ScanFlat(dir, labels, d.classIndex())
	}
	if err != nil {
		return nil, err
	}
	s.Stats = s.List.Stats
	return s, nil
}

// SplitByName returns "train" or "test" ("val" and "validation" too).
func (d *Dataset) SplitByName(name string) (*Split, error) {
	switch name {
	case "train":
		return d.Train, nil
	case "test", "val", "validation":
		return d.Test, nil
	}
	return nil, errs.Invalidf("unknown split %q (want train or test)", name)
}

// Retain adds an owner; every Retain needs a Close.
func (d *Dataset) Retain() { d.refs.Add(1) }

// Close drops an owner; the last one unmaps the packs.
func (d *Dataset) Close() error {
	if d.refs.Add(-1) > 0 {
		return nil
	}
	var first error
	for _, s := range []*Split{d.Train, d.Test} {
		if s != nil && s.Pack != nil {
			if err := s.Pack.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// noteBad records an unreadable file; the first report of each is logged.
func (d *Dataset) noteBad(path string, err error) {
	d.badMu.Lock()
	_, seen := d.bad[path]
	if !seen {
		d.bad[path] = err.Error()
	}
	d.badMu.Unlock()
	if !seen {
		logging.L().Warn().Str("dataset", d.Config.Name).Str("file", path).Str("error", err.Error()).Msg("skipping unreadable image (on_error=skip)")
	}
}

// Skipped lists the files skipped so far (on_error=skip), sorted, with errors.
func (d *Dataset) Skipped() map[string]string {
	d.badMu.Lock()
	defer d.badMu.Unlock()
	out := make(map[string]string, len(d.bad))
	for k, v := range d.bad {
		out[k] = v
	}
	return out
}

// Info describes the dataset for hosts: the registry config with the real
// sample counts and classes, the splits' folders, packs and scan counts.
func (d *Dataset) Info() map[string]any {
	cfg := d.Config.Clone()
	info := map[string]any{"root": d.Root, "classes": d.Classes, "class_names": d.ClassNames, "class_source": d.ClassSource}
	files, hits, size := []string{}, 0, int64(0)
	for _, sp := range []struct {
		key string
		s   *Split
	}{{"train", d.Train}, {"test", d.Test}} {
		n := 0
		if sp.s != nil {
			n = sp.s.Len()
			files = append(files, sp.s.Dir)
			info[sp.key+"_dir"] = sp.s.Dir
			info[sp.key+"_scan"] = sp.s.Stats
			info[sp.key+"_labels"] = sp.s.LabelSource
			if sp.s.Pack != nil {
				hits++
				size += sp.s.Pack.Size()
				info[sp.key+"_pack"] = map[string]any{"path": sp.s.Pack.Path, "max_side": sp.s.Pack.Header.MaxSide}
			}
		}
		info[sp.key+"_samples"] = n
	}
	cfg.NumTrainSamples, _ = info["train_samples"].(int)
	cfg.NumTestSamples, _ = info["test_samples"].(int)
	cfg.Metadata["classes"] = d.ClassNames
	info["config"] = cfg
	info["files"] = files
	info["cache_hits"] = hits
	info["size_bytes"] = size
	skipped := d.Skipped()
	paths := make([]string, 0, len(skipped))
	for p := range skipped {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	info["skipped_files"] = len(paths)
	info["skipped"] = paths[:min(len(paths), 100)]
	info["on_error"] = d.opts.OnError
	return info
}

// OpenLoader returns a loader over one split; it keeps d open until closed.
// It makes *Dataset a loader.SplitOpener, so the C API's snd_loader_open
// serves image folders and array datasets through one path.
func (d *Dataset) OpenLoader(split string, opts loader.SplitOptions) (*loader.Loader, error) {
	s, err := d.SplitByName(split)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errs.NotFoundf("dataset %q has no %s split", d.Config.Name, split)
	}
	specs := opts.Specs(split, d.Config.DefaultTrainTransforms, d.Config.DefaultTestTransforms)
	src, err := NewSource(d, s, specs)
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

var _ loader.SplitOpener = (*Dataset)(nil)
