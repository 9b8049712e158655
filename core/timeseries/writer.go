package timeseries

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"sync"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// active maps the file base of every history written by this process to its
// writer. Reads in this process go through the writer: libhdf5 refuses to
// open, read-only, a file the same process has open for SWMR writing.
var active = struct {
	sync.Mutex
	m map[string]*Writer
}{m: map[string]*Writer{}}

// gates order, within this process, opening or closing a history file for
// writing against reads that open it, for the same reason.
var gates sync.Map // file base -> *sync.RWMutex

func gate(base string) *sync.RWMutex {
	g, _ := gates.LoadOrStore(base, new(sync.RWMutex))
	return g.(*sync.RWMutex)
}

func activeWriter(base string) *Writer {
	active.Lock()
	defer active.Unlock()
	return active.m[base]
}

// Writer streams rows into one experiment's history. It holds the
// experiment's lock until Close: another writer, in this process or any
// other, gets ErrConflict. Every Append is durable when it returns; a
// writer killed at any moment loses at most the batch being appended.
type Writer struct {
	mu      sync.Mutex
	id      string
	base    string
	backend string
	opt     Options
	lock    *fileLock
	h5      *h5File
	js      *jsonWriter
	closed  bool
}

// OpenWriter opens id's history for appending, creating it when missing.
// meta, when not nil, replaces the stored metadata. A history left by a
// crashed writer is recovered (its committed rows kept) first.
func (s *Store) OpenWriter(id string, meta json.RawMessage) (*Writer, error) {
	if err := s.check(id); err != nil {
		return nil, err
	}
	if err := checkMetadata(meta); err != nil {
		return nil, err
	}
	base := s.base(id)
	lock, err := lockExperiment(base+extLock, id)
	if err != nil {
		return nil, err
	}
	w := &Writer{id: id, base: base, backend: s.opt.Backend, opt: s.opt, lock: lock}
	g := gate(base)
	g.Lock()
	defer g.Unlock()
	removeTemps(base)
	if err := writeIDFile(base, id, s.opt.Fsync); err == nil {
		if s.opt.Backend == BackendJSON {
			err = w.openJSON(meta)
		} else {
			err = w.openH5(meta)
		}
		if err == nil {
			active.Lock()
			active.m[base] = w
			active.Unlock()
			return w, nil
		}
		lock.release()
		return nil, err
	} else {
		lock.release()
		return nil, err
	}
}

func (w *Writer) h5opt() h5Options {
	return h5Options{filter: w.opt.Compression, level: w.opt.CompressionLevel, chunk: w.opt.ChunkRows}
}

// openH5 leaves w.h5 open for SWMR appending on a streaming file.
func (w *Writer) openH5(meta json.RawMessage) error {
	path := w.base + extH5
	switch {
	case exists(path):
		// Look before opening for writing: a compact file is never opened
		// read-write (that would mark it as being written while readers use
		// it), it is rebuilt in the streaming layout instead.
		r, err := openH5Reader(path)
		if err != nil {
			return err
		}
		hdr, layout := r.hdr, r.hdr.Layout
		r.close()
		if hdr.ID != w.id {
			return errs.Corruptf("timeseries: %s belongs to experiment %q, not %q", path, hdr.ID, w.id)
		}
		if layout == layoutStreaming && (meta == nil || bytes.Equal(meta, hdr.Metadata)) {
			// libhdf5 refuses a read-write open while this process has the
			// file open read-only, hence the reader is closed first.
			f, err := openH5ForAppend(path)
			if err == nil {
				w.h5 = f
				return nil
			}
			if errors.Is(err, errs.ErrConflict) {
				return err
			}
			// A writer died with the file open: keep its committed rows.
			logging.L().Info().Str("file", path).Str("reason", err.Error()).Msg("timeseries: recovering history")
		}
		if meta != nil {
			hdr.Metadata = meta
		}
		if r, err = openH5Reader(path); err != nil {
			return err
		}
		defer r.close()
		return w.rebuildH5(r, hdr)
	case exists(w.base + extJSON):
		h, err := parseJSONFile(w.base + extJSON)
		if err != nil {
			return err
		}
		if h.hdr.ID != w.id {
			return errs.Corruptf("timeseries: %s belongs to experiment %q, not %q", w.base+extJSON, h.hdr.ID, w.id)
		}
		hdr := h.hdr
		if meta != nil {
			hdr.Metadata = meta
		}
		if err := w.rebuildH5(h, hdr); err != nil {
			return err
		}
		if err := os.Remove(w.base + extJSON); err != nil && !os.IsNotExist(err) {
			return errs.IOf("timeseries: remove %s: %v", w.base+extJSON, err)
		}
		return nil
	default:
		return w.rebuildH5(nil, header{ID: w.id, Metadata: orEmpty(meta), Created: now()})
	}
}

