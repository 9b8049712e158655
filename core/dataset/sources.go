package dataset

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
)

// RemoteFile is a file of an official distribution and its published MD5.
type RemoteFile struct{ Name, MD5 string }

// MNISTMirrors are tried in order; the S3 copy is torchvision's first choice
// because the original site is often down or rate-limited.
var MNISTMirrors = []string{
	"https://ossci-datasets.s3.amazonaws.com/mnist",
	"http://yann.lecun.com/exdb/mnist",
}

// MNISTFiles are the four gzip files torchvision keeps in <root>/MNIST/raw.
var MNISTFiles = []RemoteFile{
	{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
	{"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"},
	{"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"},
	{"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"},
}

// CIFARMirrors host the CIFAR archives.
var CIFARMirrors = []string{"https://www.cs.toronto.edu/~kriz"}

// The CIFAR archives. Only the python ones are downloaded; the binary ones are
// listed so that callers can verify archives they fetched themselves.
var (
	CIFAR10Archive        = RemoteFile{"cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"}
	CIFAR100Archive       = RemoteFile{"cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"}
	CIFAR10BinaryArchive  = RemoteFile{"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"}
	CIFAR100BinaryArchive = RemoteFile{"cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8"}
)

// CIFAR10Files are the batches inside cifar-10-batches-py; the first five are
// the train split.
var CIFAR10Files = []RemoteFile{
	{"data_batch_1", "c99cafc152244af753f735de768cd75f"},
	{"data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"},
	{"data_batch_3", "54ebc095f3ab1f0389bbae665268c751"},
	{"data_batch_4", "634d18415352ddfa80567beed471001a"},
	{"data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"},
	{"test_batch", "40351d587109b95175f43aff81a1287e"},
}

// CIFAR100Files are the splits inside cifar-100-python.
var CIFAR100Files = []RemoteFile{
	{"train", "16019d7e3df5f24257cddd939b257f8d"},
	{"test", "f0ef6b0ae62326f3e7ffdfab6717acfc"},
}

// FetchOptions controls what LocateAndLoad may fetch and how.
type FetchOptions struct {
	// Download fetches missing files; without it missing files are an error.
	Download bool
	// Mirrors overrides the official mirrors when non-empty.
	Mirrors []string
	// Client defaults to http.DefaultClient.
	Client   *http.Client
	Progress Progress
	// VerifyExisting checks the MD5 of files already on disk. Off by default:
	// files are verified when fetched, and hashing 180 MB on every load is
	// wasted time. Inflated MNIST files and the binary CIFAR formats have no
	// published per-file MD5 and are never verified.
	VerifyExisting bool
	// MD5Override replaces the official MD5 of the named files (e.g.
	// "cifar-10-python.tar.gz"), for private mirrors serving re-packed
	// archives. An empty value disables the check for that file.
	MD5Override map[string]string
}

func (o *FetchOptions) md5(f RemoteFile) string {
	if m, ok := o.MD5Override[f.Name]; ok {
		return m
	}
	return f.MD5
}

func (o *FetchOptions) mirrors(official []string) []string {
	if len(o.Mirrors) > 0 {
		return o.Mirrors
	}
	return official
}

// LocateAndLoad finds (and with opt.Download fetches) the named dataset under
// dataDir, laid out as torchvision's root folder, and decodes one split. It
// returns the split and the files it read. name is "mnist", "cifar10" or
// "cifar100"; split is "train" or "test".
func LocateAndLoad(ctx context.Context, name, dataDir, split string, opt FetchOptions) (*Split, []string, error) {
	if split != "train" && split != "test" {
		return nil, nil, errs.Invalidf("%s: split %q is not \"train\" or \"test\"", name, split)
	}
	if dataDir == "" {
		return nil, nil, errs.Invalidf("%s: no data directory given", name)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, errs.Unavailablef("%s: %w", name, err)
	}
	switch name {
	case "mnist":
		return loadMNIST(ctx, dataDir, split, &opt)
	case "cifar10":
		files := CIFAR10Files[5:]
		if split == "train" {
			files = CIFAR10Files[:5]
		}
		return loadCIFAR(ctx, dataDir, &opt, cifarLayout{
			name: name, pyDir: "cifar-10-batches-py", binDir: "cifar-10-batches-bin",
			archive: CIFAR10Archive, files: files, all: CIFAR10Files, labelBytes: 1,
		})
	case "cifar100":
		files := CIFAR100Files[1:]
		if split == "train" {
			files = CIFAR100Files[:1]
		}
		return loadCIFAR(ctx, dataDir, &opt, cifarLayout{
			name: name, pyDir: "cifar-100-python", binDir: "cifar-100-binary",
			archive: CIFAR100Archive, files: files, all: CIFAR100Files, labelBytes: 2,
		})
	}
	return nil, nil, errs.Invalidf("dataset %q has no built-in reader (want mnist, cifar10 or cifar100)", name)
}

func loadMNIST(ctx context.Context, dataDir, split string, opt *FetchOptions) (*Split, []string, error) {
	want := []int{0, 1} // indices into MNISTFiles: images, labels
	if split == "test" {
		want = []int{2, 3}
	}
	// The first folder holding this split's two files serves it. Only files
	// that were already there are verified: fresh downloads were checked on
	// arrival. Files read inflated have no published MD5.
	locate := func(verify bool) ([]string, error) {
		places, best, err := findMNIST(dataDir)
		if err != nil {
			return nil, err
		}
		for _, p := range places {
			if !p.has(want...) {
				continue
			}
			paths := []string{p.paths[want[0]], p.paths[want[1]]}
			for k, path := range paths {
				f := MNISTFiles[want[k]]
				if verify && strings.HasSuffix(path, ".gz") && opt.md5(f) != "" {
					if err := VerifyMD5(path, opt.md5(f)); err != nil {
						return nil, err
					}
				}
			}
			return paths, nil
		}
		return nil, mnistMissingError(places, best)
	}
	paths, err := locate(opt.VerifyExisting)
	if err != nil && errs.KindOf(err) != errs.ErrNotFound {
		return nil, nil, err
	}
	if err != nil {
		if !opt.Download {
			return nil, nil, err
		}
		// Like torchvision, fetch the whole set into <root>/MNIST/raw so the
		// folder is complete for the other split too.
		raw := mnistPlaces(dataDir)[0]
		var fetch []RemoteFile
		var names []string
		for _, f := range MNISTFiles {
			gz := filepath.Join(raw, f.Name)
			if ok, err := anyExists(gz, strings.TrimSuffix(gz, ".gz")); ok || err != nil {
				if err != nil {
					return nil, nil, err
				}
				continue
			}
			fetch, names = append(fetch, f), append(names, f.Name)
		}
		for _, f := range fetch {
			if _, err := FetchFirst(ctx, opt.Client, opt.mirrors(MNISTMirrors), f.Name, raw, opt.md5(f), opt.Progress); err != nil {
				return nil, nil, sameKind(err, "mnist: %s missing from %s and the download failed: %w",
					strings.Join(names, ", "), raw, err)
			}
		}
		if paths, err = locate(false); err != nil {
			return nil, nil, sameKind(err, "mnist: right after the download: %v", err)
		}
	}
	s, err := ReadMNIST(paths[0], paths[1])
	if err != nil {
		return nil, nil, err
	}
	return s, paths, nil
}

// cifarLayout describes where one CIFAR split lives under the data root.
type cifarLayout struct {
	name          string
	pyDir, binDir string
	archive       RemoteFile
	files         []RemoteFile // this split's
	all           []RemoteFile // both splits', for messages
	labelBytes    int
}

func loadCIFAR(ctx context.Context, dataDir string, opt *FetchOptions, l cifarLayout) (*Split, []string, error) {
	found, err := findCIFAR(dataDir, l, l.files)
	if err != nil {
		return nil, nil, err
	}
	if found.pyDir == "" && found.binDir != "" {
		binPaths := make([]string, len(l.files))
		for i, f := range l.files {
			binPaths[i] = filepath.Join(found.binDir, f.Name+".bin")
		}
		s, err := ReadCIFARBinary(binPaths, l.labelBytes)
		if err != nil {
			return nil, nil, err
		}
		return s, binPaths, nil
	}
	if found.pyDir == "" {
		root, err := fetchCIFARArchive(ctx, dataDir, opt, l, found)
		if err != nil {
			return nil, nil, err
		}
		found.pyDir = filepath.Join(root, l.pyDir)
		for _, f := range l.files {
			if ok, err := isRegularFile(filepath.Join(found.pyDir, f.Name)); err != nil {
				return nil, nil, err
			} else if !ok {
				return nil, nil, errs.Corruptf("%s: %s did not contain %s/%s", l.name, l.archive.Name, l.pyDir, f.Name)
			}
		}
	} else if opt.VerifyExisting {
		for _, f := range l.files {
			if opt.md5(f) == "" {
				continue
			}
			if err := VerifyMD5(filepath.Join(found.pyDir, f.Name), opt.md5(f)); err != nil {
				return nil, nil, err
			}
		}
	}
	pyPaths := make([]string, len(l.files))
	for i, f := range l.files {
		pyPaths[i] = filepath.Join(found.pyDir, f.Name)
	}
	s, err := ReadCIFARPickle(pyPaths, true)
	if err != nil {
		return nil, nil, err
	}
	return s, pyPaths, nil
}

// fetchCIFARArchive extracts the python archive found next to the data, or
// downloads it into dataDir first, and returns the folder it extracted into.
// An archive already sitting there (e.g. copied by hand after a failed
// download) is used as is, after checking its MD5 since nothing verified it
// on arrival.
func fetchCIFARArchive(ctx context.Context, dataDir string, opt *FetchOptions, l cifarLayout, found cifarFound) (string, error) {
	archive, root := found.archive, found.archiveRoot
	downloaded := false
	switch {
	case archive != "" && opt.md5(l.archive) == "":
	case archive != "":
		if err := VerifyMD5(archive, opt.md5(l.archive)); err != nil {
			return "", sameKind(err, "%s: the batches are not extracted, and the archive found at %s is damaged (delete it to download again): %v",
				l.name, archive, err)
		}
	case !opt.Download:
		return "", cifarMissingError(dataDir, l)
	default:
		root, archive = dataDir, filepath.Join(dataDir, l.archive.Name)
		if _, err := FetchFirst(ctx, opt.Client, opt.mirrors(CIFARMirrors), l.archive.Name, dataDir, opt.md5(l.archive), opt.Progress); err != nil {
			return "", sameKind(err, "%s: %s missing from %s and the download failed: %w",
				l.name, strings.Join(cifarMissing(filepath.Join(dataDir, l.pyDir), l.all), ", "), filepath.Join(dataDir, l.pyDir), err)
		}
		downloaded = true
	}
	if err := ExtractTarGz(archive, root); err != nil {
		return "", err
	}
	// Keep an archive the user placed; one we fetched is redundant once extracted.
	if downloaded {
		// Not there any more is fine: a concurrent load removed it first.
		if err := os.Remove(archive); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", errs.IOf("%s: removing %s after extraction: %v", l.name, archive, err)
		}
	}
	return root, nil
}

