package timeseries

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// Backends.
const (
	BackendHDF5 = "hdf5"
	BackendJSON = "json"
)

// File name suffixes inside the storage folder.
const (
	extH5   = ".h5"
	extJSON = ".jsonl"
	extID   = ".id"
	extLock = ".lock"
	tmpMark = ".tmp-"
)

// Options configure a Store. The zero value of each field means its default.
type Options struct {
	// Dir holds the history files; it is created when missing.
	Dir string `json:"storage_dir"`
	// Backend is "hdf5" (default) or "json"; both read either format.
	Backend string `json:"backend"`
	// Compression of finished HDF5 files: "gzip" (default, with shuffle),
	// "lzf" (faster, larger; h5py reads it natively) or "none".
	Compression string `json:"compression"`
	// CompressionLevel is the gzip level, 1-9 (default 4).
	CompressionLevel int `json:"compression_level"`
	// ChunkRows is the HDF5 chunk length in rows (default 1000).
	ChunkRows int `json:"chunk_size"`
	// CompactOnClose rewrites a streamed HDF5 history compressed when its
	// writer closes (default true). Streaming files are uncompressed so that
	// appends can be crash-safe.
	CompactOnClose *bool `json:"compact_on_close"`
	// Fsync makes every write durable against power loss, not only against
	// a crashed process (default false).
	Fsync bool `json:"fsync"`
	// MaxCachedFiles is how many finished HDF5 files a store keeps open for
	// fast repeated reads (default 16; negative: none).
	MaxCachedFiles int `json:"max_cached_files"`
}

// DefaultOptions returns the defaults (Dir excluded: there is no safe
// default folder at this level; the Python layer picks the user cache).
func DefaultOptions() Options {
	o := Options{}
	o.EnsureDefaults()
	return o
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Backend == "" {
		o.Backend = BackendHDF5
	}
	if o.Compression == "" {
		o.Compression = "gzip"
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = 4
	}
	if o.ChunkRows == 0 {
		o.ChunkRows = 1000
	}
	if o.MaxCachedFiles == 0 {
		o.MaxCachedFiles = 16
	}
	if o.CompactOnClose == nil {
		t := true
		o.CompactOnClose = &t
	}
}

// Validate reports the first bad option.
func (o Options) Validate() error {
	switch {
	case o.Dir == "":
		return errs.Invalidf("timeseries: storage_dir is empty")
	case o.Backend != BackendHDF5 && o.Backend != BackendJSON:
		return errs.Invalidf("timeseries: backend %q (want hdf5 or json)", o.Backend)
	case o.CompressionLevel < 1 || o.CompressionLevel > 9:
		return errs.Invalidf("timeseries: compression_level %d (want 1-9)", o.CompressionLevel)
	case o.ChunkRows < 1 || o.ChunkRows > 1<<24:
		return errs.Invalidf("timeseries: chunk_size %d (want 1 to %d rows)", o.ChunkRows, 1<<24)
	}
	if _, err := filterCode(o.Compression); err != nil {
		return err
	}
	if o.Backend == BackendHDF5 && !FilterAvailable(o.Compression) {
		return errs.Unsupportedf("timeseries: compression %q is not available in this libhdf5 (%s); "+
			"use one of gzip, lzf or none", o.Compression, HDF5Version())
	}
	return nil
}

// History is the result of a read.
type History struct {
	ExperimentID string
	Metadata     json.RawMessage
	TotalRows    int64 // rows in the history, not in Table
	Backend      string
	Table        *Table
}

// Store keeps the training histories of one folder: one file per experiment
// plus a sidecar with its id. It is safe for concurrent use; several
// processes may share a folder (one writer per experiment at a time).
type Store struct {
	opt Options
	dir string

	cache *readerCache

	openMu    sync.Mutex // serializes opening append writers
	mu        sync.Mutex
	appenders map[string]*Writer
	closed    bool
}

