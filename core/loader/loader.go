package loader

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/structure-net/structure-net-data/core/cmem"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/transform"
)

// Options configure a Loader. JSON names match the Python keyword arguments.
type Options struct {
	BatchSize int    `json:"batch_size"`
	Shuffle   bool   `json:"shuffle"`
	Seed      uint64 `json:"seed"`
	DropLast  bool   `json:"drop_last"`
	Rank      int    `json:"rank"`
	WorldSize int    `json:"world_size"`
	Threads   int    `json:"threads"`  // producer goroutines; 0 = GOMAXPROCS
	Prefetch  int    `json:"prefetch"` // batches ready ahead of the consumer; 0 = 2*threads
	Indices   []int  `json:"indices"`  // the subset to draw from; nil = every sample
	Epoch     int    `json:"epoch"`
}

// Validate rejects options no loader can honour.
func (o *Options) Validate(n int) error {
	if o.BatchSize <= 0 {
		return errs.Invalidf("batch_size must be positive, got %d", o.BatchSize)
	}
	if o.WorldSize < 0 || o.Threads < 0 || o.Prefetch < 0 || o.Epoch < 0 {
		return errs.Invalidf("world_size, threads, prefetch and epoch must not be negative")
	}
	for _, i := range o.Indices {
		if i < 0 || i >= n {
			return errs.Invalidf("subset index %d is out of range for %d samples", i, n)
		}
	}
	return nil
}

// State is what resumes a loader exactly: the epoch and how many batches of
// it were consumed. It is only valid for a loader with the same options.
type State struct {
	Epoch     int    `json:"epoch"`
	Batch     int    `json:"batch"`
	Seed      uint64 `json:"seed"`
	Batches   int    `json:"num_batches"`
	Rank      int    `json:"rank"`
	WorldSize int    `json:"world_size"`
}

// Loader hands out batches of one source in a deterministic order.
type Loader struct {
	src    Source
	opts   Options
	pool   *cmem.Pool
	schema *arrow.Schema
	base   []int

	mu     sync.Mutex
	epoch  int
	batch  int   // batches of this epoch consumed
	order  []int // this rank's order for epoch
	run    *run
	closed bool

	onClose io.Closer // what the loader keeps open (its dataset)
}

// New validates opts and returns a loader positioned at the start of opts.Epoch.
func New(src Source, opts Options, pool *cmem.Pool) (*Loader, error) {
	if err := opts.Validate(src.Len()); err != nil {
		return nil, err
	}
	if opts.WorldSize == 0 {
		opts.WorldSize = 1
	}
	if opts.Threads == 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	if opts.Prefetch == 0 {
		opts.Prefetch = 2 * opts.Threads
	}
	if pool == nil {
		pool = cmem.Default
	}
	base := opts.Indices
	if base == nil {
		base = make([]int, src.Len())
		for i := range base {
			base[i] = i
		}
	}
	if _, err := Order(nil, false, 0, 0, opts.Rank, opts.WorldSize, false); err != nil {
		return nil, err
	}
	c, h, w := src.OutShape()
	l := &Loader{src: src, opts: opts, pool: pool, base: base, epoch: opts.Epoch, schema: Schema(c, h, w)}
	return l, nil
}

// Schema is the record schema of batches of (c, h, w) samples:
// image FixedSizeList<float32>[c*h*w] and label int64, with the sample shape
// in the metadata under "shape".
func Schema(c, h, w int) *arrow.Schema {
	shape := "[" + strconv.Itoa(c) + "," + strconv.Itoa(h) + "," + strconv.Itoa(w) + "]"
	md := arrow.NewMetadata([]string{"shape", "layout"}, []string{shape, "NCHW float32"})
	return arrow.NewSchema([]arrow.Field{
		{Name: "image", Type: arrow.FixedSizeListOfNonNullable(int32(c*h*w), arrow.PrimitiveTypes.Float32)},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64},
	}, &md)
}

// Schema returns the batches' schema.
func (l *Loader) Schema() *arrow.Schema { return l.schema }

// NumSamples is how many samples this rank sees per epoch.
func (l *Loader) NumSamples() int {
	n := len(l.base)
	ws := l.opts.WorldSize
	if ws > 1 {
		if l.opts.DropLast {
			return n / ws
		}
		return (n + ws - 1) / ws
	}
	return n
}

