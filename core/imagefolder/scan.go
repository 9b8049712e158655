package imagefolder

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// List is the samples of one split: file paths relative to Dir, in
// torchvision ImageFolder order, and their labels.
type List struct {
	Dir    string
	Paths  []string
	Labels []int32
	Stats  ScanStats
}

// Len is the number of samples.
func (l *List) Len() int { return len(l.Paths) }

// ScanStats counts what a scan passed over, so nothing is dropped silently.
type ScanStats struct {
	Unsupported  int      `json:"unsupported_images"` // image extensions this build does not decode (.webp, .bmp, ...)
	Ignored      int      `json:"ignored_files"`      // other files (not images, hidden)
	Unreadable   []string `json:"unreadable_dirs"`    // folders that could not be listed
	BrokenLinks  int      `json:"broken_links"`
	LoopsSkipped int      `json:"symlink_loops"`
	EmptyClasses []string `json:"empty_classes"`
}

func (s *ScanStats) add(o ScanStats) {
	s.Unsupported += o.Unsupported
	s.Ignored += o.Ignored
	s.Unreadable = append(s.Unreadable, o.Unreadable...)
	s.BrokenLinks += o.BrokenLinks
	s.LoopsSkipped += o.LoopsSkipped
}

var otherImageExts = map[string]bool{".ppm": true, ".bmp": true, ".pgm": true, ".tif": true, ".tiff": true, ".webp": true, ".gif": true}

// isImage reports whether a file name has an extension this package
// decodes (JPEG or PNG; the content decides which).
func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// ClassDirs lists the class folders of dir: sub-folders (symlinks to
// folders included), not hidden, sorted as torchvision's find_classes.
func ClassDirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errs.NotFoundf("image folder %s does not exist", dir)
		}
		return nil, errs.IOf("list image folder %s: %v", dir, err)
	}
	var out []string
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		if isDirEntry(dir, e) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func isDirEntry(dir string, e os.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&os.ModeSymlink != 0 {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && fi.IsDir()
	}
	return false
}

type dirKey struct{ dev, ino uint64 }

// walkClass lists the images under one class folder, recursively and
// following symlinks, in torchvision's order: folders sorted by path, files
// by name. A folder reached twice (a symlink loop) is listed once.
func walkClass(root, class string) ([]string, ScanStats) {
	type dirFiles struct {
		rel   string
		files []string
	}
	var stats ScanStats
	var dirs []dirFiles
	seen := map[dirKey]bool{}
	var walk func(rel string)
	walk = func(rel string) {
		full := filepath.Join(root, rel)
		if fi, err := os.Stat(full); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				k := dirKey{uint64(st.Dev), uint64(st.Ino)}
				if seen[k] {
					stats.LoopsSkipped++
					return
				}
				seen[k] = true
			}
		}
		entries, err := os.ReadDir(full)
		if err != nil {
			// torchvision's os.walk skips unreadable folders too; we say so.
			stats.Unreadable = append(stats.Unreadable, full)
			logging.L().Warn().Str("dir", full).Err(err).Msg("skipping unreadable image folder")
			if len(entries) == 0 {
				return
			}
		}
		d := dirFiles{rel: rel}
		var subdirs []string
		for _, e := range entries {
			name := e.Name()
			if hidden(name) {
				stats.Ignored++
				continue
			}
			mode := e.Type()
			if mode&os.ModeSymlink != 0 {
				fi, err := os.Stat(filepath.Join(full, name))
				if err != nil {
					stats.BrokenLinks++
					continue
				}
				mode = fi.Mode().Type()
			}
			switch {
			case mode.IsDir():
				subdirs = append(subdirs, filepath.Join(rel, name))
			case !mode.IsRegular():
				stats.Ignored++
			case isImage(name):
				d.files = append(d.files, filepath.Join(rel, name))
			case otherImageExts[strings.ToLower(filepath.Ext(name))]:
				stats.Unsupported++
			default:
				stats.Ignored++
			}
		}
		sort.Strings(d.files)
		dirs = append(dirs, d)
		for _, s := range subdirs {
			walk(s)
		}
	}
	walk(class)
	sort.SliceStable(dirs, func(i, j int) bool { return dirs[i].rel < dirs[j].rel })
	var files []string
	for _, d := range dirs {
		files = append(files, d.files...)
	}
	return files, stats
}

// ScanTree lists a class-folder tree: dir/<class>/**/<image>. classIndex
// maps class folder names to labels; nil means the sorted folders of dir
// (torchvision's ImageFolder). A folder missing from a given classIndex is
// an error, because its label would be guessed.
func ScanTree(dir string, classIndex map[string]int) (*List, []string, error) {
	classes, err := ClassDirs(dir)
	if err != nil {
		return nil, nil, err
	}
	if classIndex == nil {
		classIndex = make(map[string]int, len(classes))
		for i, c := range classes {
			classIndex[c] = i
		}
	}
	for _, c := range classes {
		if _, ok := classIndex[c]; !ok {
			return nil, nil, errs.Invalidf("class folder %q in %s is not a class of this dataset", c, dir)
		}
	}
	// Class folders are independent: list them on a few goroutines.
	results := make([][]string, len(classes))
	stats := make([]ScanStats, len(classes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, c := range classes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], stats[i] = walkClass(dir, c)
		}()
	}
	wg.Wait()
	l := &List{Dir: dir}
	for i, c := range classes {
		if len(results[i]) == 0 {
			l.Stats.EmptyClasses = append(l.Stats.EmptyClasses, c)
		}
		l.Stats.add(stats[i])
		for _, p := range results[i] {
			l.Paths = append(l.Paths, p)
			l.Labels = append(l.Labels, int32(classIndex[c]))
		}
	}
	if len(l.Stats.EmptyClasses) > 0 {
		logging.L().Warn().Str("dir", dir).Strs("classes", l.Stats.EmptyClasses).Msg("class folders without images")
	}
	return l, classes, nil
}