// Open opens (creating it when needed) the storage folder.
func Open(opt Options) (*Store, error) {
	opt.EnsureDefaults()
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, errs.Invalidf("timeseries: storage_dir %q: %v", opt.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errs.IOf("timeseries: create storage folder %s: %v", dir, err)
	}
	opt.Dir = dir
	return &Store{opt: opt, dir: dir, cache: newReaderCache(max(0, opt.MaxCachedFiles)), appenders: map[string]*Writer{}}, nil
}

// Options returns the options in effect (defaults filled, Dir absolute).
func (s *Store) Options() Options { return s.opt }

func (s *Store) base(id string) string { return filepath.Join(s.dir, fileStem(id)) }

func (s *Store) h5Options() h5Options {
	return h5Options{filter: s.opt.Compression, level: s.opt.CompressionLevel, chunk: s.opt.ChunkRows}
}

func (s *Store) check(id string) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errs.Closedf("timeseries: the store is closed")
	}
	return ValidateID(id)
}

// ---- writing ---------------------------------------------------------------------

// Put stores t as the whole history of id, replacing any earlier one
// atomically: readers see the old history or the new one, never a mix.
func (s *Store) Put(id string, t *Table, meta json.RawMessage) error {
	if err := s.check(id); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	if err := checkMetadata(meta); err != nil {
		return err
	}
	if err := s.closeAppender(id, false); err != nil {
		return err
	}
	base := s.base(id)
	lock, err := lockExperiment(base+extLock, id)
	if err != nil {
		return err
	}
	defer lock.release()
	removeTemps(base)
	if err := writeIDFile(base, id, s.opt.Fsync); err != nil {
		return err
	}
	schema, aligned, _, err := merge(nil, t, 0)
	if err != nil {
		return err
	}
	hdr := header{ID: id, Metadata: orEmpty(meta), Created: now(), Schema: schema}
	if s.opt.Backend == BackendJSON {
		tmp := tempName(base + extJSON)
		if err := writeJSONFile(tmp, hdr, aligned, s.opt.Fsync); err != nil {
			return err
		}
		return s.install(tmp, base+extJSON, base+extH5)
	}
	tmp := tempName(base + extH5)
	if err := writeH5File(tmp, hdr, aligned, layoutCompact, s.h5Options()); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.install(tmp, base+extH5, base+extJSON)
}

// writeH5File writes a complete file in one go.
func writeH5File(path string, hdr header, t *Table, layout string, opt h5Options) error {
	f, err := createH5(path, hdr, layout, opt)
	if err != nil {
		return err
	}
	err = f.appendRows(t)
	if err == nil {
		err = f.commit()
	}
	if cerr := f.close(); err == nil {
		err = cerr
	}
	return err
}

