package timeseries

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
)

// jf is a float64 whose JSON form keeps NaN and ±Inf ("NaN", "Infinity",
// "-Infinity", as Python's json writes them, but quoted to stay valid JSON).
type jf float64

func (f jf) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jf) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = jf(math.NaN())
		return nil
	case `"Infinity"`:
		*f = jf(math.Inf(1))
		return nil
	case `"-Infinity"`:
		*f = jf(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return errs.Corruptf("timeseries: bad number %.40q", b)
	}
	*f = jf(v)
	return nil
}

type jsonColumn struct {
	Name  string   `json:"name"`
	Kind  Kind     `json:"kind"`
	Float []jf     `json:"float64,omitempty"`
	Int   []int64  `json:"int64,omitempty"`
	Bool  []bool   `json:"bool,omitempty"`
	Str   []string `json:"strings,omitempty"`
	Valid []bool   `json:"valid,omitempty"`
}

type jsonHeader struct {
	Format        string          `json:"format"`
	FormatVersion int             `json:"format_version"`
	ExperimentID  string          `json:"experiment_id"`
	Metadata      json.RawMessage `json:"metadata"`
	Created       string          `json:"created"`
}

type jsonRows struct {
	Start   int64        `json:"start"`
	N       int64        `json:"n"`
	Columns []jsonColumn `json:"columns"`
}

type jsonStats struct {
	Rows, Count, Missing, NaN, PosInf, NegInf  int64
	Sum, SumC, Min, Max, Last                  jf
	ArgMin, ArgMax, LastRow, IMin, IMax, ILast int64
}

type jsonCommit struct {
	Rows    int64       `json:"rows"`
	Schema  Schema      `json:"schema"`
	Stats   []jsonStats `json:"stats"`
	Updated int64       `json:"updated_ns"`
}

