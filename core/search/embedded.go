package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/structure-net/structure-net-data/core/errs"
)

const embeddedFormat = 1

// EmbeddedOptions configures OpenEmbedded.
type EmbeddedOptions struct {
	Dir         string        // persist directory (created when missing)
	Name        string        // collection name
	Space       Space         // "" keeps the stored space (cosine for a new collection)
	BusyTimeout time.Duration // how long a writer waits for another process's write lock (default 60 s)
}

// embedded is the default Store: SQLite on disk, an exact in-memory index in
// each process (see doc.go for the format and the multi-process protocol).
type embedded struct {
	name  string
	path  string
	space Space

	// mu guards everything below. One lock keeps the SQL connection and the
	// mirror consistent with each other; a filtered query holds it for about
	// a millisecond at 100k records.
	mu     sync.Mutex
	db     *sql.DB
	conn   *sql.Conn
	dim    int
	seq    int64 // last seq applied to the mirror
	epoch  int64
	stmts  map[string]*sql.Stmt
	m      *mirror // nil until a read needs it
	closed bool
}

// OpenEmbedded opens or creates the collection's database file.
func OpenEmbedded(ctx context.Context, o EmbeddedOptions) (Store, error) {
	if err := ValidateCollectionName(o.Name); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, errs.Invalidf("persist directory is empty")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, errs.IOf("search: cannot create persist directory %s: %v", o.Dir, err)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 60 * time.Second
	}
	path := filepath.Join(o.Dir, o.Name+".sqlite3")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + fmt.Sprintf("?_busy_timeout=%d", o.BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, errs.IOf("search: open %s: %v", path, err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, sqlErr(path, "open", err)
	}
	e := &embedded{name: o.Name, path: path, db: db, conn: conn, stmts: map[string]*sql.Stmt{}}
	if err := e.init(ctx, o.Space); err != nil {
		conn.Close()
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *embedded) init(ctx context.Context, space Space) error {
	for _, p := range []string{"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"} {
		if _, err := e.conn.ExecContext(ctx, p); err != nil {
			return sqlErr(e.path, p, err)
		}
	}
	schema := `BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL,
  name TEXT NOT NULL, dim INTEGER NOT NULL, space TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (id TEXT NOT NULL UNIQUE, seq INTEGER NOT NULL, vec BLOB, meta BLOB, doc TEXT);
CREATE INDEX IF NOT EXISTS records_seq ON records(seq);
COMMIT;`
	if _, err := e.conn.ExecContext(ctx, schema); err != nil {
		e.conn.ExecContext(ctx, "ROLLBACK")
		return sqlErr(e.path, "create schema", err)
	}
	want := space
	if want == "" {
		want = Cosine
	}
	if _, err := e.conn.ExecContext(ctx, `INSERT OR IGNORE INTO state VALUES (1, ?, ?, 0, ?, 0, 0)`, embeddedFormat, e.name, string(want)); err != nil {
		return sqlErr(e.path, "init state", err)
	}
	var format int
	var stored string
	if err := e.conn.QueryRowContext(ctx, `SELECT format, space, dim, epoch FROM state WHERE id = 1`).Scan(&format, &stored, &e.dim, &e.epoch); err != nil {
		return sqlErr(e.path, "read state", err)
	}
	if format != embeddedFormat {
		return errs.Unsupportedf("search: %s has format %d, this build reads format %d", e.path, format, embeddedFormat)
	}
	e.space = Space(stored)
	if space != "" && space != e.space {
		return errs.Conflictf("search: collection %q was created with space %s, not %s", e.name, e.space, space)
	}
	return nil
}

func sqlErr(path, what string, err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return errs.Conflictf("search: %s: %s: database is locked by another writer: %v", path, what, err)
		case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
			return errs.Corruptf("search: %s: %s: %v", path, what, err)
		case sqlite3.ErrFull, sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrReadonly, sqlite3.ErrPerm:
			return errs.IOf("search: %s: %s: %v", path, what, err)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Unavailablef("search: %s: %s: %v", path, what, err)
	}
	return errs.IOf("search: %s: %s: %v", path, what, err)
}

func (e *embedded) Name() string    { return e.name }
func (e *embedded) Backend() string { return "embedded" }
func (e *embedded) Space() Space    { return e.space }

func (e *embedded) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := e.stmts[q]; ok {
		return s, nil
	}
	s, err := e.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, sqlErr(e.path, "prepare", err)
	}
	e.stmts[q] = s
	return s, nil
}

func (e *embedded) checkOpen() error {
	if e.closed {
		return errs.Closedf("search: collection %q is closed", e.name)
	}
	return nil
}