// install renames a finished temp file over dst and removes the history's
// file in the other format.
func (s *Store) install(tmp, dst, other string) error {
	if s.opt.Fsync {
		if err := syncFile(tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return errs.IOf("timeseries: install %s: %v", dst, err)
	}
	if err := os.Remove(other); err != nil && !os.IsNotExist(err) {
		return errs.IOf("timeseries: remove %s: %v", other, err)
	}
	if s.opt.Fsync {
		return syncFile(s.dir)
	}
	return nil
}

// Append adds rows to id's history (creating it), through a writer the store
// keeps open until Finish, Close or a Put/Delete of id. Each call is durable
// when it returns. meta, when given, replaces the stored metadata.
func (s *Store) Append(id string, t *Table, meta json.RawMessage) error {
	if err := s.check(id); err != nil {
		return err
	}
	w, opened, err := s.appender(id, meta)
	if err != nil {
		return err
	}
	if !opened && meta != nil {
		if err := w.SetMetadata(meta); err != nil {
			return err
		}
	}
	return w.Append(t)
}

// appender returns the writer Append keeps for id, opening it (opened true)
// on first use. Opening is serialized so that two goroutines appending to a
// new id do not both try to take its lock.
func (s *Store) appender(id string, meta json.RawMessage) (w *Writer, opened bool, err error) {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	w = s.appenders[id]
	s.mu.Unlock()
	if w != nil {
		return w, false, nil
	}
	if w, err = s.OpenWriter(id, meta); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	s.appenders[id] = w
	s.mu.Unlock()
	return w, true, nil
}

// Finish closes the writer Append keeps for id (all of them when id is ""),
// compacting HDF5 files when CompactOnClose is set.
func (s *Store) Finish(id string) error {
	if id != "" {
		return s.closeAppender(id, *s.opt.CompactOnClose)
	}
	s.mu.Lock()
	ws := s.appenders
	s.appenders = map[string]*Writer{}
	s.mu.Unlock()
	var first error
	for _, w := range ws {
		if err := w.close(*s.opt.CompactOnClose); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Store) closeAppender(id string, compact bool) error {
	s.mu.Lock()
	w := s.appenders[id]
	delete(s.appenders, id)
	s.mu.Unlock()
	if w == nil {
		return nil
	}
	return w.close(compact)
}

// Close finishes every open append writer; later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	err := s.Finish("")
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cache.closeAll()
	return err
}

// ---- reading ------------------------------------------------------------------------

// Read returns the selected rows of id's history.
func (s *Store) Read(id string, sel Selection) (*History, error) {
	if err := s.check(id); err != nil {
		return nil, err
	}
	base := s.base(id)
	g := gate(base)
	g.RLock()
	defer g.RUnlock()
	if w := activeWriter(base); w != nil {
		return w.read(sel)
	}
	if exists(base + extH5) {
		var out *History
		err := s.cache.use(base+extH5, func(r *h5Reader, open datasetOpener) error {
			if r.hdr.ID != id {
				return errs.Corruptf("timeseries: %s belongs to experiment %q, not %q", base+extH5, r.hdr.ID, id)
			}
			plan, err := sel.resolve(r.hdr.Rows)
			if err != nil {
				return err
			}
			t, err := readRows(r.fid, r.hdr.Schema, plan, open)
			if err != nil {
				return err
			}
			out = &History{ExperimentID: id, Metadata: r.hdr.Metadata, TotalRows: r.hdr.Rows, Backend: BackendHDF5, Table: t}
			return nil
		})
		if err != nil {
			return nil, s.readErr(id, base, err)
		}
		return out, nil
	}
	if exists(base + extJSON) {
		h, err := parseJSONFile(base + extJSON)
		if err != nil {
			return nil, s.readErr(id, base, err)
		}
		return readJSONHistory(id, h, sel)
	}
	return nil, s.notFound(id)
}

func readJSONHistory(id string, h *jsonHistory, sel Selection) (*History, error) {
	if h.hdr.ID != id {
		return nil, errs.Corruptf("timeseries: history file belongs to experiment %q, not %q", h.hdr.ID, id)
	}
	plan, err := sel.resolve(h.hdr.Rows)
	if err != nil {
		return nil, err
	}
	t, err := h.readPlan(plan)
	if err != nil {
		return nil, err
	}
	return &History{ExperimentID: id, Metadata: h.hdr.Metadata, TotalRows: h.hdr.Rows, Backend: BackendJSON, Table: t}, nil
}

// Summary returns id's statistics without reading its rows.
func (s *Store) Summary(id string) (*Summary, error) {
	if err := s.check(id); err != nil {
		return nil, err
	}
	base := s.base(id)
	g := gate(base)
	g.RLock()
	defer g.RUnlock()
	if w := activeWriter(base); w != nil {
		return w.summary()
	}
	if exists(base + extH5) {
		var out *Summary
		err := s.cache.use(base+extH5, func(r *h5Reader, _ datasetOpener) error {
			if r.hdr.ID != id {
				return errs.Corruptf("timeseries: %s belongs to experiment %q, not %q", base+extH5, r.hdr.ID, id)
			}
			st, err := r.stats()
			if err == nil {
				out = summaryOf(r.hdr, st, BackendHDF5, base+extH5)
			}
			return err
		})
		if err != nil {
			return nil, s.readErr(id, base, err)
		}
		return out, nil
	}
	if exists(base + extJSON) {
		first, err := readJSONHeaderLine(base + extJSON)
		if err != nil {
			return nil, err
		}
		hdr, st, err := readLastCommit(base + extJSON)
		if err != nil {
			return nil, s.readErr(id, base, err)
		}
		hdr.ID, hdr.Created = first.ID, first.Created
		return summaryOf(hdr, st, BackendJSON, base+extJSON), nil
	}
	return nil, s.notFound(id)
}

func summaryOf(hdr header, st []colStats, backend, path string) *Summary {
	sum := buildSummary(hdr.ID, hdr.Schema, st, hdr.Rows)
	sum.Created, sum.Backend, sum.Path = hdr.Created, backend, path
	if hdr.Updated > 0 {
		sum.Updated = time.Unix(0, hdr.Updated).UTC().Format(time.RFC3339Nano)
	}
	return sum
}

// readErr turns a failed open into NotFound when the history vanished (a
// concurrent delete) and otherwise keeps the error.
func (s *Store) readErr(id, base string, err error) error {
	if !exists(base+extH5) && !exists(base+extJSON) {
		return s.notFound(id)
	}
	return err
}

func (s *Store) notFound(id string) error {
	return errs.NotFoundf("timeseries: no training history for experiment %q in %s", id, s.dir)
}

// List returns the experiment ids with a stored history, sorted.
func (s *Store) List() ([]string, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errs.Closedf("timeseries: the store is closed")
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, errs.IOf("timeseries: list %s: %v", s.dir, err)
	}
	ids := []string{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, extID) || strings.Contains(name, tmpMark) {
			continue
		}
		stem := strings.TrimSuffix(name, extID)
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			continue // deleted meanwhile
		}
		id := string(b)
		if fileStem(id) != stem {
			logging.L().Warn().Str("file", name).Msg("timeseries: id file does not match its name; skipped")
			continue
		}
		base := filepath.Join(s.dir, stem)
		if exists(base+extH5) || exists(base+extJSON) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Delete removes id's history. It fails with ErrConflict while another