// Len is the number of batches per epoch.
func (l *Loader) Len() int {
	n := l.NumSamples()
	if l.opts.DropLast {
		return n / l.opts.BatchSize
	}
	return (n + l.opts.BatchSize - 1) / l.opts.BatchSize
}

// SetEpoch moves to the start of epoch e (reshuffling from (seed, e)).
func (l *Loader) SetEpoch(e int) error {
	if e < 0 {
		return errs.Invalidf("epoch must not be negative, got %d", e)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errs.Closedf("loader is closed")
	}
	l.stopLocked()
	l.epoch, l.batch, l.order = e, 0, nil
	return nil
}

// State reports the position for a later Restore.
func (l *Loader) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return State{Epoch: l.epoch, Batch: l.batch, Seed: l.opts.Seed, Batches: l.Len(), Rank: l.opts.Rank, WorldSize: l.opts.WorldSize}
}

// Restore continues from s: the next batch is the one after the last
// consumed before s was taken.
func (l *Loader) Restore(s State) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errs.Closedf("loader is closed")
	}
	if s.Seed != l.opts.Seed || s.Batches != l.Len() || s.Rank != l.opts.Rank || s.WorldSize != l.opts.WorldSize {
		return errs.Invalidf("loader state was saved with seed %d, %d batches, rank %d/%d; this loader has seed %d, %d batches, rank %d/%d",
			s.Seed, s.Batches, s.Rank, s.WorldSize, l.opts.Seed, l.Len(), l.opts.Rank, l.opts.WorldSize)
	}
	if s.Epoch < 0 || s.Batch < 0 || s.Batch > s.Batches {
		return errs.Invalidf("loader state has epoch %d, batch %d of %d", s.Epoch, s.Batch, s.Batches)
	}
	l.stopLocked()
	l.epoch, l.batch, l.order = s.Epoch, s.Batch, nil
	return nil
}

// Batch is one batch of samples: an Arrow record (image
// FixedSizeList<float32>[C*H*W], label int64; see Schema) with typed views of
// its two buffers beside it. The views are the record's own C memory, not
// copies: they stay valid until the batch is released.
type Batch struct {
	arrow.RecordBatch
	images  []float32
	labels  []int64
	c, h, w int
}

// Images returns the pixels of every sample, NCHW float32 (len N*C*H*W),
// without copying; valid until Release.
func (b *Batch) Images() []float32 { return b.images }

// Labels returns one label per sample (len N), without copying; valid until
// Release.
func (b *Batch) Labels() []int64 { return b.labels }

// Shape is the batch's (N, C, H, W).
func (b *Batch) Shape() (n, c, h, w int) { return len(b.labels), b.c, b.h, b.w }

// Next returns the next batch of the current epoch, or io.EOF once the epoch
// is over; the following call starts the next epoch. The caller owns the
// batch and must Release it.
func (l *Loader) Next() (*Batch, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errs.Closedf("loader is closed")
	}
	if l.batch >= l.Len() {
		// The epoch is complete: the next call begins the next one.
		l.stopLocked()
		l.epoch, l.batch, l.order = l.epoch+1, 0, nil
		l.mu.Unlock()
		return nil, io.EOF
	}
	if l.run == nil {
		if l.order == nil {
			order, err := Order(l.base, l.opts.Shuffle, l.opts.Seed, l.epoch, l.opts.Rank, l.opts.WorldSize, l.opts.DropLast)
			if err != nil {
				l.mu.Unlock()
				return nil, err
			}
			l.order = order
		}
		l.run = l.startRun(l.batch)
	}
	r := l.run
	l.mu.Unlock()

	res, ok := <-r.ordered
	if !ok {
		return nil, errs.Closedf("loader was stopped")
	}
	out := <-res
	r.tokens <- struct{}{}
	if out.err != nil {
		l.mu.Lock()
		l.stopLocked()
		l.mu.Unlock()
		return nil, out.err
	}
	l.mu.Lock()
	l.batch++
	l.mu.Unlock()
	return out.rec, nil
}

// Close stops the producers and frees batches not yet handed out. Batches
// already handed out stay valid until released.
func (l *Loader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.stopLocked()
	l.closed = true
	if l.onClose != nil {
		return l.onClose.Close()
	}
	return nil
}

type result struct {
	rec *Batch
	err error
}

// run is one stretch of production, from a start batch to the end of an epoch.
type run struct {
	cancel  context.CancelFunc
	ordered chan chan result // batches in order, each filled by a worker
	tokens  chan struct{}    // bounds batches in flight plus ready
	wg      sync.WaitGroup
}

