package metadata

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/structure-net/structure-net-data/core/errs"
)

// sqliteBackend is one SQLite file in WAL mode.
type sqliteBackend struct{ path string }

func openSQLite(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, errs.IOf("metadata: create %s: %v", filepath.Dir(path), err)
	}
	// _txlock=immediate takes the write lock at BEGIN, so concurrent writers
	// queue on busy_timeout instead of failing on a lock upgrade.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL&_txlock=immediate&_foreign_keys=on"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, errs.IOf("metadata: open %s: %v", path, err)
	}
	b := sqliteBackend{path: path}
	s, err := newStore(db, b, 0)
	if err != nil {
		return nil, err
	}
	var check string
	if err := db.QueryRow("PRAGMA quick_check").Scan(&check); err != nil || check != "ok" {
		db.Close()
		if err == nil {
			err = errors.New(check)
		}
		return nil, errs.Corruptf("metadata database %s failed its integrity check (%v); it was left untouched — move it aside to start a new one", path, err)
	}
	return s, nil
}

func (sqliteBackend) bind(query string) string { return query }

func (sqliteBackend) usageOrder() string { return "timestamp, rowid" }

func (sqliteBackend) migrations() [][]string { return sqliteMigrations }

// lockSchema: the transaction already holds SQLite's write lock (_txlock=immediate).
func (sqliteBackend) lockSchema(context.Context, *sql.Tx) error { return nil }

func (b sqliteBackend) classify(err error) error {
	if hasKind(err) {
		return err
	}
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return errs.Corruptf("metadata database %s is not a valid SQLite database (%v); it was left untouched — move it aside to start a new one", b.path, err)
	}
	if errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked) {
		return errs.Conflictf("metadata database %s is locked: %v", b.path, err)
	}
	return errs.IOf("metadata database %s: %v", b.path, err)
}

// transient: SQLite waits for locks on its busy timeout; nothing else heals by retrying.
func (sqliteBackend) transient(error) bool { return false }

func (sqliteBackend) duplicate(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
}

func (sqliteBackend) attemptTimeout() time.Duration { return 0 }

func (b sqliteBackend) location() string { return b.path }

// hasKind reports whether err already carries one of the errs kinds.
func hasKind(err error) bool {
	for _, k := range errs.Kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
