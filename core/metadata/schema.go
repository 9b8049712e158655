package metadata

import "context"

// The schema, as the SQL of each version in order: migrations[0] takes an
// empty database (or one made before versioning, which had exactly the
// version-1 tables) to version 1. Add a version by appending to both lists.
var (
	sqliteMigrations = [][]string{{
		`CREATE TABLE IF NOT EXISTS datasets (
			name TEXT PRIMARY KEY,
			doc TEXT NOT NULL,
			updated_at TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS usage (
			usage_id TEXT PRIMARY KEY,
			experiment_id TEXT NOT NULL,
			dataset_name TEXT NOT NULL,
			timestamp TEXT NOT NULL,
			subset_used TEXT NOT NULL,
			samples_used INTEGER NOT NULL,
			doc TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS usage_by_dataset ON usage(dataset_name, timestamp)`,
		`CREATE INDEX IF NOT EXISTS usage_by_experiment ON usage(experiment_id, timestamp)`,
	}}
	postgresMigrations = [][]string{{
		`CREATE TABLE IF NOT EXISTS datasets (
			name TEXT PRIMARY KEY,
			doc TEXT NOT NULL,
			updated_at TEXT NOT NULL)`,
		// seq orders records written within the same timestamp, as SQLite's rowid does.
		`CREATE TABLE IF NOT EXISTS usage (
			seq BIGINT GENERATED ALWAYS AS IDENTITY,
			usage_id TEXT PRIMARY KEY,
			experiment_id TEXT NOT NULL,
			dataset_name TEXT NOT NULL,
			timestamp TEXT NOT NULL,
			subset_used TEXT NOT NULL,
			samples_used BIGINT NOT NULL,
			doc TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS usage_by_dataset ON usage(dataset_name, timestamp)`,
		`CREATE INDEX IF NOT EXISTS usage_by_experiment ON usage(experiment_id, timestamp)`,
	}}
)

// SchemaVersion is the newest schema this code knows.
const SchemaVersion = 1

// migrate brings the database to SchemaVersion in one transaction, refusing
// a database whose recorded version is newer. The backend's lock serialises
// stores that open the same empty database at once.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.backend.lockSchema(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS snd_schema_version (
		version INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM snd_schema_version`).Scan(&have); err != nil {
		return err
	}
	if have > SchemaVersion {
		return &newerSchemaError{have: have}
	}
	steps := s.backend.migrations()
	for v := have + 1; v <= SchemaVersion; v++ {
		for _, stmt := range steps[v-1] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.backend.bind(`INSERT INTO snd_schema_version(version, applied_at) VALUES(?, ?)`), v, now()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// newerSchemaError is turned into an ErrUnsupported naming the database.
type newerSchemaError struct{ have int }

func (e *newerSchemaError) Error() string { return "newer schema" }