// rebuildH5 writes a new streaming file from src's committed rows (src may be
// nil), laid out as hdr.Schema, installs it over the history's file and opens
// it for SWMR appending. It is how a history changes shape (new columns,
// masks, an int64 column becoming float64, new metadata) and how one is
// recovered: the old file is replaced only once the new one is complete.
func (w *Writer) rebuildH5(src source, hdr header) error {
	tmp := tempName(w.base + extH5)
	f, err := copyInto(tmp, src, hdr, layoutStreaming, w.h5opt())
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := f.close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := w.installFile(tmp, w.base+extH5); err != nil {
		return err
	}
	if f, err = openH5ForAppend(w.base + extH5); err != nil {
		return err
	}
	w.h5 = f
	return nil
}

// copyInto creates path with hdr (its Schema the target layout) and copies
// every committed row of src into it, converting columns to their new kinds.
// The file is left open and committed.
func copyInto(path string, src source, hdr header, layout string, opt h5Options) (*h5File, error) {
	f, err := createH5(path, hdr, layout, opt)
	if err != nil {
		return nil, err
	}
	if src != nil {
		rows := src.header().Rows
		for lo := int64(0); lo < rows; lo += copyBlock {
			t, err := src.readPlan(rowPlan{Start: lo, Count: min(copyBlock, rows-lo), Stride: 1})
			if err == nil {
				t, err = align(t, hdr.Schema)
			}
			if err == nil {
				err = f.appendRows(t)
			}
			if err != nil {
				f.close()
				return nil, err
			}
		}
	}
	if err := f.commit(); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (w *Writer) installFile(tmp, dst string) error {
	if w.opt.Fsync {
		if err := syncFile(tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return errs.IOf("timeseries: install %s: %v", dst, err)
	}
	return nil
}

func (w *Writer) openJSON(meta json.RawMessage) error {
	path := w.base + extJSON
	var h *jsonHistory
	switch {
	case exists(path):
		var err error
		if h, err = parseJSONFile(path); err != nil {
			return err
		}
		if h.hdr.ID != w.id {
			return errs.Corruptf("timeseries: %s belongs to experiment %q, not %q", path, h.hdr.ID, w.id)
		}
	case exists(w.base + extH5):
		r, err := openH5Reader(w.base + extH5)
		if err != nil {
			return err
		}
		hdr := r.hdr
		t, err := r.readPlan(rowPlan{Start: 0, Count: hdr.Rows, Stride: 1})
		r.close()
		if err != nil {
			return err
		}
		if err := w.writeJSONAndInstall(hdr, t); err != nil {
			return err
		}
		if err := os.Remove(w.base + extH5); err != nil && !os.IsNotExist(err) {
			return errs.IOf("timeseries: remove %s: %v", w.base+extH5, err)
		}
		if h, err = parseJSONFile(path); err != nil {
			return err
		}
	default:
		hdr := header{ID: w.id, Metadata: orEmpty(meta), Created: now()}
		if err := w.writeJSONAndInstall(hdr, &Table{}); err != nil {
			return err
		}
		var err error
		if h, err = parseJSONFile(path); err != nil {
			return err
		}
	}
	js, err := openJSONWriter(path, h, w.opt.Fsync)
	if err != nil {
		return err
	}
	w.js = js
	if meta != nil && !bytes.Equal(meta, h.hdr.Metadata) {
		return js.setMetadata(meta)
	}
	return nil
}

func (w *Writer) writeJSONAndInstall(hdr header, t *Table) error {
	tmp := tempName(w.base + extJSON)
	if err := writeJSONFile(tmp, hdr, t, w.opt.Fsync); err != nil {
		return err
	}
	return w.installFile(tmp, w.base+extJSON)
}

// Append adds t's rows after the last one and makes them durable.
func (w *Writer) Append(t *Table) error {
	if err := t.Validate(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errs.Closedf("timeseries: writer for %q is closed", w.id)
	}
	if t.Rows == 0 && len(t.Columns) == 0 {
		return nil
	}
	if w.js != nil {
		return w.js.append(t)
	}
	schema, aligned, changed, err := merge(w.h5.hdr.Schema, t, w.h5.hdr.Rows)
	if err != nil {
		return err
	}
	if changed {
		hdr := w.h5.hdr
		hdr.Schema = schema
		if err := w.reshapeH5(hdr); err != nil {
			return err
		}
	}
	return w.h5.appendDurably(aligned)
}

// reshapeH5 leaves SWMR mode (new datasets and attributes cannot be made in
// it) by closing the file cleanly, then rebuilds it with hdr.
func (w *Writer) reshapeH5(hdr header) error {
	if err := w.h5.close(); err != nil {
		return err
	}
	w.h5 = nil
	r, err := openH5Reader(w.base + extH5)
	if err != nil {
		return err
	}
	defer r.close()
	return w.rebuildH5(r, hdr)
}

// SetMetadata replaces the history's metadata.
func (w *Writer) SetMetadata(meta json.RawMessage) error {
	if err := checkMetadata(meta); err != nil || meta == nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errs.Closedf("timeseries: writer for %q is closed", w.id)
	}
	if w.js != nil {
		if bytes.Equal(meta, w.js.hdr.Metadata) {
			return nil
		}
		return w.js.setMetadata(meta)
	}
	if bytes.Equal(meta, w.h5.hdr.Metadata) {
		return nil
	}
	hdr := w.h5.hdr
	hdr.Metadata = meta
	return w.reshapeH5(hdr)
}

// Close ends the writer: HDF5 histories are compacted (rewritten compressed)
// when the store's CompactOnClose is set. Closing twice is a no-op.
func (w *Writer) Close() error { return w.close(*w.opt.CompactOnClose) }

func (w *Writer) close(compact bool) error {
	g := gate(w.base) // before w.mu: readers take the gate, then w.mu
	g.Lock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		g.Unlock()
		return nil
	}
	w.closed = true
	defer w.lock.release()
	var err error
	if w.js != nil {
		err = w.js.close()
	} else if w.h5 != nil {
		err = w.h5.close()
		w.h5 = nil
	}
	active.Lock()
	if active.m[w.base] == w {
		delete(active.m, w.base)
	}
	active.Unlock()
	g.Unlock()
	if err != nil || !compact || w.js != nil {
		return err
	}
	// Readers open the closed streaming file meanwhile; the lock is still
	// held, so no other writer starts before the compacted file is in place.
	return w.compactH5()
}

