package timeseries

import (
	"testing"
	"time"
)

// Store.Close returns only once every file the read cache opened is closed,
// including one evicted while a read still used it.
func TestStoreCloseWaitsForEvictedFiles(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), MaxCachedFiles: 1})
	if err != nil {
		t.Fatal(err)
	}
	before := h5OpenFiles()
	table := &Table{Rows: 2, Columns: []Column{{Name: "loss", Kind: KindFloat64, F: []float64{0.5, 0.25}}}}
	for _, id := range []string{"a", "b"} {
		if err := s.Put(id, table, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Read("a", All()); err != nil {
		t.Fatal(err)
	}
	cached := s.cache.files[s.base("a")+extH5]
	if cached == nil {
		t.Fatal("a compact file read once should stay in the cache")
	}
	cached.mu.Lock() // a read still using "a"
	if _, err := s.Read("b", All()); err != nil {
		t.Fatal(err)
	}
	if s.cache.files[s.base("a")+extH5] != nil {
		t.Fatal("reading b should have evicted a (limit 1)")
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case <-done:
		cached.mu.Unlock()
		t.Fatal("Close returned while an evicted file was still in use and open")
	case <-time.After(100 * time.Millisecond):
	}
	cached.mu.Unlock() // the read ends
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !cached.closed {
		t.Error("the evicted file is not closed after Close")
	}
	if n := h5OpenFiles(); n != before {
		t.Errorf("%d HDF5 files open after Close, %d before the store", n, before)
	}
	// Reads after Close fail without reopening anything.
	if _, err := s.Read("a", All()); err == nil {
		t.Error("Read after Close succeeded")
	}
	if n := h5OpenFiles(); n != before {
		t.Errorf("%d HDF5 files open after a read on a closed store, want %d", n, before)
	}
}

// The cache keeps the most recently used files and evicts the least
// recently used first.
func TestReadCacheEvictsLeastRecentlyUsed(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), MaxCachedFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	table := &Table{Rows: 1, Columns: []Column{{Name: "x", Kind: KindInt64, I: []int64{1}}}}
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Put(id, table, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b", "a", "c"} { // "b" is the least recent when "c" arrives
		if _, err := s.Read(id, All()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{s.base("a") + extH5, s.base("c") + extH5}
	if got := s.cache.order; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("cache order %v, want %v", got, want)
	}
	if s.cache.files[s.base("b")+extH5] != nil {
		t.Fatal("b should have been evicted")
	}
}
