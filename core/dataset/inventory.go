package dataset

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
)

// What SourceFiles and VerifyFiles found for a file.
const (
	FilePresent    = "present"    // on disk, not hashed (SourceFiles)
	FileOK         = "ok"         // its MD5 is the registered one
	FileMismatch   = "mismatch"   // its MD5 is not the registered one
	FileMissing    = "missing"    // neither it nor a form the reader accepts is there
	FileUnverified = "unverified" // on disk, but no MD5 is published for this form (inflated MNIST, CIFAR binary)
	FileArchived   = "archived"   // not extracted yet; the archive next to it holds it
	FileError      = "error"      // could not be read (Error says why)
)

// FileCheck is one source file of a dataset: where it is (or would be) under
// the data folder, and what a check found.
type FileCheck struct {
	Name   string `json:"name"`                 // official file name
	Path   string `json:"path"`                 // where it is, or where the reader looks for it
	Size   int64  `json:"size"`                 // bytes; 0 when missing
	MD5    string `json:"md5"`                  // registered MD5 ("" when none is published)
	Actual string `json:"actual_md5,omitempty"` // computed by VerifyFiles
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Problem reports whether the file stops the dataset from loading as registered.
func (f FileCheck) Problem() bool {
	return f.Status == FileMissing || f.Status == FileMismatch || f.Status == FileError
}

// SourceFiles lists the source files of a built-in array dataset (mnist,
// cifar10, cifar100) under dataDir in torchvision's layout, without reading
// them: each form the readers accept that is present (MNIST .gz or inflated;
// CIFAR python batches, the binary ones when those are absent, and a python
// archive sitting in dataDir), and the files still missing. md5Override
// replaces registered MD5s by file name, as FetchOptions.MD5Override does.
func SourceFiles(name, dataDir string, md5Override map[string]string) ([]FileCheck, error) {
	if dataDir == "" {
		dataDir = DefaultDataDir()
	}
	opt := FetchOptions{MD5Override: md5Override}
	switch name {
	case "mnist":
		return mnistFiles(dataDir, &opt)
	case "cifar10":
		return cifarFiles(dataDir, &opt, name, "cifar-10-batches-py", "cifar-10-batches-bin", CIFAR10Archive, CIFAR10Files, ".bin")
	case "cifar100":
		return cifarFiles(dataDir, &opt, name, "cifar-100-python", "cifar-100-binary", CIFAR100Archive, CIFAR100Files, ".bin")
	}
	return nil, errs.Unsupportedf("dataset %q has no built-in source files (want mnist, cifar10 or cifar100)", name)
}

// mnistFiles lists the files in the folder the loader would read (the most
// complete of the places it looks, torchvision's MNIST/raw when none has any).
func mnistFiles(dataDir string, opt *FetchOptions) ([]FileCheck, error) {
	places, best, err := findMNIST(dataDir)
	if err != nil {
		return nil, err
	}
	dir := places[best].dir
	var out []FileCheck
	for _, f := range MNISTFiles {
		n := len(out)
		for _, name := range mnistForms(f) {
			c := FileCheck{Name: name, Path: filepath.Join(dir, name)}
			if strings.HasSuffix(name, ".gz") {
				c.MD5 = opt.md5(f) // the published archive's, whatever its name
			}
			if err := stat(&c); err != nil {
				return nil, err
			}
			if c.Status != FileMissing {
				out = append(out, c)
			}
		}
		if len(out) == n {
			out = append(out, FileCheck{Name: f.Name, Path: filepath.Join(dir, f.Name), MD5: opt.md5(f), Status: FileMissing})
		}
	}
	return out, nil
}

// cifarFiles lists the files the loader would read: the python batches,
// else a complete binary folder, else the archive it would extract, each
// where the loader finds it (see findCIFAR).
func cifarFiles(dataDir string, opt *FetchOptions, name, pyDir, binDir string, archive RemoteFile, files []RemoteFile, binSuffix string) ([]FileCheck, error) {
	l := cifarLayout{name: name, pyDir: pyDir, binDir: binDir, archive: archive, files: files, all: files}
	found, err := findCIFAR(dataDir, l, files)
	if err != nil {
		return nil, err
	}
	var out []FileCheck
	switch {
	case found.binDir != "" && found.pyDir == "":
		for _, f := range files {
			out = append(out, FileCheck{Name: f.Name + binSuffix, Path: filepath.Join(found.binDir, f.Name+binSuffix)})
		}
	default:
		dir := found.pyDir
		if dir == "" {
			dir = filepath.Join(dataDir, pyDir)
			if found.archive != "" {
				dir = filepath.Join(found.archiveRoot, pyDir)
			}
		}
		for _, f := range files {
			out = append(out, FileCheck{Name: f.Name, Path: filepath.Join(dir, f.Name), MD5: opt.md5(f)})
		}
	}
	for i := range out {
		if err := stat(&out[i]); err != nil {
			return nil, err
		}
		if out[i].Status == FileMissing && found.archive != "" {
			out[i].Status = FileArchived
		}
	}
	if found.archive != "" {
		arch := FileCheck{Name: archive.Name, Path: found.archive, MD5: opt.md5(archive)}
		if err := stat(&arch); err != nil {
			return nil, err
		}
		out = append(out, arch)
	}
	return out, nil
}

// stat fills Size and Status (present, or missing) of c.Path.
func stat(c *FileCheck) error {
	ok, err := fileExists(c.Path)
	switch {
	case err != nil && errs.KindOf(err) == errs.ErrInvalid: // not a regular file
		c.Status, c.Error = FileError, err.Error()
	case err != nil:
		return err
	case !ok:
		c.Status = FileMissing
	default:
		fi, err := os.Stat(c.Path)
		if err != nil {
			return errs.IOf("%s: %v", c.Path, err)
		}
		c.Size, c.Status = fi.Size(), FilePresent
	}
	return nil
}

// VerifyFiles computes the MD5 of every present file that has a registered
// one and sets its Status to ok or mismatch (unverified when none is
// registered). Unreadable files get status error; the other files are left
// as they are. progress, when not nil, is called as bytes are hashed.
func VerifyFiles(ctx context.Context, files []FileCheck, progress Progress) error {
	for i := range files {
		f := &files[i]
		if f.Status != FilePresent {
			continue
		}
		if f.MD5 == "" {
			f.Status = FileUnverified
			continue
		}
		if b, err := hex.DecodeString(f.MD5); err != nil || len(b) != md5.Size {
			return errs.Invalidf("%s: %q is not a hex MD5 digest", f.Name, f.MD5)
		}
		sum, err := md5Of(ctx, f.Path, f.Name, progress)
		switch {
		case err != nil && errors.Is(err, errs.ErrUnavailable): // cancelled
			return err
		case err != nil:
			f.Status, f.Error = FileError, err.Error()
		case strings.EqualFold(sum, f.MD5):
			f.Status, f.Actual = FileOK, sum
		default:
			f.Status, f.Actual = FileMismatch, sum
		}
	}
	return nil
}

func md5Of(ctx context.Context, path, name string, progress Progress) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", errs.IOf("%s: %v", path, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return "", errs.IOf("%s: %v", path, err)
	}
	h := md5.New()
	buf := make([]byte, 1<<20)
	var done int64
	for {
		if err := ctx.Err(); err != nil {
			return "", errs.Unavailablef("verify %s: %v", path, err)
		}
		n, err := fh.Read(buf)
		h.Write(buf[:n])
		done += int64(n)
		if progress != nil && n > 0 {
			progress(name, done, fi.Size())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", errs.IOf("%s: %v", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Kinds of CacheFile.
const (
	CacheDecoded = "decoded" // a decoded split (Arrow IPC), written by Open
	CachePack    = "pack"    // a prepared image-folder split (package imagefolder)
	CachePartial = "partial" // left by an interrupted write; never read
)

// CacheFile is one file of the cache folder.
type CacheFile struct {
	Dataset string `json:"dataset"`
	Split   string `json:"split"`
	Kind    string `json:"kind"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`     // bytes; 0 when not there
	ModTime int64  `json:"mtime_ns"` // 0 when not there
	Present bool   `json:"present"`
}

// cacheRoot is the folder of the decoded caches built from one data folder:
// datasets of the same name in different data folders never share a cache.
func cacheRoot(cacheDir, dataDir string) string {
	abs, _ := filepath.Abs(dataDir)
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(cacheDir, hex.EncodeToString(sum[:6]))
}

// CacheFilesOf are the decoded caches Open uses for cfg's splits read from
// dataDir, present or not (empty folders mean the defaults).
func CacheFilesOf(cfg *Config, dataDir, cacheDir string) ([]CacheFile, error) {
	if dataDir == "" {
		dataDir = DefaultDataDir()
	}
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	var out []CacheFile
	for _, split := range []string{"train", "test"} {
		c := CacheFile{Dataset: cfg.Name, Split: split, Kind: CacheDecoded,
			Path: CachePath(cacheRoot(cacheDir, dataDir), cfg.Name, cfg.Version, split)}
		if err := statCache(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func statCache(c *CacheFile) error {
	fi, err := os.Stat(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return errs.IOf("%s: %v", c.Path, err)
	}
	c.Size, c.ModTime, c.Present = fi.Size(), fi.ModTime().UnixNano(), true
	return nil
}

// ListCaches lists the decoded caches under cacheDir (default
// DefaultCacheDir()), those of every data folder, and files left by
// interrupted cache writes, sorted by dataset, split and path. A cache folder
// that does not exist holds nothing.
func ListCaches(cacheDir string) ([]CacheFile, error) {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	// <cache>/<data-folder digest>/<dataset>/<split>-v<version>-c<layout>.arrow
	paths, err := filepath.Glob(filepath.Join(cacheDir, "*", "*", "*.arrow*"))
	if err != nil {
		return nil, errs.Invalidf("cache folder %s: %v", cacheDir, err)
	}
	var out []CacheFile
	for _, p := range paths {
		base := filepath.Base(p)
		kind := CacheDecoded
		switch {
		case strings.HasSuffix(base, ".arrow"):
		case strings.Contains(base, ".arrow.tmp-"):
			kind = CachePartial
		default:
			continue
		}
		split, _, ok := strings.Cut(base, "-v")
		if !ok {
			continue
		}
		c := CacheFile{Dataset: filepath.Base(filepath.Dir(p)), Split: split, Kind: kind, Path: p}
		if err := statCache(&c); err != nil {
			return nil, err
		}
		if c.Present {
			out = append(out, c)
		}
	}
	SortCacheFiles(out)
	return out, nil
}

// SortCacheFiles orders files by dataset, split and path.
func SortCacheFiles(files []CacheFile) {
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.Dataset != b.Dataset {
			return a.Dataset < b.Dataset
		}
		if a.Split != b.Split {
			return a.Split < b.Split
		}
		return a.Path < b.Path
	})
}

// RemoveCacheFiles deletes the files, then the folders they leave empty up to
// (not including) cacheDir. Files already gone are fine. Processes that have
// a removed cache mapped keep reading it; later opens decode again.
func RemoveCacheFiles(cacheDir string, files []CacheFile) error {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	top, _ := filepath.Abs(cacheDir)
	for _, f := range files {
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errs.IOf("remove cache file %s: %v", f.Path, err)
		}
		dir, _ := filepath.Abs(filepath.Dir(f.Path))
		for dir != top && strings.HasPrefix(dir, top+string(filepath.Separator)) {
			if os.Remove(dir) != nil { // not empty (or not ours to remove): stop
				break
			}
			dir = filepath.Dir(dir)
		}
	}
	return nil
}
