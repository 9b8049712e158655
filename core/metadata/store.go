package metadata

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Dataset describes one dataset as it was loaded. JSON names match the
// Python DatasetMetadata fields.
type Dataset struct {
	DatasetName        string         `json:"dataset_name"`
	Version            string         `json:"version"`
	Source             string         `json:"source"`
	PreprocessingSteps []string       `json:"preprocessing_steps"`
	Statistics         map[string]any `json:"statistics"`
	SizeBytes          int64          `json:"size_bytes"`
	NumSamples         int64          `json:"num_samples"`
	Shape              []int          `json:"shape"`
	Checksum           string         `json:"checksum"`
	DownloadTimestamp  string         `json:"download_timestamp"`
	Files              []string       `json:"files"`
	Config             map[string]any `json:"config"`
	Metadata           map[string]any `json:"metadata"`
	UpdatedAt          string         `json:"updated_at,omitempty"`
}

// Usage is one load of a dataset split by an experiment.
type Usage struct {
	UsageID        string         `json:"usage_id"`
	ExperimentID   string         `json:"experiment_id"`
	DatasetName    string         `json:"dataset_name"`
	DatasetVersion string         `json:"dataset_version"`
	Timestamp      string         `json:"timestamp"`
	SubsetUsed     string         `json:"subset_used"`
	SamplesUsed    int64          `json:"samples_used"`
	Transforms     []string       `json:"transformations_applied"`
	LoadingTime    *float64       `json:"loading_time"`
	SubsetInfo     map[string]any `json:"subset_info"`
}

// Statistics summarises the usage of one dataset.
type Statistics struct {
	DatasetName        string           `json:"dataset_name"`
	TotalUses          int64            `json:"total_uses"`
	UniqueExperiments  int64            `json:"unique_experiments"`
	TotalSamplesUsed   int64            `json:"total_samples_used"`
	SubsetDistribution map[string]int64 `json:"subset_distribution"`
	FirstUsed          string           `json:"first_used,omitempty"`
	LastUsed           string           `json:"last_used,omitempty"`
}

// Store is an open metadata database; safe for concurrent use.
type Store struct {
	db       *sql.DB
	backend  backend
	retryFor time.Duration
}

// Options tune OpenURI.
type Options struct {
	// RetryFor is how long an operation on a PostgreSQL server keeps retrying
	// after a lost connection (a restart, a failover) before it fails naming
	// its record; zero means DefaultRetryFor. SQLite does not retry: it waits
	// for locks on its busy timeout instead.
	RetryFor time.Duration
}

// DefaultRetryFor is the retry window of Options.RetryFor.
const DefaultRetryFor = 30 * time.Second

// backend is what differs between SQLite and PostgreSQL.
type backend interface {
	bind(query string) string // rewrites '?' placeholders for the driver
	usageOrder() string       // ORDER BY of the usage history
	migrations() [][]string
	lockSchema(ctx context.Context, tx *sql.Tx) error
	classify(err error) error // an errs-kind error naming the database
	transient(err error) bool // a lost connection, worth retrying
	duplicate(err error) bool // a primary-key violation
	attemptTimeout() time.Duration
	location() string // the database for messages: never a password
}

// Open opens (creating when absent) the SQLite database <dir>/metadata.db.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errs.Invalidf("metadata: empty directory")
	}
	return openSQLite(filepath.Join(dir, "metadata.db"))
}

// OpenURI opens the database a URI names: sqlite:///path/metadata.db (the
// file and its folder are created when absent) or
// postgresql://user:password@host:port/database (the database must exist;
// the store creates its tables).
func OpenURI(uri string, opts Options) (*Store, error) {
	switch {
	case strings.HasPrefix(uri, "sqlite://"):
		path := strings.TrimPrefix(uri, "sqlite://")
		if path == "" || strings.ContainsAny(path, "?#") {
			return nil, errs.Invalidf("metadata: %q is not a sqlite:///path/metadata.db URI", uri)
		}
		return openSQLite(path)
	case strings.HasPrefix(uri, "postgresql://"), strings.HasPrefix(uri, "postgres://"):
		return openPostgres(uri, opts)
	}
	return nil, errs.Invalidf("metadata: unsupported database URI %q: use sqlite:///path/metadata.db or postgresql://user:password@host:port/database", redactURI(uri))
}