// jsonLine is one line of a .jsonl history; exactly one field is set.
type jsonLine struct {
	Header   *jsonHeader     `json:"header,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Rows     *jsonRows       `json:"rows,omitempty"`
	Commit   *jsonCommit     `json:"commit,omitempty"`
}

func toJSONColumn(c *Column) jsonColumn {
	j := jsonColumn{Name: c.Name, Kind: c.Kind, Int: c.I, Bool: c.B, Str: c.S, Valid: c.Valid}
	if c.F != nil {
		j.Float = make([]jf, len(c.F))
		for i, v := range c.F {
			j.Float[i] = jf(v)
		}
	}
	return j
}

func fromJSONColumn(j *jsonColumn) Column {
	c := Column{Name: j.Name, Kind: j.Kind, I: j.Int, B: j.Bool, S: j.Str, Valid: j.Valid}
	if j.Kind == KindFloat64 {
		c.F = make([]float64, len(j.Float))
		for i, v := range j.Float {
			c.F[i] = float64(v)
		}
	}
	return c
}

func toJSONStats(s colStats) jsonStats {
	return jsonStats{s.Rows, s.Count, s.Missing, s.NaN, s.PosInf, s.NegInf,
		jf(s.Sum), jf(s.SumC), jf(s.Min), jf(s.Max), jf(s.Last), s.ArgMin, s.ArgMax, s.LastRow, s.IMin, s.IMax, s.ILast}
}

func fromJSONStats(j jsonStats) colStats {
	return colStats{j.Rows, j.Count, j.Missing, j.NaN, j.PosInf, j.NegInf,
		float64(j.Sum), float64(j.SumC), float64(j.Min), float64(j.Max), float64(j.Last),
		j.ArgMin, j.ArgMax, j.LastRow, j.IMin, j.IMax, j.ILast}
}

func encodeLine(b *bytes.Buffer, l jsonLine) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil { // Encode ends the line with '\n'
		return errs.Invalidf("timeseries: encode history line: %v", err)
	}
	return nil
}

func rowsLine(b *bytes.Buffer, start int64, t *Table) error {
	if t.Rows == 0 {
		return nil
	}
	r := &jsonRows{Start: start, N: int64(t.Rows), Columns: make([]jsonColumn, len(t.Columns))}
	for i := range t.Columns {
		r.Columns[i] = toJSONColumn(&t.Columns[i])
	}
	return encodeLine(b, jsonLine{Rows: r})
}

func commitLine(b *bytes.Buffer, hdr *header, st []colStats) error {
	hdr.Updated = time.Now().UnixNano()
	c := &jsonCommit{Rows: hdr.Rows, Schema: hdr.Schema, Stats: make([]jsonStats, len(st)), Updated: hdr.Updated}
	for i := range st {
		st[i].Rows = hdr.Rows
		c.Stats[i] = toJSONStats(st[i])
	}
	if c.Schema == nil {
		c.Schema = Schema{}
	}
	return encodeLine(b, jsonLine{Commit: c})
}

func headerLine(b *bytes.Buffer, hdr header) error {
	meta := hdr.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	return encodeLine(b, jsonLine{Header: &jsonHeader{Format: formatName, FormatVersion: formatVersion,
		ExperimentID: hdr.ID, Metadata: meta, Created: hdr.Created}})
}

// writeJSONFile writes a whole history (aligned table t) to a new file.
func writeJSONFile(path string, hdr header, t *Table, fsync bool) error {
	var b bytes.Buffer
	hdr.Rows = 0
	if err := headerLine(&b, hdr); err != nil {
		return err
	}
	if err := rowsLine(&b, 0, t); err != nil {
		return err
	}
	hdr.Rows = int64(t.Rows)
	if err := commitLine(&b, &hdr, statsFor(t)); err != nil {
		return err
	}
	return writeNewFile(path, b.Bytes(), fsync)
}

func writeNewFile(path string, data []byte, fsync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return errs.IOf("timeseries: create %s: %v", path, err)
	}
	_, err = f.Write(data)
	if err == nil && fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return errs.IOf("timeseries: write %s: %v", path, err)
	}
	return nil
}

// jsonHistory is a parsed .jsonl file: its committed rows and statistics.
type jsonHistory struct {
	hdr       header
	batches   []Table
	starts    []int64
	stats     []colStats
	commitEnd int64 // byte offset just after the last commit line
	full      *Table
}

// parseJSONFile reads a history. Lines after the last commit (a batch whose
// commit a crash cut off, or a torn last line) are ignored; a bad line with
// valid lines after it is corruption.
func parseJSONFile(path string) (*jsonHistory, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, errs.NotFoundf("timeseries: %s does not exist", path)
		}
		return nil, errs.IOf("timeseries: open %s: %v", path, err)
	}
	defer f.Close()
	h := &jsonHistory{}
	rd := bufio.NewReaderSize(f, 1<<20)
	var off int64
	badAt := int64(-1)
	sawHeader, sawCommit := false, false
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, errs.IOf("timeseries: read %s: %v", path, err)
		}
		start := off
		off += int64(len(line))
		var l jsonLine
		if line[len(line)-1] != '\n' || json.Unmarshal(line, &l) != nil {
			if badAt < 0 {
				badAt = start
			}
			continue
		}
		if badAt >= 0 {
			return nil, errs.Corruptf("timeseries: %s: damaged line at byte %d", path, badAt)
		}
		switch {
		case l.Header != nil:
			if l.Header.Format != formatName {
				return nil, errs.Corruptf("timeseries: %s is not a structure-net-data history", path)
			}
			if l.Header.FormatVersion > formatVersion {
				return nil, errs.Unsupportedf("timeseries: %s: format version %d is newer than %d", path, l.Header.FormatVersion, formatVersion)
			}
			h.hdr.ID, h.hdr.Metadata, h.hdr.Created = l.Header.ExperimentID, l.Header.Metadata, l.Header.Created
			sawHeader = true
		case l.Metadata != nil:
			h.hdr.Metadata = l.Metadata
		case l.Rows != nil:
			t := Table{Rows: int(l.Rows.N), Columns: make([]Column, len(l.Rows.Columns))}
			for i := range l.Rows.Columns {
				t.Columns[i] = fromJSONColumn(&l.Rows.Columns[i])
			}
			if err := t.Validate(); err != nil {
				return nil, errs.Corruptf("timeseries: %s: %v", path, err)
			}
			h.batches = append(h.batches, t)
			h.starts = append(h.starts, l.Rows.Start)
		case l.Commit != nil:
			h.hdr.Rows, h.hdr.Schema, h.hdr.Updated = l.Commit.Rows, l.Commit.Schema, l.Commit.Updated
			h.stats = make([]colStats, len(l.Commit.Stats))
			for i, s := range l.Commit.Stats {
				h.stats[i] = fromJSONStats(s)
			}
			h.commitEnd = off
			sawCommit = true
		}
	}
	if !sawHeader || !sawCommit {
		return nil, errs.Corruptf("timeseries: %s has no header or no committed state", path)
	}
	if len(h.stats) != len(h.hdr.Schema) {
		return nil, errs.Corruptf("timeseries: %s: statistics do not match the columns", path)
	}
	h.hdr.Layout = layoutStreaming
	return h, nil
}

func (h *jsonHistory) header() header { return h.hdr }

// table returns every committed row aligned to the final schema.
func (h *jsonHistory) table() (*Table, error) {
	if h.full != nil {
		return h.full, nil
	}
	var full *Table
	for i := range h.batches {
		start := h.starts[i]
		if start >= h.hdr.Rows {
			break
		}
		b := &h.batches[i]
		if start+int64(b.Rows) > h.hdr.Rows {
			b = b.slice(0, int(h.hdr.Rows-start))
		}
		if full != nil && int64(full.Rows) != start || full == nil && start != 0 {
			return nil, errs.Corruptf("timeseries: rows batch starts at %d, expected %d", start, rowsOf(full))
		}
		a, err := align(b, h.hdr.Schema)
		if err != nil {
			return nil, errs.Corruptf("timeseries: %v", err)
		}
		full = concat(full, a)
	}
	if full == nil {
		full, _ = align(&Table{}, h.hdr.Schema)
	}
	if int64(full.Rows) != h.hdr.Rows {
		return nil, errs.Corruptf("timeseries: %d rows stored, %d committed", full.Rows, h.hdr.Rows)
	}
	h.full = full
	return full, nil
}

func rowsOf(t *Table) int {
	if t == nil {
		return 0
	}
	return t.Rows
}

func (h *jsonHistory) readPlan(p rowPlan) (*Table, error) {
	full, err := h.table()
	if err != nil {
		return nil, err
	}
	rows := p.Rows
	if !p.explicit {
		rows = make([]int64, p.Count)
		for k := range rows {
			rows[k] = p.Start + int64(k)*p.Stride
		}
	}
	pos := make([]int, len(rows))
	for k, r := range rows {
		pos[k] = int(r)
	}
	t := gather(full, pos)
	if p.Reverse {
		reverse(t)
	}
	return t, nil
}

// readLastCommit finds the last commit line by reading the file backwards,
// so a summary costs O(columns), not O(rows).
func readLastCommit(path string) (header, []colStats, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return header{}, nil, errs.NotFoundf("timeseries: %s does not exist", path)
		}
		return header{}, nil, errs.IOf("timeseries: open %s: %v", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return header{}, nil, errs.IOf("timeseries: stat %s: %v", path, err)
	}
	size := fi.Size()
	for window := int64(64 << 10); ; window *= 4 {
		lo := max(0, size-window)
		buf := make([]byte, size-lo)
		if _, err := f.ReadAt(buf, lo); err != nil && !errors.Is(err, io.EOF) {
			return header{}, nil, errs.IOf("timeseries: read %s: %v", path, err)
		}
		lines := bytes.Split(buf, []byte{'\n'})
		// The first piece may be cut; the last is "" or a torn line.
		for i := len(lines) - 2; i >= 0; i-- {
			if i == 0 && lo > 0 {
				break
			}
			if !bytes.HasPrefix(lines[i], []byte(`{"commit":`)) {
				continue
			}
			var l jsonLine
			if json.Unmarshal(lines[i], &l) != nil || l.Commit == nil {
				continue
			}
			hdr := header{Rows: l.Commit.Rows, Schema: l.Commit.Schema, Updated: l.Commit.Updated}
			st := make([]colStats, len(l.Commit.Stats))
			for k, s := range l.Commit.Stats {
				st[k] = fromJSONStats(s)
			}
			if len(st) != len(hdr.Schema) {
				return header{}, nil, errs.Corruptf("timeseries: %s: statistics do not match the columns", path)
			}
			return hdr, st, nil
		}
		if lo == 0 {
			return header{}, nil, errs.Corruptf("timeseries: %s has no committed state", path)
		}
	}
}

// readJSONHeaderLine returns the first line's header (id, metadata, created).
func readJSONHeaderLine(path string) (header, error) {
	f, err := os.Open(path)
	if err != nil {
		return header{}, errs.IOf("timeseries: open %s: %v", path, err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadBytes('\n')
	var l jsonLine
	if err != nil || json.Unmarshal(line, &l) != nil || l.Header == nil || l.Header.Format != formatName {
		return header{}, errs.Corruptf("timeseries: %s is not a structure-net-data history", path)
	}
	return header{ID: l.Header.ExperimentID, Metadata: l.Header.Metadata, Created: l.Header.Created}, nil
}

// jsonWriter is the JSON-lines backend of a Writer: it appends to a .jsonl
// history, one write(2) per batch carrying the rows and the commit after
// them, so a killed writer leaves at most a torn last line that readers skip
// and the next writer truncates.
type jsonWriter struct {
	id    string
	path  string
	f     *os.File
	hdr   header
	stats []colStats
	fsync bool
}

// openJSONBackend opens base's JSON history for appending, creating it, or
// converting an HDF5 history of the same experiment, first.
func openJSONBackend(base, id string, opt Options, meta json.RawMessage) (*jsonWriter, error) {
	path := base + extJSON
	var h *jsonHistory
	var err error
	switch {
	case exists(path):
		if h, err = parseJSONFile(path); err != nil {
			return nil, err
		}
		if h.hdr.ID != id {
			return nil, errs.Corruptf("timeseries: %s belongs to experiment %q, not %q", path, h.hdr.ID, id)
		}
	case exists(base + extH5):
		r, err := openH5Reader(base + extH5)
		if err != nil {
			return nil, err
		}
		hdr := r.hdr
		t, err := r.readPlan(rowPlan{Start: 0, Count: hdr.Rows, Stride: 1})
		r.close()
		if err != nil {
			return nil, err
		}
		if err := writeJSONAndInstall(path, hdr, t, opt.Fsync); err != nil {
			return nil, err
		}
		if err := os.Remove(base + extH5); err != nil && !os.IsNotExist(err) {
			return nil, errs.IOf("timeseries: remove %s: %v", base+extH5, err)
		}
		if h, err = parseJSONFile(path); err != nil {
			return nil, err
		}
	default:
		hdr := header{ID: id, Metadata: orEmpty(meta), Created: now()}
		if err := writeJSONAndInstall(path, hdr, &Table{}, opt.Fsync); err != nil {
			return nil, err
		}
		if h, err = parseJSONFile(path); err != nil {
			return nil, err
		}
	}
	w, err := openJSONWriter(path, h, opt.Fsync)
	if err != nil {
		return nil, err
	}
	w.id = id
	if meta != nil && !bytes.Equal(meta, h.hdr.Metadata) {
		if err := w.setMetadata(meta); err != nil {
			w.close()
			return nil, err
		}
	}
	return w, nil
}

func writeJSONAndInstall(path string, hdr header, t *Table, fsync bool) error {
	tmp := tempName(path)
	if err := writeJSONFile(tmp, hdr, t, fsync); err != nil {
		return err
	}
	return installFile(tmp, path, fsync)
}

// openJSONWriter opens path for appending, first cutting anything after the
// last commit. h is the parsed file.
func openJSONWriter(path string, h *jsonHistory, fsync bool) (*jsonWriter, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > h.commitEnd {
		if err := os.Truncate(path, h.commitEnd); err != nil {
			return nil, errs.IOf("timeseries: truncate %s: %v", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, errs.IOf("timeseries: open %s: %v", path, err)
	}
	return &jsonWriter{path: path, f: f, hdr: h.hdr, stats: h.stats, fsync: fsync}, nil
}

func (w *jsonWriter) write(b []byte) error {
	if _, err := w.f.Write(b); err != nil {
		return errs.IOf("timeseries: append to %s: %v", w.path, err)
	}
	if w.fsync {
		if err := w.f.Sync(); err != nil {
			return errs.IOf("timeseries: sync %s: %v", w.path, err)
		}
	}
	return nil
}

func (w *jsonWriter) append(t *Table) error {
	schema, aligned, _, err := merge(w.hdr.Schema, t, w.hdr.Rows)
	if err != nil {
		return err
	}
	stats := extendStats(w.hdr.Schema, w.stats, schema, w.hdr.Rows)
	for i := range aligned.Columns {
		stats[i].update(&aligned.Columns[i], w.hdr.Rows)
	}
	hdr := w.hdr
	hdr.Schema = schema
	var b bytes.Buffer
	if err := rowsLine(&b, hdr.Rows, aligned); err != nil {
		return err
	}
	hdr.Rows += int64(aligned.Rows)
	if err := commitLine(&b, &hdr, stats); err != nil {
		return err
	}
	if err := w.write(b.Bytes()); err != nil {
		return err
	}
	w.hdr, w.stats = hdr, stats
	return nil
}

func (w *jsonWriter) setMetadata(meta json.RawMessage) error {
	var b bytes.Buffer
	if err := encodeLine(&b, jsonLine{Metadata: meta}); err != nil {
		return err
	}
	if err := w.write(b.Bytes()); err != nil {
		return err
	}
	w.hdr.Metadata = meta
	return nil
}

func (w *jsonWriter) metadata() json.RawMessage { return w.hdr.Metadata }

func (w *jsonWriter) read(sel Selection) (*History, error) {
	h, err := parseJSONFile(w.path)
	if err != nil {
		return nil, err
	}
	return readJSONHistory(w.id, h, sel)
}

func (w *jsonWriter) summary() (*Summary, error) {
	return summaryOf(w.hdr, w.stats, BackendJSON, w.path), nil
}

// compact does nothing: a JSON history has one layout.
func (w *jsonWriter) compact() error { return nil }

func (w *jsonWriter) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return errs.IOf("timeseries: close %s: %v", w.path, err)
	}
	return nil
}

// extendStats carries statistics over a schema change: new columns start
// with the earlier rows missing, and int64 columns promoted to float64 turn
// their exact values into floats (their missing rows became NaN).
func extendStats(old Schema, st []colStats, s Schema, rows int64) []colStats {
	out := make([]colStats, len(s))
	for i, info := range s {
		j := old.index(info.Name)
		if j < 0 {
			out[i] = newStats()
			if info.Kind == KindFloat64 {
				out[i].NaN = rows
			} else {
				out[i].Missing = rows
			}
			out[i].Rows = rows
			continue
		}
		out[i] = st[j]
		if old[j].Kind == KindInt64 && info.Kind == KindFloat64 {
			c := &out[i]
			c.NaN, c.Missing = c.NaN+c.Missing, 0
			if c.Count > 0 {
				c.Min, c.Max, c.Last = float64(c.IMin), float64(c.IMax), float64(c.ILast)
			}
			c.IMin, c.IMax, c.ILast = 0, 0, 0
		}
	}
	return out
}
