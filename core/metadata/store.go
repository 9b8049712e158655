package metadata

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

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
	db   *sql.DB
	path string
}

const schema = `
CREATE TABLE IF NOT EXISTS datasets (
	name TEXT PRIMARY KEY,
	doc TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
	usage_id TEXT PRIMARY KEY,
	experiment_id TEXT NOT NULL,
	dataset_name TEXT NOT NULL,
	timestamp TEXT NOT NULL,
	subset_used TEXT NOT NULL,
	samples_used INTEGER NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_by_dataset ON usage(dataset_name, timestamp);
CREATE INDEX IF NOT EXISTS usage_by_experiment ON usage(experiment_id, timestamp);
`

// Open opens (creating when absent) the database in dir.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errs.Invalidf("metadata: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errs.IOf("metadata: create %s: %v", dir, err)
	}
	path := filepath.Join(dir, "metadata.db")
	// _txlock=immediate takes the write lock at BEGIN, so concurrent writers
	// queue on busy_timeout instead of failing on a lock upgrade.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL&_txlock=immediate&_foreign_keys=on"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, errs.IOf("metadata: open %s: %v", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, classify(path, err)
	}
	var check string
	if err := db.QueryRow("PRAGMA quick_check").Scan(&check); err != nil || check != "ok" {
		db.Close()
		if err == nil {
			err = errors.New(check)
		}
		return nil, errs.Corruptf("metadata database %s failed its integrity check (%v); it was left untouched — move it aside to start a new one", path, err)
	}
	return &Store{db: db, path: path}, nil
}

func classify(path string, err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return errs.Corruptf("metadata database %s is not a valid SQLite database (%v); it was left untouched — move it aside to start a new one", path, err)
	}
	if errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked) {
		return errs.Conflictf("metadata database %s is locked: %v", path, err)
	}
	return errs.IOf("metadata database %s: %v", path, err)
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

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
	_, err = s.db.Exec(`INSERT INTO datasets(name, doc, updated_at) VALUES(?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET doc=excluded.doc, updated_at=excluded.updated_at`, d.DatasetName, string(doc), d.UpdatedAt)
	if err != nil {
		return classify(s.path, err)
	}
	return nil
}

// GetDataset returns the recorded metadata of name.
func (s *Store) GetDataset(name string) (*Dataset, error) {
	var doc string
	err := s.db.QueryRow(`SELECT doc FROM datasets WHERE name = ?`, name).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no metadata recorded for dataset %q", name)
	}
	if err != nil {
		return nil, classify(s.path, err)
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
	_, err = s.db.Exec(`INSERT INTO usage(usage_id, experiment_id, dataset_name, timestamp, subset_used, samples_used, doc)
		VALUES(?, ?, ?, ?, ?, ?, ?)`, u.UsageID, u.ExperimentID, u.DatasetName, u.Timestamp, u.SubsetUsed, u.SamplesUsed, string(doc))
	if err != nil {
		return "", classify(s.path, err)
	}
	return u.UsageID, nil
}

// History lists usage records in time order, filtered by dataset and/or
// experiment when those are non-empty.
func (s *Store) History(datasetName, experimentID string) ([]Usage, error) {
	q := `SELECT doc FROM usage WHERE (? = '' OR dataset_name = ?) AND (? = '' OR experiment_id = ?) ORDER BY timestamp, rowid`
	rows, err := s.db.Query(q, datasetName, datasetName, experimentID, experimentID)
	if err != nil {
		return nil, classify(s.path, err)
	}
	defer rows.Close()
	out := []Usage{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, classify(s.path, err)
		}
		var u Usage
		if err := json.Unmarshal([]byte(doc), &u); err != nil {
			return nil, errs.Corruptf("usage record is not valid JSON: %v", err)
		}
		out = append(out, u)
	}
	return out, classifyNil(s.path, rows.Err())
}

func classifyNil(path string, err error) error {
	if err == nil {
		return nil
	}
	return classify(path, err)
}

// Stats summarises the usage of one dataset with SQL aggregates.
func (s *Store) Stats(datasetName string) (*Statistics, error) {
	st := &Statistics{DatasetName: datasetName, SubsetDistribution: map[string]int64{}}
	var first, last sql.NullString
	err := s.db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT experiment_id), COALESCE(SUM(samples_used), 0), MIN(timestamp), MAX(timestamp)
		FROM usage WHERE dataset_name = ?`, datasetName).Scan(&st.TotalUses, &st.UniqueExperiments, &st.TotalSamplesUsed, &first, &last)
	if err != nil {
		return nil, classify(s.path, err)
	}
	st.FirstUsed, st.LastUsed = first.String, last.String
	rows, err := s.db.Query(`SELECT subset_used, COUNT(*) FROM usage WHERE dataset_name = ? GROUP BY subset_used`, datasetName)
	if err != nil {
		return nil, classify(s.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, classify(s.path, err)
		}
		st.SubsetDistribution[k] = n
	}
	return st, classifyNil(s.path, rows.Err())
}
