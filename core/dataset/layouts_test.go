package dataset_test

import (
	"archive/tar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
)

type mnistFixture struct {
	images map[string][]byte // split prefix -> pixels
	labels map[string][]int64
	files  map[string][]byte // official inflated name -> IDX bytes
}

func newMNISTFixture() mnistFixture {
	m := mnistFixture{images: map[string][]byte{}, labels: map[string][]int64{}, files: map[string][]byte{}}
	for i, split := range []string{"train", "t10k"} {
		n := 5 - 2*i
		m.images[split] = fixtureBytes(uint64(90+i), n*28*28)
		m.labels[split] = fixtureLabels(uint64(90+i), n, 10)
		m.files[split+"-images-idx3-ubyte"] = idxFixture(0x803, []uint32{uint32(n), 28, 28}, m.images[split])
		m.files[split+"-labels-idx1-ubyte"] = idxFixture(0x801, []uint32{uint32(n)}, labelFixture(m.labels[split]))
	}
	return m
}

// write puts the four files into dir under one naming form: "inflated"
// (train-images-idx3-ubyte), "gz", "dotted" (train-images.idx3-ubyte, as
// Kaggle's copy) or "dotted.gz"; only those whose prefix is in splits.
func (m mnistFixture) write(t *testing.T, dir, form string, splits ...string) {
	t.Helper()
	for name, b := range m.files {
		if !slices.ContainsFunc(splits, func(s string) bool { return strings.HasPrefix(name, s+"-") }) {
			continue
		}
		if strings.HasPrefix(form, "dotted") {
			name = strings.Replace(name, "-idx", ".idx", 1)
		}
		if strings.HasSuffix(form, "gz") {
			name, b = name+".gz", gzipped(t, b)
		}
		writeFixture(t, filepath.Join(dir, name), b)
	}
}

// MNIST is found in every common layout and naming; the one chosen is the
// one that holds the files, and what is read is what was written.
func TestLayoutsMNIST(t *testing.T) {
	m := newMNISTFixture()
	for _, place := range []string{"MNIST/raw", "mnist/MNIST/raw", "raw", "mnist", "MNIST", "."} {
		for _, form := range []string{"inflated", "gz", "dotted", "dotted.gz"} {
			root := t.TempDir()
			dir := filepath.Join(root, place)
			m.write(t, dir, form, "train", "t10k")
			// Kaggle's copy also has folders named like the files: not files.
			os.MkdirAll(filepath.Join(root, "train-images-idx3-ubyte"), 0o755)
			for _, split := range []string{"train", "test"} {
				s, read, err := dataset.LocateAndLoad(t.Context(), "mnist", root, split, dataset.FetchOptions{})
				if err != nil {
					t.Fatalf("%s, %s: %v", place, form, err)
				}
				prefix := map[string]string{"train": "train", "test": "t10k"}[split]
				checkDecoded(t, s, m.images[prefix], m.labels[prefix], nil, len(m.labels[prefix]), 1, 28, 28)
				if len(read) != 2 || filepath.Dir(read[0]) != filepath.Clean(dir) {
					t.Fatalf("%s, %s: read %v", place, form, read)
				}
			}
		}
	}
}

func TestLayoutsMNISTMissingNamesEveryFileAndPlace(t *testing.T) {
	m := newMNISTFixture()
	root := t.TempDir()
	_, _, err := dataset.LocateAndLoad(t.Context(), "mnist", root, "train", dataset.FetchOptions{})
	places := []string{filepath.Join(root, "MNIST", "raw"), filepath.Join(root, "mnist"), root}
	all := []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
	wantFormatErr(t, err, errs.ErrNotFound, append(all, places...)...)

	// A flat folder with the train files only: the train split loads, and
	// the test split's error names both of its files and where the others are.
	m.write(t, root, "gz", "train")
	if _, _, err := dataset.LocateAndLoad(t.Context(), "mnist", root, "train", dataset.FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err = dataset.LocateAndLoad(t.Context(), "mnist", root, "test", dataset.FetchOptions{})
	wantFormatErr(t, err, errs.ErrNotFound, "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz", root+" has train-")
	if strings.Contains(err.Error(), "missing train-") {
		t.Fatalf("names a file that is there: %v", err)
	}
}

// CIFAR: the extracted folder directly in DATA_DIR (torchvision), under
// DATA_DIR/cifar10, DATA_DIR being the batches folder itself, or only the
// archive sitting in one of those places.
func TestLayoutsCIFAR(t *testing.T) {
	specDir := t.TempDir()
	var specs []pickleSpec
	names := []string{"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"}
	for i, name := range names {
		s := newPickleSpec(uint64(110+i), filepath.Join(specDir, name), 20+i, false)
		specs = append(specs, s)
	}
	generatePickles(t, specs)
	entries := []tarFixtureEntry{{name: "cifar-10-batches-py/", typ: tar.TypeDir}}
	batches := map[string][]byte{}
	for _, s := range specs {
		b := readFixture(t, s.Out)
		batches[filepath.Base(s.Out)] = b
		entries = append(entries, tarFixtureEntry{name: "cifar-10-batches-py/" + filepath.Base(s.Out), body: b})
	}
	archive := tarGzFixture(t, entries)
	opt := dataset.FetchOptions{MD5Override: map[string]string{"cifar-10-python.tar.gz": md5Of(archive)}}

	for _, c := range []struct{ name, folder, archiveAt, dataDir string }{
		{"torchvision", "cifar-10-batches-py", "", "."},
		{"under cifar10/", "cifar10/cifar-10-batches-py", "", "."},
		{"under CIFAR10/", "CIFAR10/cifar-10-batches-py", "", "."},
		{"DATA_DIR is the batches folder", "cifar-10-batches-py", "", "cifar-10-batches-py"},
		{"archive in DATA_DIR", "", ".", "."},
		{"archive in cifar10/", "", "cifar10", "."},
	} {
		root := t.TempDir()
		if c.folder != "" {
			for name, b := range batches {
				writeFixture(t, filepath.Join(root, c.folder, name), b)
			}
		}
		if c.archiveAt != "" {
			writeFixture(t, filepath.Join(root, c.archiveAt, "cifar-10-python.tar.gz"), archive)
		}
		dataDir := filepath.Join(root, c.dataDir)
		s, read, err := dataset.LocateAndLoad(t.Context(), "cifar10", dataDir, "test", opt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := specs[5]
		checkDecoded(t, s, want.images, want.Labels, nil, want.N, 3, 32, 32)
		if c.folder != "" && read[0] != filepath.Join(root, c.folder, "test_batch") {
			t.Fatalf("%s: read %v", c.name, read)
		}
		if c.archiveAt != "" && read[0] != filepath.Join(root, c.archiveAt, "cifar-10-batches-py", "test_batch") {
			t.Fatalf("%s: extracted beside the archive, read %v", c.name, read)
		}
	}

	// Two batches missing: both named (train and test split alike), and where we looked.
	root := t.TempDir()
	for name, b := range batches {
		if name != "data_batch_2" && name != "test_batch" {
			writeFixture(t, filepath.Join(root, "cifar10", "cifar-10-batches-py", name), b)
		}
	}
	_, _, err := dataset.LocateAndLoad(t.Context(), "cifar10", root, "train", dataset.FetchOptions{})
	wantFormatErr(t, err, errs.ErrNotFound, "data_batch_2, test_batch missing from "+filepath.Join(root, "cifar10", "cifar-10-batches-py"),
		filepath.Join(root, "cifar-10-batches-py"), "cifar-10-python.tar.gz")
}