// compactH5 rewrites the streaming file compressed. On failure the streaming
// file stays, complete and readable.
func (w *Writer) compactH5() error {
	r, err := openH5Reader(w.base + extH5)
	if err != nil {
		return err
	}
	tmp := tempName(w.base + extH5)
	f, err := copyInto(tmp, r, r.hdr, layoutCompact, w.h5opt())
	r.close()
	if err == nil {
		err = f.close()
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return w.installFile(tmp, w.base+extH5)
}

func (w *Writer) read(sel Selection) (*History, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.js != nil {
		h, err := parseJSONFile(w.js.path)
		if err != nil {
			return nil, err
		}
		return readJSONHistory(w.id, h, sel)
	}
	if w.h5 == nil {
		return nil, errs.Closedf("timeseries: writer for %q is closed", w.id)
	}
	hdr := w.h5.hdr
	plan, err := sel.resolve(hdr.Rows)
	if err != nil {
		return nil, err
	}
	t, err := readRows(w.h5.fid, hdr.Schema, plan, w.h5.opener)
	if err != nil {
		return nil, err
	}
	return &History{ExperimentID: w.id, Metadata: hdr.Metadata, TotalRows: hdr.Rows, Backend: BackendHDF5, Table: t}, nil
}

func (w *Writer) summary() (*Summary, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.js != nil {
		return summaryOf(w.js.hdr, w.js.stats, BackendJSON, w.js.path), nil
	}
	if w.h5 == nil {
		return nil, errs.Closedf("timeseries: writer for %q is closed", w.id)
	}
	return summaryOf(w.h5.hdr, w.h5.stats, BackendHDF5, w.h5.path), nil
}

// ID returns the experiment id the writer appends to.
func (w *Writer) ID() string { return w.id }
