package dataset_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
)

// randomSplit makes n random uint8 samples of shape (c, h, w) with labels i % 10.
func randomSplit(n, c, h, w int, seed uint64) *dataset.Split {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &dataset.Split{N: n, C: c, H: h, W: w, Images: make([]byte, n*c*h*w), Labels: make([]int64, n)}
	for i := range s.Images {
		s.Images[i] = byte(rng.IntN(256))
	}
	for i := range s.Labels {
		s.Labels[i] = int64(i % 10)
	}
	return s
}

func TestCacheRoundTripIsMapped(t *testing.T) {
	dir := t.TempDir()
	s := randomSplit(37, 3, 5, 7, 10)
	s.Coarse = make([]int64, s.N)
	for i := range s.Coarse {
		s.Coarse[i] = int64(i % 3)
	}
	src := filepath.Join(dir, "source.bin")
	os.WriteFile(src, []byte("x"), 0o644)
	stamps, err := dataset.StampFiles([]string{src})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c", "train.arrow")
	if err := dataset.WriteCache(path, s, stamps); err != nil {
		t.Fatal(err)
	}
	m, err := dataset.OpenCache(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.N != 37 || m.C != 3 || m.H != 5 || m.W != 7 {
		t.Fatalf("shape %d %d %d %d", m.N, m.C, m.H, m.W)
	}
	if !slices.Equal(m.Images, s.Images) || !slices.Equal(m.Labels, s.Labels) || !slices.Equal(m.Coarse, s.Coarse) {
		t.Fatal("cache contents differ")
	}
	if !m.Fresh() {
		t.Fatal("cache should be fresh")
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(src, later, later)
	if m.Fresh() {
		t.Fatal("cache should be stale after its source changed")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "c", "*.tmp-*")); len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestCacheCorruptFilesAreErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "train.arrow")
	if err := dataset.WriteCache(path, randomSplit(10, 1, 4, 4, 11), nil); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	cases := map[string][]byte{
		"empty":     {},
		"truncated": good[:len(good)/2],
		"garbage":   []byte("this is not an arrow file at all, not even close"),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name+".arrow")
		os.WriteFile(p, data, 0o644)
		m, err := dataset.OpenCache(p)
		if err == nil {
			m.Close()
			t.Errorf("%s: opened a corrupt cache", name)
		} else if !errors.Is(err, errs.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := dataset.OpenCache(filepath.Join(dir, "missing.arrow")); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	r := dataset.NewRegistry()
	if got := r.Names(); !slices.Equal(got, []string{"mnist", "cifar10", "cifar100", "imagenet"}) {
		t.Fatalf("names %v", got)
	}
	mnist, _ := r.Get("mnist")
	if !slices.Equal(mnist.InputShape, []int{1, 28, 28}) || mnist.InputSize() != 784 {
		t.Fatalf("mnist shape %v", mnist.InputShape)
	}
	mnist.Name = "mutated"
	if again, _ := r.Get("mnist"); again.Name != "mnist" {
		t.Fatal("Get returned a shared config")
	}
	_, err := r.Get("nope")
	var nf *dataset.NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, errs.ErrNotFound) || len(nf.Available) != 4 {
		t.Fatalf("unknown name: %v", err)
	}
	toy := &dataset.Config{Name: "toy", InputShape: []int{1, 2, 2}, NumClasses: 2}
	if err := r.Register(toy, false); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(toy, false); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	toy.NumClasses = 3
	if err := r.Register(toy, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Get("toy"); got.NumClasses != 3 {
		t.Fatal("replace did not replace")
	}
	for name, bad := range map[string]*dataset.Config{
		"no classes":  {Name: "a", InputShape: []int{1}, NumClasses: 0},
		"zero dim":    {Name: "b", InputShape: []int{1, 0}, NumClasses: 2},
		"path name":   {Name: "../x", InputShape: []int{1}, NumClasses: 2},
		"bad std":     {Name: "c", InputShape: []int{1}, NumClasses: 2, Mean: []float64{0}, Std: []float64{0}},
		"mean length": {Name: "d", InputShape: []int{3, 2, 2}, NumClasses: 2, Mean: []float64{0, 0}, Std: []float64{1, 1}},
	} {
		if err := r.Register(bad, false); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := r.Unregister("mnist"); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("unregister builtin: %v", err)
	}
}
