package dataset_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/dataset"
)

func statuses(files []dataset.FileCheck) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		out[f.Name] = f.Status
	}
	return out
}

func TestInventoryMNISTFilesAndVerify(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "MNIST", "raw")
	files, err := dataset.SourceFiles("mnist", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("an empty folder lists %d files, want the 4 official ones", len(files))
	}
	for i, f := range files {
		if f.Status != dataset.FileMissing || f.Name != dataset.MNISTFiles[i].Name || f.MD5 != dataset.MNISTFiles[i].MD5 ||
			f.Path != filepath.Join(raw, f.Name) || f.Problem() != true {
			t.Fatalf("file %d of an empty folder: %+v", i, f)
		}
	}

	// Two files gzipped (one of them with an overridden MD5), one inflated, one missing.
	imgs := gzipped(t, idxFixture(0x803, []uint32{3, 28, 28}, fixtureBytes(1, 3*784)))
	labels := gzipped(t, idxFixture(0x801, []uint32{3}, []byte{1, 2, 3}))
	writeFixture(t, filepath.Join(raw, "train-images-idx3-ubyte.gz"), imgs)
	writeFixture(t, filepath.Join(raw, "train-labels-idx1-ubyte.gz"), labels)
	writeFixture(t, filepath.Join(raw, "t10k-images-idx3-ubyte"), idxFixture(0x803, []uint32{1, 28, 28}, fixtureBytes(2, 784)))
	override := map[string]string{"train-labels-idx1-ubyte.gz": md5Of(labels)}
	files, err = dataset.SourceFiles("mnist", dir, override)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"train-images-idx3-ubyte.gz": dataset.FilePresent, "train-labels-idx1-ubyte.gz": dataset.FilePresent,
		"t10k-images-idx3-ubyte": dataset.FilePresent, "t10k-labels-idx1-ubyte.gz": dataset.FileMissing,
	}
	if got := statuses(files); len(got) != 4 || !mapsEqual(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	var progressed []string
	err = dataset.VerifyFiles(context.Background(), files, func(name string, done, total int64) {
		if done == total {
			progressed = append(progressed, name)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{
		// Random bytes cannot match the official MD5; the overridden one matches.
		"train-images-idx3-ubyte.gz": dataset.FileMismatch, "train-labels-idx1-ubyte.gz": dataset.FileOK,
		"t10k-images-idx3-ubyte": dataset.FileUnverified, "t10k-labels-idx1-ubyte.gz": dataset.FileMissing,
	}
	if got := statuses(files); !mapsEqual(got, want) {
		t.Fatalf("after verify %v, want %v", got, want)
	}
	if files[0].Actual != md5Of(imgs) || files[0].Size != int64(len(imgs)) {
		t.Fatalf("mismatch reports md5 %s size %d, want %s %d", files[0].Actual, files[0].Size, md5Of(imgs), len(imgs))
	}
	if !slices.Equal(progressed, []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}) {
		t.Fatalf("progress completed for %v", progressed)
	}

	// A folder where a file should be is an error entry, not a crash.
	os.MkdirAll(filepath.Join(raw, "t10k-labels-idx1-ubyte.gz"), 0o755)
	files, err = dataset.SourceFiles("mnist", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := files[len(files)-1]; f.Status != dataset.FileError || !strings.Contains(f.Error, "not a regular file") {
		t.Fatalf("a directory in place of a file: %+v", f)
	}
	if _, err := dataset.SourceFiles("imagenet", dir, nil); err == nil {
		t.Fatal("imagenet has no built-in source files, want an error")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestInventoryCIFARLayouts(t *testing.T) {
	dir := t.TempDir()
	// Only the binary batches: those are what the reader takes, and no MD5 covers them.
	for _, f := range dataset.CIFAR10Files {
		writeFixture(t, filepath.Join(dir, "cifar-10-batches-bin", f.Name+".bin"), fixtureBytes(3, 3073))
	}
	files, err := dataset.SourceFiles("cifar10", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.VerifyFiles(context.Background(), files, nil); err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 || files[0].Name != "data_batch_1.bin" || files[0].Status != dataset.FileUnverified {
		t.Fatalf("binary layout: %+v", files)
	}

	// Python batches partly extracted plus the archive: the rest is "archived", the archive is checked.
	dir = t.TempDir()
	writeFixture(t, filepath.Join(dir, "cifar-10-batches-py", "data_batch_1"), []byte("x"))
	archive := writeFixture(t, filepath.Join(dir, dataset.CIFAR10Archive.Name), []byte("not the real archive"))
	files, err = dataset.SourceFiles("cifar10", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.VerifyFiles(context.Background(), files, nil); err != nil {
		t.Fatal(err)
	}
	got := statuses(files)
	if len(files) != 7 || got["data_batch_1"] != dataset.FileMismatch || got["data_batch_2"] != dataset.FileArchived ||
		got[dataset.CIFAR10Archive.Name] != dataset.FileMismatch || files[6].Path != archive {
		t.Fatalf("partly extracted: %+v", files)
	}
	if files[1].Problem() {
		t.Fatal("an archived file is not a problem: the reader extracts it")
	}
}

func TestInventoryCachesListAndRemove(t *testing.T) {
	data, cache := t.TempDir(), t.TempDir()
	raw := filepath.Join(data, "MNIST", "raw")
	writeFixture(t, filepath.Join(raw, "train-images-idx3-ubyte"), idxFixture(0x803, []uint32{5, 28, 28}, fixtureBytes(4, 5*784)))
	writeFixture(t, filepath.Join(raw, "train-labels-idx1-ubyte"), idxFixture(0x801, []uint32{5}, []byte{0, 1, 2, 3, 4}))
	writeFixture(t, filepath.Join(raw, "t10k-images-idx3-ubyte"), idxFixture(0x803, []uint32{2, 28, 28}, fixtureBytes(5, 2*784)))
	writeFixture(t, filepath.Join(raw, "t10k-labels-idx1-ubyte"), idxFixture(0x801, []uint32{2}, []byte{5, 6}))
	cfg, err := dataset.Default.Get("mnist")
	if err != nil {
		t.Fatal(err)
	}
	expected, err := dataset.CacheFilesOf(cfg, data, cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(expected) != 2 || expected[0].Present || expected[1].Present {
		t.Fatalf("before opening: %+v", expected)
	}
	d, err := dataset.Open(context.Background(), dataset.Default, "mnist", dataset.OpenOptions{DataDir: data, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	expected, _ = dataset.CacheFilesOf(cfg, data, cache)
	listed, err := dataset.ListCaches(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || !expected[0].Present || !expected[1].Present {
		t.Fatalf("after opening: expected %+v, listed %+v", expected, listed)
	}
	for i, split := range []string{"test", "train"} { // sorted by split
		l := listed[i]
		if l.Dataset != "mnist" || l.Split != split || l.Kind != dataset.CacheDecoded || l.Size < 2*784 {
			t.Fatalf("listed %+v", l)
		}
		if !slices.ContainsFunc(expected, func(e dataset.CacheFile) bool { return e.Path == l.Path && e.Size == l.Size }) {
			t.Fatalf("listed %s is not one of the caches of %s: %+v", l.Path, data, expected)
		}
	}
	// A write interrupted by a crash is listed (and removed) as partial.
	partial := listed[0].Path + ".tmp-123"
	writeFixture(t, partial, []byte("half"))
	listed, _ = dataset.ListCaches(cache)
	if len(listed) != 3 || listed[0].Kind != dataset.CachePartial && listed[1].Kind != dataset.CachePartial {
		t.Fatalf("with a partial file: %+v", listed)
	}
	if err := dataset.RemoveCacheFiles(cache, listed); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(cache)
	if len(left) != 0 {
		t.Fatalf("left in the cache folder: %v", left)
	}
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("the cache folder itself must stay: %v", err)
	}
	if listed, err := dataset.ListCaches(filepath.Join(cache, "nope")); err != nil || len(listed) != 0 {
		t.Fatalf("a missing cache folder: %v %v", listed, err)
	}
}