// readState reads (dim, seq, epoch) from the state row.
func (e *embedded) readState(ctx context.Context) (dim int, seq, epoch int64, err error) {
	s, err := e.stmt(ctx, `SELECT dim, seq, epoch FROM state WHERE id = 1`)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := s.QueryRowContext(ctx).Scan(&dim, &seq, &epoch); err != nil {
		return 0, 0, 0, sqlErr(e.path, "read state", err)
	}
	return dim, seq, epoch, nil
}

// sync brings the mirror up to date with the database, loading it on first
// use. Caller holds mu.
func (e *embedded) sync(ctx context.Context) error {
	_, seq, epoch, err := e.readState(ctx)
	if err != nil {
		return err
	}
	if e.m != nil && seq == e.seq && epoch == e.epoch {
		return nil
	}
	// One read transaction: the state and the rows read after it are one snapshot.
	if _, err := e.conn.ExecContext(ctx, "BEGIN"); err != nil {
		return sqlErr(e.path, "begin", err)
	}
	err = e.catchUp(ctx)
	if _, cerr := e.conn.ExecContext(ctx, "COMMIT"); cerr != nil && err == nil {
		err = sqlErr(e.path, "commit", cerr)
	}
	return err
}

// catchUp applies the rows written since e.seq (everything after a reset or
// on first load). Caller holds mu, inside a transaction.
func (e *embedded) catchUp(ctx context.Context) error {
	dim, seq, epoch, err := e.readState(ctx)
	if err != nil {
		return err
	}
	full := e.m == nil || epoch != e.epoch
	var rows *sql.Rows
	if full {
		rows, err = e.conn.QueryContext(ctx, `SELECT id, vec, meta FROM records WHERE vec IS NOT NULL`)
	} else {
		rows, err = e.conn.QueryContext(ctx, `SELECT id, vec, meta FROM records WHERE seq > ?`, e.seq)
	}
	if err != nil {
		return sqlErr(e.path, "read changes", err)
	}
	defer rows.Close()
	type change struct {
		id   string
		vec  []float32
		meta Metadata
		del  bool
	}
	var changes []change
	var arena []float32
	for rows.Next() {
		var id string
		var vb, mb []byte
		if err := rows.Scan(&id, &vb, &mb); err != nil {
			return sqlErr(e.path, "read changes", err)
		}
		if vb == nil {
			changes = append(changes, change{id: id, del: true})
			continue
		}
		// One arena per catch-up keeps a full load to a few allocations.
		if cap(arena)-len(arena) < len(vb)/4 {
			arena = make([]float32, 0, max(len(vb)/4, 1<<16))
		}
		v, err := decodeVector(vb, dim, arena[len(arena):])
		if err != nil {
			return err
		}
		arena = arena[:len(arena)+len(v)]
		v = v[:len(v):len(v)]
		var meta Metadata
		if err := decodeMetadata(mb, func(k string, val any) {
			if meta == nil {
				meta = Metadata{}
			}
			meta[k] = val
		}); err != nil {
			return fmt.Errorf("record %q: %w", id, err)
		}
		changes = append(changes, change{id: id, vec: v, meta: meta})
	}
	if err := rows.Err(); err != nil {
		return sqlErr(e.path, "read changes", err)
	}
	if full {
		e.m = newMirror(e.space)
	}
	for _, c := range changes {
		if c.del {
			e.m.remove(c.id)
		} else {
			e.m.put(c.id, c.vec, c.meta)
		}
	}
	e.dim, e.seq, e.epoch = dim, seq, epoch
	return nil
}

// write runs fn in a write transaction after catching the mirror up, then
// stamps the new seq. apply updates the mirror after the commit.
func (e *embedded) write(ctx context.Context, fn func(seq int64) (apply func(), err error)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkOpen(); err != nil {
		return err
	}
	if _, err := e.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return sqlErr(e.path, "begin write", err)
	}
	commit := false
	defer func() {
		if !commit {
			e.conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	dim, seq, epoch, err := e.readState(ctx)
	if err != nil {
		return err
	}
	if e.m != nil && (seq != e.seq || epoch != e.epoch) {
		if err := e.catchUp(ctx); err != nil {
			return err
		}
	}
	e.dim = dim
	newSeq := seq + 1
	apply, err := fn(newSeq)
	if err != nil {
		return err
	}
	if apply == nil {
		return nil // nothing written: the deferred rollback ends the transaction
	}
	if _, err := e.conn.ExecContext(ctx, `UPDATE state SET seq = ?, dim = ? WHERE id = 1`, newSeq, e.dim); err != nil {
		return sqlErr(e.path, "update state", err)
	}
	if _, err := e.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return sqlErr(e.path, "commit", err)
	}
	commit = true
	if e.m != nil && e.seq == seq && e.epoch == epoch {
		apply()
		e.seq = newSeq
	}
	return nil
}

func (e *embedded) Dimension(ctx context.Context) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkOpen(); err != nil {
		return 0, err
	}
	dim, _, _, err := e.readState(ctx)
	return dim, err
}