// newStore migrates the schema of an opened database and wraps it.
func newStore(db *sql.DB, b backend, retryFor time.Duration) (*Store, error) {
	if retryFor <= 0 {
		retryFor = DefaultRetryFor
	}
	s := &Store{db: db, backend: b, retryFor: retryFor}
	err := s.run("create or migrate the schema", func(ctx context.Context, _ int) error { return s.migrate(ctx) })
	var newer *newerSchemaError
	if errors.As(err, &newer) {
		db.Close()
		return nil, errs.Unsupportedf("metadata database %s has schema version %d, newer than this version of structure-net-data knows (%d); it was left untouched — upgrade structure-net-data to use it", b.location(), newer.have, SchemaVersion)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// run calls op until it succeeds, fails for good, or the retry window after
// a lost connection ends; what names the operation's record in the error.
func (s *Store) run(what string, op func(ctx context.Context, attempt int) error) error {
	deadline := time.Now().Add(s.retryFor)
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if t := s.backend.attemptTimeout(); t > 0 {
			ctx, cancel = context.WithTimeout(ctx, t)
		}
		err := op(ctx, attempt)
		cancel()
		if err == nil {
			return nil
		}
		var newer *newerSchemaError
		if errors.As(err, &newer) || hasKind(err) { // decided already: a newer schema, a corrupt record
			return err
		}
		if !s.backend.transient(err) {
			return s.backend.classify(err)
		}
		if time.Now().Add(delay).After(deadline) {
			return errs.Unavailablef("metadata: could not %s: %s stayed unreachable for %s (%d attempts): %v", what, s.backend.location(), s.retryFor, attempt, s.backend.classify(err))
		}
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
}

// Path is the database: its file for SQLite, its server and name (without
// the password) for PostgreSQL.
func (s *Store) Path() string { return s.backend.location() }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// PutDataset records (or replaces) the metadata of a dataset.
func (s *Store) PutDataset(d Dataset) error {
	if strings.TrimSpace(d.DatasetName) == "" {
		return errs.Invalidf("metadata: dataset_name is empty")
	}
	if d.NumSamples < 0 || d.SizeBytes < 0 {
		return errs.Invalidf("metadata: num_samples and size_bytes must not be negative")
	}
	d.UpdatedAt = now()
	doc, err := json.Marshal(d)
	if err != nil {
		return errs.Invalidf("metadata: %v", err)
	}
	q := s.backend.bind(`INSERT INTO datasets(name, doc, updated_at) VALUES(?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET doc=excluded.doc, updated_at=excluded.updated_at`)
	return s.run(fmt.Sprintf("record the metadata of dataset %q", d.DatasetName), func(ctx context.Context, _ int) error {
		_, err := s.db.ExecContext(ctx, q, d.DatasetName, string(doc), d.UpdatedAt)
		return err
	})
}

// GetDataset returns the recorded metadata of name.
func (s *Store) GetDataset(name string) (*Dataset, error) {
	var doc string
	found := true
	q := s.backend.bind(`SELECT doc FROM datasets WHERE name = ?`)
	err := s.run(fmt.Sprintf("read the metadata of dataset %q", name), func(ctx context.Context, _ int) error {
		err := s.db.QueryRowContext(ctx, q, name).Scan(&doc)
		if errors.Is(err, sql.ErrNoRows) {
			found = false
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.NotFoundf("no metadata recorded for dataset %q", name)
	}
	var d Dataset
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, errs.Corruptf("metadata of dataset %q is not valid JSON: %v", name, err)
	}
	return &d, nil
}

// TrackUsage appends u (assigning its id and timestamp when empty) and returns its id.
func (s *Store) TrackUsage(u Usage) (string, error) {
	if strings.TrimSpace(u.ExperimentID) == "" || strings.TrimSpace(u.DatasetName) == "" {
		return "", errs.Invalidf("metadata: experiment_id and dataset_name are required")
	}
	if u.SamplesUsed < 0 {
		return "", errs.Invalidf("metadata: samples_used must not be negative")
	}
	if u.UsageID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		u.UsageID = hex.EncodeToString(b[:])
	}
	if u.Timestamp == "" {
		u.Timestamp = now()
	}
	doc, err := json.Marshal(u)
	if err != nil {
		return "", errs.Invalidf("metadata: %v", err)
	}
	insert := s.backend.bind(`INSERT INTO usage(usage_id, experiment_id, dataset_name, timestamp, subset_used, samples_used, doc)
		VALUES(?, ?, ?, ?, ?, ?, ?)`)
	stored := s.backend.bind(`SELECT doc FROM usage WHERE usage_id = ?`)
	what := fmt.Sprintf("record usage %s (experiment %q, dataset %q, split %q)", u.UsageID, u.ExperimentID, u.DatasetName, u.SubsetUsed)
	duplicate := false
	err = s.run(what, func(ctx context.Context, attempt int) error {
		_, err := s.db.ExecContext(ctx, insert, u.UsageID, u.ExperimentID, u.DatasetName, u.Timestamp, u.SubsetUsed, u.SamplesUsed, string(doc))
		if err != nil && s.backend.duplicate(err) {
			// After a lost connection an earlier attempt may have committed:
			// the record is there once when the stored copy is ours.
			var have string
			if attempt > 1 && s.db.QueryRowContext(ctx, stored, u.UsageID).Scan(&have) == nil && have == string(doc) {
				return nil
			}
			duplicate = true
		}
		return err
	})
	if duplicate {
		return "", errs.Conflictf("metadata: usage id %s is already recorded", u.UsageID)
	}
	if err != nil {
		return "", err
	}
	return u.UsageID, nil
}

// History lists usage records in time order, filtered by dataset and/or
// experiment when those are non-empty.
func (s *Store) History(datasetName, experimentID string) ([]Usage, error) {
	q := s.backend.bind(`SELECT doc FROM usage WHERE (? = '' OR dataset_name = ?) AND (? = '' OR experiment_id = ?) ORDER BY ` + s.backend.usageOrder())
	var out []Usage
	err := s.run("read the usage history", func(ctx context.Context, _ int) error {
		out = []Usage{}
		rows, err := s.db.QueryContext(ctx, q, datasetName, datasetName, experimentID, experimentID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var doc string
			if err := rows.Scan(&doc); err != nil {
				return err
			}
			var u Usage
			if err := json.Unmarshal([]byte(doc), &u); err != nil {
				return errs.Corruptf("usage record is not valid JSON: %v", err)
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stats summarises the usage of one dataset with SQL aggregates.
func (s *Store) Stats(datasetName string) (*Statistics, error) {
	totals := s.backend.bind(`SELECT COUNT(*), COUNT(DISTINCT experiment_id), CAST(COALESCE(SUM(samples_used), 0) AS BIGINT), MIN(timestamp), MAX(timestamp)
		FROM usage WHERE dataset_name = ?`)
	splits := s.backend.bind(`SELECT subset_used, COUNT(*) FROM usage WHERE dataset_name = ? GROUP BY subset_used`)
	var st *Statistics
	err := s.run(fmt.Sprintf("read the usage statistics of dataset %q", datasetName), func(ctx context.Context, _ int) error {
		st = &Statistics{DatasetName: datasetName, SubsetDistribution: map[string]int64{}}
		var first, last sql.NullString
		if err := s.db.QueryRowContext(ctx, totals, datasetName).Scan(&st.TotalUses, &st.UniqueExperiments, &st.TotalSamplesUsed, &first, &last); err != nil {
			return err
		}
		st.FirstUsed, st.LastUsed = first.String, last.String
		rows, err := s.db.QueryContext(ctx, splits, datasetName)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				return err
			}
			st.SubsetDistribution[k] = n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