// writer holds the experiment and ErrNotFound when there is nothing to delete.
func (s *Store) Delete(id string) error {
	if err := s.check(id); err != nil {
		return err
	}
	if err := s.closeAppender(id, false); err != nil {
		return err
	}
	base := s.base(id)
	lock, err := lockExperiment(base+extLock, id)
	if err != nil {
		return err
	}
	found := exists(base+extH5) || exists(base+extJSON)
	s.cache.forget(base + extH5)
	removeTemps(base)
	for _, p := range []string{base + extH5, base + extJSON, base + extID} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			lock.release()
			return errs.IOf("timeseries: delete %s: %v", p, err)
		}
	}
	lock.removeAndRelease()
	if !found {
		return s.notFound(id)
	}
	return nil
}

// ---- helpers -----------------------------------------------------------------------

func checkMetadata(meta json.RawMessage) error {
	if meta == nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(meta, &m); err != nil || m == nil {
		return errs.Invalidf("timeseries: metadata must be a JSON object")
	}
	return nil
}

func orEmpty(meta json.RawMessage) json.RawMessage {
	if meta == nil {
		return json.RawMessage("{}")
	}
	return meta
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func tempName(path string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return path + tmpMark + hex.EncodeToString(b[:])
}

// removeTemps deletes temp files a crashed writer of this experiment left;
// only called while holding the experiment's lock.
func removeTemps(base string) {
	matches, _ := filepath.Glob(globEscape(base) + ".*" + tmpMark + "*")
	for _, m := range matches {
		os.Remove(m)
	}
}

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

// writeIDFile records the raw id next to the history (file names only carry
// a hash), replacing it atomically.
func writeIDFile(base, id string, fsync bool) error {
	if b, err := os.ReadFile(base + extID); err == nil && bytes.Equal(b, []byte(id)) {
		return nil
	}
	tmp := tempName(base + extID)
	if err := writeNewFile(tmp, []byte(id), fsync); err != nil {
		return err
	}
	if err := os.Rename(tmp, base+extID); err != nil {
		os.Remove(tmp)
		return errs.IOf("timeseries: write id file: %v", err)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return errs.IOf("timeseries: sync %s: %v", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return errs.IOf("timeseries: sync %s: %v", path, err)
	}
	return nil
}
