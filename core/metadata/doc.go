// Package metadata owns the durable record of datasets and of their use by
// experiments: what each dataset is (files, checksum, size, shape, transforms)
// and every time an experiment loaded it.
//
// # Storage
//
// Two tables, datasets (one row per dataset name, upserted) and usage
// (append-only, one row per load of a split), in one of two backends chosen
// by a URI (OpenURI):
//
//   - sqlite:///path/metadata.db (the default, Open(dir)): one SQLite file in
//     WAL mode. WAL plus a busy timeout lets several processes write at once
//     without losing records. A file that is not a readable database is
//     reported as corrupt and never replaced.
//   - postgresql://user:pass@host:port/db: a PostgreSQL server shared by the
//     machines of a cluster (github.com/jackc/pgx/v5 through database/sql).
//     Writes that meet a lost connection (a server restart, a failover) are
//     retried until the store's retry window ends, then fail with the record
//     named; nothing is dropped silently. Errors name host and port, never
//     the password.
//
// Every write is one transaction. The store creates and migrates its own
// schema, recording the version in the snd_schema_version table; a database
// whose schema is newer than this code knows is refused, untouched.
package metadata