// ScanFlat lists the images directly in dir with labels from labelOf
// (file name -> class); images without a label are an error.
func ScanFlat(dir string, labelOf map[string]string, classIndex map[string]int) (*List, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errs.IOf("list image folder %s: %v", dir, err)
	}
	l := &List{Dir: dir}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if hidden(name) || !isImage(name) || isDirEntry(dir, e) {
			l.Stats.Ignored++
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cls, ok := labelOf[strings.TrimSuffix(name, filepath.Ext(name))]
		if !ok {
			cls, ok = labelOf[name]
		}
		if !ok {
			return nil, errs.NotFoundf("%s: no ground-truth label for %s", dir, name)
		}
		idx, ok := classIndex[cls]
		if !ok {
			return nil, errs.Invalidf("%s: label %q of %s is not a class of this dataset", dir, cls, name)
		}
		l.Paths = append(l.Paths, name)
		l.Labels = append(l.Labels, int32(idx))
	}
	return l, nil
}

// ReadSynsetMapping reads LOC_synset_mapping.txt ("n01440764 tench, Tinca
// tinca" per line): wnids in sorted order (torchvision's class order for
// the full tree) and their names.
func ReadSynsetMapping(path string) ([]string, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, errs.IOf("open %s: %v", path, err)
	}
	defer f.Close()
	names := map[string]string{}
	var wnids []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		wnid, name, _ := strings.Cut(text, " ")
		if _, dup := names[wnid]; dup {
			return nil, nil, errs.Corruptf("%s:%d: wnid %s listed twice", path, line, wnid)
		}
		names[wnid] = strings.TrimSpace(name)
		wnids = append(wnids, wnid)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, errs.IOf("read %s: %v", path, err)
	}
	if len(wnids) == 0 {
		return nil, nil, errs.Corruptf("%s lists no classes", path)
	}
	sort.Strings(wnids)
	return wnids, names, nil
}

// ReadValLabels reads flat-validation ground truth: Kaggle's
// LOC_val_solution.csv (ImageId,PredictionString whose first word is the
// wnid) or a text file of "<file> <class>" lines.
func ReadValLabels(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.IOf("open %s: %v", path, err)
	}
	defer f.Close()
	out := map[string]string{}
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		for line := 1; ; line++ {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, errs.Corruptf("%s: %v", path, err)
			}
			if line == 1 && len(rec) > 0 && rec[0] == "ImageId" {
				continue
			}
			if len(rec) < 2 || len(strings.Fields(rec[1])) == 0 {
				return nil, errs.Corruptf("%s:%d: want ImageId,PredictionString", path, line)
			}
			out[rec[0]] = strings.Fields(rec[1])[0]
		}
		return out, nil
	}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, errs.Corruptf("%s:%d: want \"<file> <class>\"", path, line)
		}
		out[fields[0]] = fields[1]
	}
	if err := sc.Err(); err != nil {
		return nil, errs.IOf("read %s: %v", path, err)
	}
	return out, nil
}

// How far above a dataset's root (rootLevels) or a split's folder
// (splitLevels) the files describing it are looked for. Kaggle's ImageNet
// keeps LOC_synset_mapping.txt and LOC_val_solution.csv beside ILSVRC/, three
// levels above its root ILSVRC/Data/CLS-LOC and four above CLS-LOC/val.
const (
	rootLevels  = 3
	splitLevels = rootLevels + 1
)

// findUp looks for one of names in dir and its parents, up to levels up.
func findUp(dir string, levels int, names ...string) string {
	return findUpAny(dir, levels, false, names...)
}

// findUpAny is findUp for files (dirs false) or folders (dirs true).
func findUpAny(dir string, levels int, dirs bool, names ...string) string {
	for i := 0; i <= levels; i++ {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if fi, err := os.Stat(p); err == nil && fi.IsDir() == dirs {
				return p
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// hasSubdirs reports whether dir holds at least one non-hidden folder.
func hasSubdirs(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !hidden(e.Name()) && isDirEntry(dir, e) {
			return true
		}
	}
	return false
}

// LocateImageNet finds an ImageNet-style root (with train/ or val/) under
// dataDir: dataDir/imagenet, dataDir/ILSVRC2012, Kaggle's layout
// ILSVRC/Data/CLS-LOC (with dataDir at the folder the archive unpacked to,
// at its ILSVRC/, or at CLS-LOC itself), or dataDir itself.
func LocateImageNet(dataDir string) (string, error) {
	var tried []string
	for _, c := range []string{"imagenet", "ImageNet", "ILSVRC2012", "imagenet/ILSVRC/Data/CLS-LOC", "ILSVRC/Data/CLS-LOC", "Data/CLS-LOC", "."} {
		root := filepath.Join(dataDir, c)
		tried = append(tried, root)
		if isDir(filepath.Join(root, "train")) || isDir(filepath.Join(root, "val")) {
			return root, nil
		}
	}
	return "", errs.NotFoundf("no ImageNet folder (with train/ or val/) under %s; looked in %s. Point DATA_DIR (or data_dir=) at the folder holding imagenet/train/<wnid>/*.JPEG",
		dataDir, strings.Join(tried, ", "))
}
