package dataset

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Where the array datasets' files are looked for under the data folder.
// torchvision's layout comes first (it is where downloads go); then the
// layouts people make by hand or get from other tools.

// mnistPlaces are the folders that may hold MNIST's four files, in order:
// torchvision's <root>/MNIST/raw, the same with the root at <data>/mnist,
// <data> being torchvision's MNIST/ folder itself, and the files lying flat
// in <data>/mnist, <data>/MNIST or <data>.
func mnistPlaces(dataDir string) []string {
	return []string{
		filepath.Join(dataDir, "MNIST", "raw"),
		filepath.Join(dataDir, "mnist", "MNIST", "raw"),
		filepath.Join(dataDir, "raw"),
		filepath.Join(dataDir, "mnist"),
		filepath.Join(dataDir, "MNIST"),
		dataDir,
	}
}

// mnistForms are the names one of MNIST's files goes by: inflated (read
// fastest), as published (.gz), and with a dot before "idx"
// (train-images.idx3-ubyte, as the widespread Kaggle copy names them).
func mnistForms(f RemoteFile) []string {
	inflated := strings.TrimSuffix(f.Name, ".gz")
	dotted := strings.Replace(inflated, "-idx", ".idx", 1)
	return []string{inflated, f.Name, dotted, dotted + ".gz"}
}

// mnistPlace is what one candidate folder holds: for each of MNISTFiles,
// the path of its first form present ("" when none is).
type mnistPlace struct {
	dir   string
	paths [4]string
}

func (p mnistPlace) count() int {
	n := 0
	for _, x := range p.paths {
		if x != "" {
			n++
		}
	}
	return n
}

// has reports whether the place holds all the files at indices idx.
func (p mnistPlace) has(idx ...int) bool {
	for _, i := range idx {
		if p.paths[i] == "" {
			return false
		}
	}
	return true
}

// findMNIST looks at every candidate folder. best is the first folder with
// the most of the four files (torchvision's when none has any).
func findMNIST(dataDir string) (places []mnistPlace, best int, err error) {
	for _, dir := range mnistPlaces(dataDir) {
		p := mnistPlace{dir: dir}
		for i, f := range MNISTFiles {
			for _, name := range mnistForms(f) {
				ok, err := isRegularFile(filepath.Join(dir, name))
				if err != nil {
					return nil, 0, err
				}
				if ok {
					p.paths[i] = filepath.Join(dir, name)
					break
				}
			}
		}
		places = append(places, p)
		if p.count() > places[best].count() {
			best = len(places) - 1
		}
	}
	return places, best, nil
}

// mnistMissingError names every file missing from the most complete folder
// (both splits' files), and every folder looked in.
func mnistMissingError(places []mnistPlace, best int) error {
	var missing, have []string
	for i, f := range MNISTFiles {
		if places[best].paths[i] == "" {
			missing = append(missing, f.Name)
		} else {
			have = append(have, filepath.Base(places[best].paths[i]))
		}
	}
	dirs := make([]string, len(places))
	for i, p := range places {
		dirs[i] = p.dir
	}
	where := "none of them is in " + places[best].dir
	if len(have) > 0 {
		where = places[best].dir + " has " + strings.Join(have, ", ") + " but not the others"
	}
	return errs.NotFoundf("mnist: missing %s (each may also be unzipped, without .gz): %s; looked in %s. "+
		"Enable download (files go to %s) or put the four files together in one of those folders",
		strings.Join(missing, ", "), where, strings.Join(dirs, ", "), places[0].dir)
}

// cifarRoots are the folders that may hold a CIFAR dataset's extracted
// folder (cifar-10-batches-py, ...) or its archive: the data folder
// (torchvision's root), then <data>/<name> and <data>/<NAME>.
func cifarRoots(dataDir, name string) []string {
	return []string{dataDir, filepath.Join(dataDir, name), filepath.Join(dataDir, strings.ToUpper(name))}
}

// cifarFound is where a CIFAR dataset's files are: the first folder of
// python batches holding all of files, else of binary batches, else the
// first archive; the data folder itself also counts as a batches folder
// (DATA_DIR pointing at cifar-10-batches-py).
type cifarFound struct {
	pyDir, binDir string // a complete folder, or ""
	archive       string // the archive to extract, or ""
	archiveRoot   string // where it extracts to
}

func findCIFAR(dataDir string, l cifarLayout, files []RemoteFile) (cifarFound, error) {
	var found cifarFound
	complete := func(dir, suffix string) (bool, error) {
		for _, f := range files {
			ok, err := isRegularFile(filepath.Join(dir, f.Name+suffix))
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}
	roots := cifarRoots(dataDir, l.name)
	for _, dir := range append(joinAll(roots, l.pyDir), dataDir) {
		ok, err := complete(dir, "")
		if err != nil {
			return found, err
		}
		if ok {
			found.pyDir = dir
			return found, nil
		}
	}
	for _, dir := range append(joinAll(roots, l.binDir), dataDir) {
		ok, err := complete(dir, ".bin")
		if err != nil {
			return found, err
		}
		if ok {
			found.binDir = dir
			return found, nil
		}
	}
	for _, root := range roots {
		ok, err := isRegularFile(filepath.Join(root, l.archive.Name))
		if err != nil {
			return found, err
		}
		if ok {
			found.archive, found.archiveRoot = filepath.Join(root, l.archive.Name), root
			return found, nil
		}
	}
	return found, nil
}

// cifarPlaces lists the folders findCIFAR looks in, for messages.
func cifarPlaces(dataDir string, l cifarLayout) string {
	return strings.Join(append(joinAll(cifarRoots(dataDir, l.name), l.pyDir), dataDir), ", ")
}

func joinAll(dirs []string, name string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = filepath.Join(d, name)
	}
	return out
}

// isRegularFile reports whether path is a regular file (following links);
// absent paths and other kinds (a folder of the same name) are false, and
// only a failure to look is an error.
func isRegularFile(path string) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, errs.IOf("%s: %v", path, err)
	}
	return st.Mode().IsRegular(), nil
}