func (e *embedded) Upsert(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	return e.write(ctx, func(seq int64) (func(), error) {
		if err := ValidateRecords(recs, e.dim); err != nil {
			return nil, err
		}
		vecs := make([][]float32, len(recs))
		// Many rows per statement: one cgo round trip and one statement run per
		// 64 records instead of per record.
		args := make([]any, 0, 5*upsertRows)
		for start := 0; start < len(recs); start += upsertRows {
			chunk := recs[start:min(start+upsertRows, len(recs))]
			s, err := e.stmt(ctx, upsertSQL(len(chunk)))
			if err != nil {
				return nil, err
			}
			args = args[:0]
			for i := range chunk {
				r := &chunk[i]
				args = append(args, r.ID, seq, encodeVector(r.Embedding), encodeMetadata(r.Metadata), r.Document)
				n := trimmedLen(r.Embedding)
				vecs[start+i] = append(make([]float32, 0, n), r.Embedding[:n]...)
			}
			if _, err := s.ExecContext(ctx, args...); err != nil {
				return nil, sqlErr(e.path, fmt.Sprintf("upsert records %q..%q", chunk[0].ID, chunk[len(chunk)-1].ID), err)
			}
		}
		if e.dim == 0 {
			e.dim = len(recs[0].Embedding)
		}
		return func() {
			for i := range recs {
				e.m.put(recs[i].ID, vecs[i], recs[i].Metadata)
			}
		}, nil
	})
}

const upsertRows = 64

// upsertSQL is the upsert of n records in one statement.
func upsertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO records (id, seq, vec, meta, doc) VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?, ?, ?)")
	}
	b.WriteString(" ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, vec = excluded.vec, meta = excluded.meta, doc = excluded.doc")
	return b.String()
}

// ensure syncs the mirror for a read. Caller holds mu.
func (e *embedded) ensure(ctx context.Context) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	return e.sync(ctx)
}

// candidates returns the rows matching where and where_document. Caller holds mu.
func (e *embedded) candidates(ctx context.Context, where *Filter, wdoc *DocFilter) (bitset, error) {
	cand := e.m.eval(where)
	if wdoc == nil {
		return cand, nil
	}
	docs, err := e.docsMatching(ctx, wdoc)
	if err != nil {
		return nil, err
	}
	cand.and(docs)
	return cand, nil
}

// docsMatching scans documents in SQLite (they are not kept in memory).
// Caller holds mu.
func (e *embedded) docsMatching(ctx context.Context, wdoc *DocFilter) (bitset, error) {
	out := newBitset(e.m.len())
	rows, err := e.conn.QueryContext(ctx, `SELECT id, doc FROM records WHERE vec IS NOT NULL`)
	if err != nil {
		return nil, sqlErr(e.path, "scan documents", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var doc sql.NullString
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, sqlErr(e.path, "scan documents", err)
		}
		if row, ok := e.m.index[id]; ok && wdoc.Match(doc.String) {
			out.set(row)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, sqlErr(e.path, "scan documents", err)
	}
	return out, nil
}

func (e *embedded) Query(ctx context.Context, req QueryRequest) ([]Hit, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensure(ctx); err != nil {
		return nil, err
	}
	if err := validateQuery(&req, e.dim); err != nil {
		return nil, err
	}
	if e.m.len() == 0 {
		return nil, nil
	}
	cand, err := e.candidates(ctx, req.Where, req.WhereDocument)
	if err != nil {
		return nil, err
	}
	best := e.m.nearest(req.Embedding, req.N, cand)
	hits := make([]Hit, len(best))
	for i, b := range best {
		hits[i] = Hit{Record: e.recordLocked(b.row, req.Include, nil), Distance: b.dist}
	}
	if req.Include&IncludeDocuments != 0 {
		if err := e.fillDocuments(ctx, func(i int) *Record { return &hits[i].Record }, len(hits)); err != nil {
			return nil, err
		}
	}
	return hits, nil
}

// recordLocked builds row's record (without document). Caller holds mu.
func (e *embedded) recordLocked(row int32, inc Include, keys []string) Record {
	r := Record{ID: e.m.ids[row]}
	if inc&IncludeMetadatas != 0 {
		r.Metadata = e.m.metadata(row, keys)
	}
	if inc&IncludeEmbeddings != 0 {
		v := make([]float32, e.dim)
		copy(v, e.m.vecs[row])
		r.Embedding = v
	}
	return r
}

func (e *embedded) fillDocuments(ctx context.Context, rec func(int) *Record, n int) error {
	s, err := e.stmt(ctx, `SELECT doc FROM records WHERE id = ?`)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		r := rec(i)
		var doc sql.NullString
		if err := s.QueryRowContext(ctx, r.ID).Scan(&doc); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return sqlErr(e.path, "read document", err)
		}
		r.Document = doc.String
	}
	return nil
}

