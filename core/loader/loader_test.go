package loader_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"

	"github.com/structure-net/structure-net-data/core/cmem"
	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/loader"
	"github.com/structure-net/structure-net-data/core/transform"
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

type batch struct {
	images []float32
	labels []int64
}

// drain reads one epoch, copying each batch out before releasing it.
func drain(t *testing.T, l *loader.Loader) []batch {
	t.Helper()
	var out []batch
	for {
		rec, err := l.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, copyBatch(rec))
		rec.Release()
	}
}

func copyBatch(rec arrow.RecordBatch) batch {
	img := rec.Column(0).(*array.FixedSizeList).ListValues().(*array.Float32)
	lab := rec.Column(1).(*array.Int64)
	return batch{slices.Clone(img.Float32Values()), slices.Clone(lab.Int64Values())}
}

func newLoader(t *testing.T, s *dataset.Split, specs []transform.Spec, opts loader.Options) *loader.Loader {
	t.Helper()
	src, err := dataset.NewArraySource(s, specs, []float64{0.5, 0.4, 0.3}, []float64{0.2, 0.25, 0.3})
	if err != nil {
		t.Fatal(err)
	}
	l, err := loader.New(src, opts, cmem.Default)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var augment = transform.Specs("random_horizontal_flip", "random_crop", "normalize")

func TestLoaderCoversEverySampleOnce(t *testing.T) {
	s := randomSplit(103, 3, 8, 8, 1)
	l := newLoader(t, s, transform.Specs("normalize"), loader.Options{BatchSize: 10, Shuffle: true, Seed: 7})
	if l.Len() != 11 {
		t.Fatalf("Len = %d, want 11", l.Len())
	}
	batches := drain(t, l)
	if len(batches) != 11 || len(batches[10].labels) != 3 {
		t.Fatalf("got %d batches, last of %d", len(batches), len(batches[len(batches)-1].labels))
	}
	// Identify samples by their normalised first pixel plane: each must appear once.
	seen := map[int64]int{}
	for _, b := range batches {
		for _, lab := range b.labels {
			seen[lab]++
		}
	}
	for lab := int64(0); lab < 10; lab++ {
		want := 103 / 10
		if int(lab) < 103%10 {
			want++
		}
		if seen[lab] != want {
			t.Fatalf("label %d seen %d times, want %d", lab, seen[lab], want)
		}
	}
}

func TestLoaderNormalizeMatchesReference(t *testing.T) {
	s := randomSplit(5, 3, 4, 6, 2)
	l := newLoader(t, s, transform.Specs("normalize"), loader.Options{BatchSize: 5})
	got := drain(t, l)[0].images
	mean, std := []float32{0.5, 0.4, 0.3}, []float32{0.2, 0.25, 0.3}
	for i, v := range s.Images {
		c := (i / (4 * 6)) % 3
		want := (float32(v)/255 - mean[c]) / std[c]
		if got[i] != want {
			t.Fatalf("value %d = %v, want %v", i, got[i], want)
		}
	}
}

func TestLoaderDeterministicAcrossThreadCounts(t *testing.T) {
	s := randomSplit(64, 3, 8, 8, 3)
	one := drain(t, newLoader(t, s, augment, loader.Options{BatchSize: 8, Shuffle: true, Seed: 42, Threads: 1, Prefetch: 1}))
	many := drain(t, newLoader(t, s, augment, loader.Options{BatchSize: 8, Shuffle: true, Seed: 42, Threads: 4, Prefetch: 8}))
	if !slices.EqualFunc(one, many, batchEqual) {
		t.Fatal("outputs differ between 1 and 4 threads")
	}
	other := drain(t, newLoader(t, s, augment, loader.Options{BatchSize: 8, Shuffle: true, Seed: 43}))
	if slices.EqualFunc(one, other, batchEqual) {
		t.Fatal("different seeds gave identical epochs")
	}
}

func batchEqual(a, b batch) bool {
	return slices.Equal(a.images, b.images) && slices.Equal(a.labels, b.labels)
}

func TestLoaderEpochsReshuffleAndSetEpochReplays(t *testing.T) {
	s := randomSplit(40, 1, 4, 4, 4)
	l := newLoader(t, s, augment[:0], loader.Options{BatchSize: 40, Shuffle: true, Seed: 9})
	e0 := drain(t, l)
	e1 := drain(t, l) // the loader advanced to epoch 1 by itself
	if batchEqual(e0[0], e1[0]) {
		t.Fatal("epoch 1 repeated epoch 0's order")
	}
	if err := l.SetEpoch(0); err != nil {
		t.Fatal(err)
	}
	if again := drain(t, l); !batchEqual(e0[0], again[0]) {
		t.Fatal("SetEpoch(0) did not replay epoch 0")
	}
}

func TestLoaderResumeIsExact(t *testing.T) {
	s := randomSplit(50, 3, 8, 8, 5)
	opts := loader.Options{BatchSize: 6, Shuffle: true, Seed: 11, Epoch: 2}
	full := drain(t, newLoader(t, s, augment, opts))

	l := newLoader(t, s, augment, opts)
	for i := 0; i < 3; i++ {
		rec, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	state := l.State()
	if state.Batch != 3 || state.Epoch != 2 {
		t.Fatalf("state = %+v", state)
	}
	resumed := newLoader(t, s, augment, opts)
	if err := resumed.Restore(state); err != nil {
		t.Fatal(err)
	}
	rest := drain(t, resumed)
	if !slices.EqualFunc(full[3:], rest, batchEqual) {
		t.Fatal("resumed batches differ from the uninterrupted run")
	}
	bad := state
	bad.Seed++
	if err := resumed.Restore(bad); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("restore with another seed: err = %v", err)
	}
}

func TestOrderShardsLikeDistributedSampler(t *testing.T) {
	base := make([]int, 23)
	for i := range base {
		base[i] = i
	}
	for _, dropLast := range []bool{false, true} {
		var all []int
		for rank := 0; rank < 4; rank++ {
			o, err := loader.Order(base, true, 3, 1, rank, 4, dropLast)
			if err != nil {
				t.Fatal(err)
			}
			want := 6
			if dropLast {
				want = 5
			}
			if len(o) != want {
				t.Fatalf("dropLast=%v rank %d has %d samples, want %d", dropLast, rank, len(o), want)
			}
			all = append(all, o...)
		}
		slices.Sort(all)
		uniq := slices.Compact(slices.Clone(all))
		if dropLast && len(uniq) != 20 {
			t.Fatalf("dropLast: %d distinct samples, want 20", len(uniq))
		}
		if !dropLast && len(uniq) != 23 {
			t.Fatalf("padded: %d distinct samples, want all 23", len(uniq))
		}
	}
	if _, err := loader.Order(base, false, 0, 0, 4, 4, false); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("rank out of range: %v", err)
	}
}