// cifarMissing lists the files of all (both splits) not in dir.
func cifarMissing(dir string, all []RemoteFile) []string {
	var out []string
	for _, f := range all {
		if ok, _ := isRegularFile(filepath.Join(dir, f.Name)); !ok {
			out = append(out, f.Name)
		}
	}
	return out
}

// cifarMissingError names every file of both splits missing from the most
// complete batches folder, and every place looked in.
func cifarMissingError(dataDir string, l cifarLayout) error {
	dirs := append(joinAll(cifarRoots(dataDir, l.name), l.pyDir), dataDir)
	best, missing := dirs[0], cifarMissing(dirs[0], l.all)
	for _, d := range dirs[1:] {
		if m := cifarMissing(d, l.all); len(m) < len(missing) {
			best, missing = d, m
		}
	}
	return errs.NotFoundf("%s: %s missing from %s (looked in %s and for %s in %s); enable download, or copy %s (or the extracted %s folder) into %s",
		l.name, strings.Join(missing, ", "), best, cifarPlaces(dataDir, l), l.archive.Name,
		strings.Join(cifarRoots(dataDir, l.name), ", "), l.archive.Name, l.pyDir, dataDir)
}

func fileExists(path string) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, errs.IOf("%s: %v", path, err)
	}
	if !st.Mode().IsRegular() {
		return false, errs.Invalidf("%s: exists but is not a regular file", path)
	}
	return true, nil
}

func anyExists(paths ...string) (bool, error) {
	for _, p := range paths {
		if ok, err := fileExists(p); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// sameKind re-wraps cause with more context while keeping its kind, so that
// callers mapping kinds to status codes still see "unavailable" or "checksum".
func sameKind(cause error, format string, args ...any) error {
	if f, ok := kindConstructors[errs.KindOf(cause)]; ok {
		return f(format, args...)
	}
	return errs.IOf(format, args...)
}

var kindConstructors = map[error]func(string, ...any) error{
	errs.ErrInvalid:     errs.Invalidf,
	errs.ErrNotFound:    errs.NotFoundf,
	errs.ErrCorrupt:     errs.Corruptf,
	errs.ErrIO:          errs.IOf,
	errs.ErrClosed:      errs.Closedf,
	errs.ErrUnsupported: errs.Unsupportedf,
	errs.ErrChecksum:    errs.Checksumf,
	errs.ErrConflict:    errs.Conflictf,
	errs.ErrUnavailable: errs.Unavailablef,
}
