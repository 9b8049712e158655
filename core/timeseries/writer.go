package timeseries

import (
	"bytes"
	"encoding/json"
	"os"
	"sync"

	"github.com/structure-net/structure-net-data/core/errs"
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
	mu     sync.Mutex
	id     string
	base   string
	opt    Options
	lock   *fileLock
	file   backend
	closed bool
}

// backend is the open file of a history being written, in the store's
// format: HDF5 (h5Writer) or JSON lines (jsonWriter). The Writer holds its
// lock around every call.
type backend interface {
	// append adds t's rows (t is valid and not empty) and makes them durable.
	append(t *Table) error
	metadata() json.RawMessage
	setMetadata(meta json.RawMessage) error
	read(sel Selection) (*History, error)
	summary() (*Summary, error)
	// close releases the file; compact then rewrites it for reading where the
	// format has a compact layout (HDF5) and does nothing otherwise.
	close() error
	compact() error
}

var (
	_ backend = (*h5Writer)(nil)
	_ backend = (*jsonWriter)(nil)
)

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
	g := gate(base)
	g.Lock()
	defer g.Unlock()
	removeTemps(base)
	if err := writeIDFile(base, id, s.opt.Fsync); err != nil {
		lock.release()
		return nil, err
	}
	var file backend
	if s.opt.Backend == BackendJSON {
		file, err = openJSONBackend(base, id, s.opt, meta)
	} else {
		file, err = openH5Writer(base, id, s.opt, meta)
	}
	if err != nil {
		lock.release()
		return nil, err
	}
	w := &Writer{id: id, base: base, opt: s.opt, lock: lock, file: file}
	active.Lock()
	active.m[base] = w
	active.Unlock()
	return w, nil
}

// installFile renames a finished temp file over dst, synced first when
// fsync is set; the temp file is removed on failure.
func installFile(tmp, dst string, fsync bool) error {
	if fsync {
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
	return w.file.append(t)
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
	if bytes.Equal(meta, w.file.metadata()) {
		return nil
	}
	return w.file.setMetadata(meta)
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
	err := w.file.close()
	active.Lock()
	if active.m[w.base] == w {
		delete(active.m, w.base)
	}
	active.Unlock()
	g.Unlock()
	if err != nil || !compact {
		return err
	}
	// Readers open the closed file meanwhile; the lock is still held, so no
	// other writer starts before the compacted file is in place.
	return w.file.compact()
}

func (w *Writer) read(sel Selection) (*History, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.file.read(sel)
}

func (w *Writer) summary() (*Summary, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.file.summary()
}

// ID returns the experiment id the writer appends to.
func (w *Writer) ID() string { return w.id }
