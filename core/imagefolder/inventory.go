package imagefolder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
)

// Location is where an image-folder dataset's images are and which prepared
// packs it has, found without scanning the images.
type Location struct {
	Root    string              `json:"root"`    // "" when no folder was found
	Folders []dataset.FileCheck `json:"files"`   // the split folders (Name "train" / "test"), present or missing
	Packs   []dataset.CacheFile `json:"caches"`  // the packs prepare_dataset writes for those folders
	Problem string              `json:"problem"` // why the folder was not found ("" when it was)
}

// Locate finds the folders of a registered image-folder dataset (ImageNet
// under opt.DataDir, or the root a registration recorded) and its packs
// under opt.CacheDir. A missing folder is reported in the Location, not as
// an error; only a dataset of another format is an error.
func Locate(cfg *dataset.Config, opt OpenOptions) (*Location, error) {
	if cfg.Format != Format {
		return nil, errs.Invalidf("dataset %q has format %q, not %q", cfg.Name, cfg.Format, Format)
	}
	if err := opt.fill(cfg); err != nil {
		return nil, err
	}
	loc := &Location{Folders: []dataset.FileCheck{}, Packs: []dataset.CacheFile{}} // [] in JSON, never null
	root, _ := cfg.Metadata["root"].(string)
	if root == "" {
		var err error
		if root, err = LocateImageNet(opt.DataDir); err != nil {
			loc.Problem = err.Error()
			return loc, nil
		}
	}
	if !isDir(root) {
		loc.Problem = "image folder " + root + " does not exist"
		return loc, nil
	}
	loc.Root, _ = filepath.Abs(root)
	trainDir, testDir := splitDirs(cfg, loc.Root)
	for _, sp := range []struct{ name, dir string }{{"train", trainDir}, {"test", testDir}} {
		f := dataset.FileCheck{Name: sp.name, Path: sp.dir, Status: dataset.FilePresent}
		if sp.dir == "" {
			f.Status = dataset.FileMissing
			f.Path = loc.Root
			loc.Folders = append(loc.Folders, f)
			continue
		}
		loc.Folders = append(loc.Folders, f)
		p := dataset.CacheFile{Dataset: cfg.Name, Split: sp.name, Kind: dataset.CachePack,
			Path: PackPath(opt.CacheDir, cfg.Name, sp.dir)}
		if fi, err := os.Stat(p.Path); err == nil {
			p.Size, p.ModTime, p.Present = fi.Size(), fi.ModTime().UnixNano(), true
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, errs.IOf("%s: %v", p.Path, err)
		}
		loc.Packs = append(loc.Packs, p)
	}
	return loc, nil
}

// ListPacks lists the prepared packs under cacheDir (default
// dataset.DefaultCacheDir()) and files left by interrupted prepares. A
// pack's Split is the base name of the folder it was made from ("train",
// "val", ...).
func ListPacks(cacheDir string) ([]dataset.CacheFile, error) {
	if cacheDir == "" {
		cacheDir = dataset.DefaultCacheDir()
	}
	// <cache>/images/<dataset>/<folder digest>-<folder name>.snpack, and .pack-* while writing
	paths, err := filepath.Glob(filepath.Join(cacheDir, "images", "*", "*"))
	if err != nil {
		return nil, errs.Invalidf("cache folder %s: %v", cacheDir, err)
	}
	var out []dataset.CacheFile
	for _, p := range paths {
		base := filepath.Base(p)
		c := dataset.CacheFile{Dataset: filepath.Base(filepath.Dir(p)), Path: p}
		switch {
		case strings.HasSuffix(base, ".snpack"):
			_, folder, _ := strings.Cut(strings.TrimSuffix(base, ".snpack"), "-")
			c.Kind, c.Split = dataset.CachePack, folder
		case strings.HasPrefix(base, ".pack-"):
			c.Kind = dataset.CachePartial
		default:
			continue
		}
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, errs.IOf("%s: %v", p, err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		c.Size, c.ModTime, c.Present = fi.Size(), fi.ModTime().UnixNano(), true
		out = append(out, c)
	}
	dataset.SortCacheFiles(out)
	return out, nil
}