func TestLoaderRejectsBadOptions(t *testing.T) {
	s := randomSplit(4, 1, 2, 2, 6)
	src, _ := dataset.NewArraySource(s, nil, nil, nil)
	for name, o := range map[string]loader.Options{
		"zero batch":     {BatchSize: 0},
		"negative batch": {BatchSize: -3},
		"bad index":      {BatchSize: 1, Indices: []int{0, 4}},
		"bad rank":       {BatchSize: 1, Rank: 2, WorldSize: 2},
	} {
		if _, err := loader.New(src, o, nil); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestLoaderCloseFreesPoolMemory(t *testing.T) {
	pool := cmem.NewPool(4)
	s := randomSplit(32, 3, 8, 8, 7)
	src, _ := dataset.NewArraySource(s, augment, []float64{0.5, 0.5, 0.5}, []float64{0.5, 0.5, 0.5})
	l, err := loader.New(src, loader.Options{BatchSize: 4, Prefetch: 3}, pool)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := l.Next(); !errors.Is(err, errs.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if pool.Stats().LiveBytes == 0 {
		t.Fatal("the batch still held should count as live")
	}
	rec.Release()
	waitFor(t, func() bool { return pool.Stats().LiveBytes == 0 })
}

// TestExportCgo exports a batch through the C Data Interface and imports it
// back. Run with GOEXPERIMENT=cgocheck2, it aborts if any exported buffer is
// a Go pointer.
func TestExportCgoRoundTrip(t *testing.T) {
	s := randomSplit(16, 3, 4, 4, 8)
	l := newLoader(t, s, transform.Specs("normalize"), loader.Options{BatchSize: 16})
	rec, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := copyBatch(rec)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(rec.Column(0).(*array.FixedSizeList).ListValues().(*array.Float32).Float32Values())))
	var carr cdata.CArrowArray
	cdata.ExportArrowRecordBatch(rec, &carr, nil)
	rec.Release()
	back, err := cdata.ImportCRecordBatchWithSchema(&carr, l.Schema())
	if err != nil {
		t.Fatal(err)
	}
	defer back.Release()
	got := copyBatch(back)
	if !batchEqual(want, got) {
		t.Fatal("round trip changed the batch")
	}
	gotAddr := uintptr(unsafe.Pointer(unsafe.SliceData(back.Column(0).(*array.FixedSizeList).ListValues().(*array.Float32).Float32Values())))
	if gotAddr != addr {
		t.Fatalf("import copied the buffer: %x != %x", gotAddr, addr)
	}
}

// The typed views are the record's own buffers, not copies, and agree with
// the Arrow columns and the batch shape.
func TestLoaderBatchViewsAreTheRecordBuffers(t *testing.T) {
	s := randomSplit(10, 3, 4, 5, 9)
	l := newLoader(t, s, transform.Specs("normalize"), loader.Options{BatchSize: 4})
	for _, wantN := range []int{4, 4, 2} {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		n, c, h, w := b.Shape()
		if n != wantN || c != 3 || h != 4 || w != 5 {
			t.Fatalf("shape (%d, %d, %d, %d), want (%d, 3, 4, 5)", n, c, h, w, wantN)
		}
		img := b.Column(0).(*array.FixedSizeList).ListValues().(*array.Float32).Float32Values()
		lab := b.Column(1).(*array.Int64).Int64Values()
		if len(b.Images()) != n*c*h*w || len(b.Labels()) != n {
			t.Fatalf("views hold %d pixels and %d labels for %d samples", len(b.Images()), len(b.Labels()), n)
		}
		if &b.Images()[0] != &img[0] || &b.Labels()[0] != &lab[0] {
			t.Fatal("the typed views are copies, not the record's buffers")
		}
		if !slices.Equal(b.Images(), img) || !slices.Equal(b.Labels(), lab) {
			t.Fatal("the typed views disagree with the Arrow columns")
		}
		b.Release()
	}
}

// waitFor polls cond for up to two seconds; background goroutines release
// buffers asynchronously after a loader stops.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