type job struct {
	batch int
	out   chan result
}

func (l *Loader) startRun(from int) *run {
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{
		cancel:  cancel,
		ordered: make(chan chan result, l.opts.Prefetch),
		tokens:  make(chan struct{}, l.opts.Prefetch),
	}
	for i := 0; i < l.opts.Prefetch; i++ {
		r.tokens <- struct{}{}
	}
	jobs := make(chan job)
	order, epoch, nb := l.order, l.epoch, l.Len()
	r.wg.Add(1)
	go func() { // dispatcher: hands batches to workers in order
		defer r.wg.Done()
		defer close(jobs)
		defer close(r.ordered)
		for b := from; b < nb; b++ {
			select {
			case <-r.tokens:
			case <-ctx.Done():
				return
			}
			out := make(chan result, 1)
			select {
			case jobs <- job{b, out}:
			case <-ctx.Done():
				return
			}
			r.ordered <- out // capacity equals the token count: never blocks
		}
	}()
	for w := 0; w < l.opts.Threads; w++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for j := range jobs {
				rec, err := l.buildBatch(order, epoch, j.batch)
				j.out <- result{rec, err}
			}
		}()
	}
	return r
}

// stopLocked cancels the current run and releases batches it produced but
// nobody took.
func (l *Loader) stopLocked() {
	r := l.run
	if r == nil {
		return
	}
	l.run = nil
	r.cancel()
	go func() {
		// Drain without blocking the caller; workers finish their batch and exit.
		for out := range r.ordered {
			if res := <-out; res.rec != nil {
				res.rec.Release()
			}
		}
	}()
	r.wg.Wait()
}

func (l *Loader) buildBatch(order []int, epoch, b int) (*Batch, error) {
	bs := l.opts.BatchSize
	lo := b * bs
	hi := min(lo+bs, len(order))
	n := hi - lo
	c, h, w := l.src.OutShape()
	per := c * h * w
	imgBytes := l.pool.Allocate(n * per * 4)
	labBytes := l.pool.Allocate(n * 8)
	imgs := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(imgBytes))), n*per)
	labels := unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(labBytes))), n)
	imgBuf := memory.NewBufferWithAllocator(imgBytes, l.pool)
	labBuf := memory.NewBufferWithAllocator(labBytes, l.pool)
	defer imgBuf.Release()
	defer labBuf.Release()
	for k := 0; k < n; k++ {
		idx := order[lo+k]
		if err := l.src.Produce(idx, imgs[k*per:(k+1)*per], transform.SampleSeed(l.opts.Seed, epoch, idx)); err != nil {
			return nil, err
		}
		labels[k] = l.src.Label(idx)
	}
	child := array.NewData(arrow.PrimitiveTypes.Float32, n*per, []*memory.Buffer{nil, imgBuf}, nil, 0, 0)
	defer child.Release()
	listData := array.NewData(l.schema.Field(0).Type, n, []*memory.Buffer{nil}, []arrow.ArrayData{child}, 0, 0)
	defer listData.Release()
	img := array.NewFixedSizeListData(listData)
	defer img.Release()
	labData := array.NewData(arrow.PrimitiveTypes.Int64, n, []*memory.Buffer{nil, labBuf}, nil, 0, 0)
	defer labData.Release()
	lab := array.NewInt64Data(labData)
	defer lab.Release()
	rec := array.NewRecordBatch(l.schema, []arrow.Array{img, lab}, int64(n))
	return &Batch{RecordBatch: rec, images: imgs, labels: labels, c: c, h: h, w: w}, nil
}

// Info describes the loader for hosts and metadata.
type Info struct {
	NumBatches int      `json:"num_batches"`
	NumSamples int      `json:"num_samples"`
	Shape      []int    `json:"shape"`
	Transforms []string `json:"transforms"`
	Epoch      int      `json:"epoch"`
	Batch      int      `json:"batch"`
	BatchSize  int      `json:"batch_size"`
	Seed       uint64   `json:"seed"`
}

// Info returns the loader's facts.
func (l *Loader) Info() Info {
	c, h, w := l.src.OutShape()
	l.mu.Lock()
	defer l.mu.Unlock()
	return Info{l.Len(), l.NumSamples(), []int{c, h, w}, l.src.Transforms(), l.epoch, l.batch, l.opts.BatchSize, l.opts.Seed}
}
