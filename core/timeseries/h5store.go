package timeseries

import (
	"cmp"
	"encoding/json"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
)

// File-format constants shared by both backends.
const (
	formatName    = "structure-net-data/timeseries"
	formatVersion = 1

	layoutCompact   = "compact"
	layoutStreaming = "streaming"

	// copyBlock bounds the rows held in memory while a file is rewritten.
	copyBlock = 1 << 20
)

// header is what a history records besides its rows.
type header struct {
	ID       string
	Metadata json.RawMessage
	Created  string
	Schema   Schema
	Rows     int64
	Updated  int64 // Unix nanoseconds of the last commit
	Layout   string
}

type h5Options struct {
	filter string
	level  int
	chunk  int
}

// h5File is a history file open for writing.
type h5File struct {
	path  string
	fid   hid
	group hid
	dsets []hid
	masks []hid
	hdr   header
	stats []colStats
	opt   h5Options // compact files: filter and chunking of the datasets
}

// createH5 creates a history file at path (which must not exist) with the
// header's schema and no rows. Streaming files are uncompressed and paged,
// so appends rewrite partial chunks in place and stay crash-safe; compact
// files use the configured filter.
func createH5(path string, hdr header, layout string, opt h5Options) (*h5File, error) {
	fid, err := h5Create(path, layout == layoutStreaming)
	if err != nil {
		return nil, err
	}
	hdr.Layout, hdr.Rows = layout, 0
	f := &h5File{path: path, fid: fid, group: noID, hdr: hdr, opt: opt}
	if layout == layoutStreaming {
		f.opt.filter = "none"
	}
	if err := f.init(layout, opt); err != nil {
		f.close()
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

func (f *h5File) init(layout string, opt h5Options) error {
	cols, err := json.Marshal(f.hdr.Schema)
	if err != nil {
		return errs.Invalidf("timeseries: encode columns: %v", err)
	}
	meta := f.hdr.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	for _, a := range [][2]string{
		{"format", formatName}, {"experiment_id", f.hdr.ID}, {"metadata", string(meta)},
		{"created", f.hdr.Created}, {"columns", string(cols)}, {"layout", layout},
	} {
		if err := h5AttrWriteString(f.fid, a[0], a[1]); err != nil {
			return err
		}
	}
	if err := h5AttrWriteInt(f.fid, "format_version", formatVersion); err != nil {
		return err
	}
	filter := f.opt.filter
	for _, c := range f.hdr.Schema {
		d, err := h5DatasetCreate(f.fid, c.Dataset, c.Kind, opt.chunk, filter, opt.level)
		if err != nil {
			return err
		}
		f.dsets = append(f.dsets, d)
		m := noID
		if c.Masked {
			if f.group < 0 {
				if f.group, err = h5GroupCreate(f.fid, maskGroup); err != nil {
					return err
				}
			}
			if m, err = h5DatasetCreate(f.group, c.Dataset, KindBool, opt.chunk, filter, opt.level); err != nil {
				return err
			}
		}
		f.masks = append(f.masks, m)
		f.stats = append(f.stats, newStats())
	}
	return f.commit()
}

// openH5ForAppend reopens a cleanly closed streaming file for appending.
// Anything else (a compact file, a file a crashed writer left open, rows and
// statistics that disagree) is an error: the caller rewrites the file.
func openH5ForAppend(path string) (*h5File, error) {
	fid, err := h5OpenWrite(path)
	if err != nil {
		return nil, err
	}
	f := &h5File{path: path, fid: fid, group: noID}
	if err := f.load(); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *h5File) load() error {
	hdr, err := readHeader(f.fid)
	if err != nil {
		return err
	}
	f.hdr = hdr
	if hdr.Layout != layoutStreaming {
		return errs.Invalidf("timeseries: %s is not in the streaming layout", f.path)
	}
	st, ok, err := h5SummaryRead(f.fid, len(hdr.Schema))
	if err != nil {
		return err
	}
	if !ok {
		return errs.Corruptf("timeseries: %s: summary does not match its columns", f.path)
	}
	f.stats = st
	for i, c := range hdr.Schema {
		if st[i].Rows != hdr.Rows {
			return errs.Corruptf("timeseries: %s: summary of %q covers %d rows, the history %d", f.path, c.Name, st[i].Rows, hdr.Rows)
		}
		d, err := h5DatasetOpen(f.fid, c.Dataset)
		if err != nil {
			return err
		}
		f.dsets = append(f.dsets, d)
		n, err := h5DatasetLen(d)
		if err != nil {
			return err
		}
		if n != hdr.Rows {
			return errs.Corruptf("timeseries: %s: column %q has %d rows, the history %d", f.path, c.Name, n, hdr.Rows)
		}
		m := noID
		if c.Masked {
			if f.group < 0 {
				if f.group, err = h5GroupOpen(f.fid, maskGroup); err != nil {
					return err
				}
			}
			if m, err = h5DatasetOpen(f.group, c.Dataset); err != nil {
				return err
			}
		}
		f.masks = append(f.masks, m)
	}
	return nil
}

// appendRows writes t (aligned to the file's schema) after the last row and
// updates the statistics; commit makes the rows visible.
func (f *h5File) appendRows(t *Table) error {
	start, n := f.hdr.Rows, int64(t.Rows)
	if n == 0 {
		return nil
	}
	var allTrue []bool
	for i := range t.Columns {
		c := &t.Columns[i]
		if err := f.writeValues(f.dsets[i], c, start, n); err != nil {
			return errs.IOf("timeseries: %s: column %q: %v", f.path, c.Name, err)
		}
		if f.masks[i] >= 0 {
			mask := c.Valid
			if mask == nil {
				if allTrue == nil {
					allTrue = make([]bool, n)
					for j := range allTrue {
						allTrue[j] = true
					}
				}
				mask = allTrue
			}
			if err := h5Append(f.masks[i], KindBool, start, n, unsafe.Pointer(&mask[0])); err != nil {
				return errs.IOf("timeseries: %s: mask of %q: %v", f.path, c.Name, err)
			}
		}
		f.stats[i].update(c, start)
	}
	f.hdr.Rows += n
	return nil
}

func (f *h5File) writeValues(d hid, c *Column, start, n int64) error {
	chunk := int64(f.opt.chunk)
	compressed := f.opt.filter == "gzip" || f.opt.filter == "lzf"
	if compressed && c.Kind != KindString && c.Kind != KindJSON && start%chunk == 0 && n >= chunk {
		return f.writeCompressed(d, c, start, n)
	}
	switch c.Kind {
	case KindFloat64:
		return h5Append(d, c.Kind, start, n, unsafe.Pointer(&c.F[0]))
	case KindInt64:
		return h5Append(d, c.Kind, start, n, unsafe.Pointer(&c.I[0]))
	case KindBool:
		return h5Append(d, c.Kind, start, n, unsafe.Pointer(&c.B[0]))
	}
	ps := cStrings(c.S)
	defer freeCStrings(ps)
	return h5Append(d, c.Kind, start, n, unsafe.Pointer(&ps[0]))
}

// writeCompressed writes whole chunks compressed on all cores (libhdf5 runs
// its own filters serially under its global lock) with H5Dwrite_chunk, and
// the partial last chunk through libhdf5's filters. The stored chunks are
// what the dataset's shuffle+deflate or shuffle+LZF pipeline would produce.
func (f *h5File) writeCompressed(d hid, c *Column, start, n int64) error {
	var base unsafe.Pointer
	esize := 8
	switch c.Kind {
	case KindFloat64:
		base = unsafe.Pointer(&c.F[0])
	case KindInt64:
		base = unsafe.Pointer(&c.I[0])
	default:
		base, esize = unsafe.Pointer(&c.B[0]), 1
	}
	if err := h5SetExtent(d, start+n); err != nil {
		return err
	}
	chunk := f.opt.chunk
	chunkBytes := chunk * esize
	full := int(n / int64(chunk))
	workers := runtime.GOMAXPROCS(0)
	window := min(full, max(workers, min(64, (64<<20)/(2*chunkBytes))))
	bound := max(compressBound(chunkBytes), chunkBytes)
	tmp := make([][]byte, window)
	out := make([][]byte, window)
	lens := make([]int, window)
	masks := make([]uint32, window)
	for k := range tmp {
		tmp[k], out[k] = make([]byte, chunkBytes), make([]byte, bound)
	}
	for lo := 0; lo < full; lo += window {
		hi := min(full, lo+window)
		var next atomic.Int64
		next.Store(int64(lo))
		var wg sync.WaitGroup
		var errMu sync.Mutex
		var firstErr error
		for w := 0; w < min(workers, hi-lo); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := int(next.Add(1) - 1)
					if k >= hi {
						return
					}
					src := unsafe.Add(base, k*chunkBytes)
					m, mask, err := compressChunk(f.opt.filter, src, chunk, esize, f.opt.level, tmp[k-lo], out[k-lo])
					if err != nil {
						errMu.Lock()
						firstErr = cmp.Or(firstErr, err)
						errMu.Unlock()
						return
					}
					lens[k-lo], masks[k-lo] = m, mask
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		for k := lo; k < hi; k++ {
			if err := h5WriteChunk(d, start+int64(k*chunk), masks[k-lo], out[k-lo][:lens[k-lo]]); err != nil {
				return err
			}
		}
	}
	if tail := n - int64(full*chunk); tail > 0 {
		return h5Append(d, c.Kind, start+int64(full*chunk), tail, unsafe.Add(base, full*chunkBytes))
	}
	return nil
}

// opener serves reads through the writer's open datasets.
func (f *h5File) opener(name string, mask bool) (hid, error) {
	for i, c := range f.hdr.Schema {
		if c.Dataset != name {
			continue
		}
		if mask {
			return f.masks[i], nil
		}
		return f.dsets[i], nil
	}
	return noID, errs.Corruptf("timeseries: no dataset %q", name)
}

// commit records the row count and statistics: the attributes readers trust.
func (f *h5File) commit() error {
	for i := range f.stats {
		f.stats[i].Rows = f.hdr.Rows
	}
	if err := h5SummaryWrite(f.fid, f.stats); err != nil {
		return err
	}
	f.hdr.Updated = time.Now().UnixNano()
	if err := h5AttrWriteInt(f.fid, "snd_updated_ns", f.hdr.Updated); err != nil {
		return err
	}
	return h5AttrWriteInt(f.fid, "snd_rows", f.hdr.Rows)
}

// appendDurably is one streaming append: rows are flushed before the commit
// that makes them visible, so a crash at any point leaves a file whose
// committed rows are all intact (at most this batch is lost).
func (f *h5File) appendDurably(t *Table) error {
	if err := f.appendRows(t); err != nil {
		return err
	}
	if err := h5Flush(f.fid); err != nil {
		return err
	}
	if err := f.commit(); err != nil {
		return err
	}
	return h5Flush(f.fid)
}

func (f *h5File) close() error {
	for _, d := range f.dsets {
		h5DatasetClose(d)
	}
	for _, m := range f.masks {
		h5DatasetClose(m)
	}
	h5GroupClose(f.group)
	f.dsets, f.masks, f.group = nil, nil, noID
	err := h5CloseFile(f.fid)
	f.fid = noID
	return err
}

// ---- reading -----------------------------------------------------------------

// readHeader reads the root attributes every history file carries.
func readHeader(fid hid) (header, error) {
	var h header
	format, err := h5AttrReadString(fid, "format")
	if err != nil || format != formatName {
		return h, errs.Corruptf("timeseries: not a structure-net-data history file (format attribute %q)", format)
	}
	version, err := h5AttrReadInt(fid, "format_version")
	if err != nil {
		return h, err
	}
	if version > formatVersion {
		return h, errs.Unsupportedf("timeseries: history format version %d is newer than this library's %d", version, formatVersion)
	}
	strs := map[string]*string{"experiment_id": &h.ID, "created": &h.Created, "layout": &h.Layout}
	for name, dst := range strs {
		if *dst, err = h5AttrReadString(fid, name); err != nil {
			return h, err
		}
	}
	meta, err := h5AttrReadString(fid, "metadata")
	if err != nil {
		return h, err
	}
	h.Metadata = json.RawMessage(meta)
	cols, err := h5AttrReadString(fid, "columns")
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal([]byte(cols), &h.Schema); err != nil {
		return h, errs.Corruptf("timeseries: columns attribute: %v", err)
	}
	if h.Rows, err = h5AttrReadInt(fid, "snd_rows"); err != nil {
		return h, err
	}
	if h.Updated, err = h5AttrReadInt(fid, "snd_updated_ns"); err != nil {
		return h, err
	}
	if h.Rows < 0 {
		return h, errs.Corruptf("timeseries: negative row count %d", h.Rows)
	}
	return h, nil
}

// h5Reader is a history file open for reading (SWMR: a writer may be
// appending to it at the same time).
type h5Reader struct {
	fid hid
	hdr header
}

func openH5Reader(path string) (*h5Reader, error) {
	fid, err := h5OpenRead(path)
	if err != nil {
		if _, serr := os.Stat(path); os.IsNotExist(serr) {
			return nil, errs.NotFoundf("timeseries: %s no longer exists", path)
		}
		return nil, err
	}
	hdr, err := readHeader(fid)
	if err != nil {
		h5CloseFile(fid)
		return nil, err
	}
	return &h5Reader{fid: fid, hdr: hdr}, nil
}

func (r *h5Reader) header() header { return r.hdr }

func (r *h5Reader) readPlan(p rowPlan) (*Table, error) { return readRows(r.fid, r.hdr.Schema, p, nil) }

// stats returns the stored statistics, or recomputes them from the rows when
// they do not describe the committed rows (a writer died between its two
// commit writes).
func (r *h5Reader) stats() ([]colStats, error) {
	st, ok, err := h5SummaryRead(r.fid, len(r.hdr.Schema))
	if err != nil {
		return nil, err
	}
	if ok {
		for i := range st {
			if st[i].Rows != r.hdr.Rows {
				ok = false
			}
		}
	}
	if ok {
		return st, nil
	}
	return recomputeStats(r)
}

func (r *h5Reader) close() { h5CloseFile(r.fid) }

// source is anything rows can be copied from.
type source interface {
	header() header
	readPlan(p rowPlan) (*Table, error)
}

func recomputeStats(src source) ([]colStats, error) {
	hdr := src.header()
	st := make([]colStats, len(hdr.Schema))
	for i := range st {
		st[i] = newStats()
	}
	for lo := int64(0); lo < hdr.Rows; lo += copyBlock {
		n := min(copyBlock, hdr.Rows-lo)
		t, err := src.readPlan(rowPlan{Start: lo, Count: n, Stride: 1})
		if err != nil {
			return nil, err
		}
		for i := range t.Columns {
			st[i].update(&t.Columns[i], lo)
		}
	}
	for i := range st {
		st[i].Rows = hdr.Rows
	}
	return st, nil
}

// datasetOpener returns an open dataset (a column, or with mask its mask)
// that stays open after the read; nil means open and close each one.
type datasetOpener func(name string, mask bool) (hid, error)

// readRows reads the planned rows of every column of a file.
func readRows(fid hid, s Schema, p rowPlan, open datasetOpener) (*Table, error) {
	// Explicit rows: read the distinct ones ascending, in one hyperslab when
	// they are contiguous, then put them in the order asked for.
	var pos []int
	if p.explicit {
		uniq, where := sortedUnique(p.Rows)
		pos = where
		if n := int64(len(uniq)); n > 0 && uniq[n-1]-uniq[0]+1 == n {
			p = rowPlan{Start: uniq[0], Count: n, Stride: 1}
		} else {
			p = rowPlan{Rows: uniq, explicit: true}
		}
	}
	if open == nil {
		tmp := &transientOpener{fid: fid, group: noID}
		defer tmp.close()
		open = tmp.open
	}
	n := int(p.len())
	t := &Table{Rows: n, Columns: make([]Column, len(s))}
	for i, info := range s {
		c := Column{Name: info.Name, Kind: info.Kind}
		d, err := open(info.Dataset, false)
		if err == nil {
			err = readColumn(d, &c, p, n)
		}
		if err != nil {
			return nil, errs.Corruptf("timeseries: column %q: %v", info.Name, err)
		}
		if info.Masked {
			m := Column{Kind: KindBool}
			d, err := open(info.Dataset, true)
			if err == nil {
				err = readColumn(d, &m, p, n)
			}
			if err != nil {
				return nil, errs.Corruptf("timeseries: mask of %q: %v", info.Name, err)
			}
			c.Valid = m.B
		}
		t.Columns[i] = c
	}
	if p.Reverse {
		reverse(t)
	}
	if pos != nil && !identity(pos) {
		t = gather(t, pos)
	}
	return t, nil
}

// transientOpener opens datasets for one read and closes them after it.
type transientOpener struct {
	fid, group hid
	opened     []hid
}

func (o *transientOpener) open(name string, mask bool) (hid, error) {
	loc := o.fid
	if mask {
		if o.group < 0 {
			g, err := h5GroupOpen(o.fid, maskGroup)
			if err != nil {
				return noID, err
			}
			o.group = g
		}
		loc = o.group
	}
	d, err := h5DatasetOpen(loc, name)
	if err != nil {
		return noID, err
	}
	o.opened = append(o.opened, d)
	return d, nil
}

func (o *transientOpener) close() {
	for _, d := range o.opened {
		h5DatasetClose(d)
	}
	h5GroupClose(o.group)
}

func identity(pos []int) bool {
	for i, p := range pos {
		if p != i {
			return false
		}
	}
	return true
}

func readColumn(d hid, c *Column, p rowPlan, n int) error {
	read := func(out unsafe.Pointer) error {
		if p.explicit {
			idx := make([]uint64, len(p.Rows))
			for i, r := range p.Rows {
				idx[i] = uint64(r)
			}
			return h5ReadPoints(d, c.Kind, idx, out)
		}
		return h5Read(d, c.Kind, p.Start, p.Count, p.Stride, out)
	}
	if n == 0 {
		missingColumn(c, 0)
		c.Valid = nil
		return nil
	}
	switch c.Kind {
	case KindFloat64:
		c.F = make([]float64, n)
		return read(unsafe.Pointer(&c.F[0]))
	case KindInt64:
		c.I = make([]int64, n)
		return read(unsafe.Pointer(&c.I[0]))
	case KindBool:
		raw := make([]uint8, n)
		if err := read(unsafe.Pointer(&raw[0])); err != nil {
			return err
		}
		c.B = make([]bool, n)
		for i, v := range raw {
			c.B[i] = v != 0
		}
		return nil
	}
	var err error
	c.S, err = readStrings(n, read)
	return err
}