// GetWithKeys is Get restricted to some metadata keys, which spares
// rebuilding whole metadata maps when a caller only sorts on one key.
func (e *embedded) GetWithKeys(ctx context.Context, req GetRequest, keys []string) ([]Record, error) {
	if err := validateGet(&req); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensure(ctx); err != nil {
		return nil, err
	}
	var rows []int32
	if req.Where != nil || req.WhereDocument != nil || req.IDs == nil {
		cand, err := e.candidates(ctx, req.Where, req.WhereDocument)
		if err != nil {
			return nil, err
		}
		if req.IDs != nil {
			for _, id := range uniqueIDs(req.IDs) {
				if row, ok := e.m.index[id]; ok && cand.has(row) {
					rows = append(rows, row)
				}
			}
		} else {
			for row := range int32(e.m.len()) {
				if cand.has(row) {
					rows = append(rows, row)
				}
			}
			sort.Slice(rows, func(i, j int) bool { return e.m.ids[rows[i]] < e.m.ids[rows[j]] })
		}
	} else {
		for _, id := range uniqueIDs(req.IDs) {
			if row, ok := e.m.index[id]; ok {
				rows = append(rows, row)
			}
		}
	}
	rows = page(rows, req.Offset, req.Limit)
	out := make([]Record, len(rows))
	for i, row := range rows {
		out[i] = e.recordLocked(row, req.Include, keys)
	}
	if req.Include&IncludeDocuments != 0 {
		if err := e.fillDocuments(ctx, func(i int) *Record { return &out[i] }, len(out)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func page[T any](xs []T, offset, limit int) []T {
	if offset >= len(xs) {
		return nil
	}
	xs = xs[offset:]
	if limit > 0 && limit < len(xs) {
		xs = xs[:limit]
	}
	return xs
}

func (e *embedded) Get(ctx context.Context, req GetRequest) ([]Record, error) {
	return e.GetWithKeys(ctx, req, nil)
}

func (e *embedded) Delete(ctx context.Context, req DeleteRequest) error {
	if err := validateDelete(&req); err != nil {
		return err
	}
	filtered := req.Where != nil || req.WhereDocument != nil
	return e.write(ctx, func(seq int64) (func(), error) {
		ids := uniqueIDs(req.IDs)
		if filtered {
			if e.m == nil {
				// Filters need the mirror; inside the write transaction this
				// loads exactly what the deletes will see.
				if err := e.catchUp(ctx); err != nil {
					return nil, err
				}
			}
			cand, err := e.candidates(ctx, req.Where, req.WhereDocument)
			if err != nil {
				return nil, err
			}
			var selected []string
			if req.IDs != nil {
				for _, id := range ids {
					if row, ok := e.m.index[id]; ok && cand.has(row) {
						selected = append(selected, id)
					}
				}
			} else {
				for row := range int32(e.m.len()) {
					if cand.has(row) {
						selected = append(selected, e.m.ids[row])
					}
				}
			}
			ids = selected
		}
		if len(ids) == 0 {
			return nil, nil
		}
		s, err := e.stmt(ctx, `UPDATE records SET seq = ?, vec = NULL, meta = NULL, doc = NULL WHERE id = ? AND vec IS NOT NULL`)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if _, err := s.ExecContext(ctx, seq, id); err != nil {
				return nil, sqlErr(e.path, "delete", err)
			}
		}
		return func() {
			for _, id := range ids {
				e.m.remove(id)
			}
		}, nil
	})
}

func (e *embedded) Count(ctx context.Context) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkOpen(); err != nil {
		return 0, err
	}
	if e.m == nil {
		// Counting does not need the index: spare loading it.
		var n int
		if err := e.conn.QueryRowContext(ctx, `SELECT count(*) FROM records WHERE vec IS NOT NULL`).Scan(&n); err != nil {
			return 0, sqlErr(e.path, "count", err)
		}
		return n, nil
	}
	if err := e.sync(ctx); err != nil {
		return 0, err
	}
	return e.m.len(), nil
}

func (e *embedded) Reset(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkOpen(); err != nil {
		return err
	}
	_, err := e.conn.ExecContext(ctx, `BEGIN IMMEDIATE;
DELETE FROM records;
UPDATE state SET dim = 0, seq = seq + 1, epoch = epoch + 1 WHERE id = 1;
COMMIT;`)
	if err != nil {
		e.conn.ExecContext(context.Background(), "ROLLBACK")
		return sqlErr(e.path, "reset", err)
	}
	e.m = nil
	return nil
}

func (e *embedded) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	for _, s := range e.stmts {
		s.Close()
	}
	e.conn.Close()
	err := e.db.Close()
	e.m = nil
	if err != nil {
		return errs.IOf("search: close %s: %v", e.path, err)
	}
	return nil
}
