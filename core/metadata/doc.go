// Package metadata owns the durable record of datasets and of their use by
// experiments: what each dataset is (files, checksum, size, shape, transforms)
// and every time an experiment loaded it.
//
// # Storage
//
// One SQLite database in WAL mode (<dir>/metadata.db) with two tables,
// datasets (one row per dataset name, upserted) and usage (append-only, one
// row per load of a split). WAL plus a busy timeout lets several processes
// write at once without losing records; every write is one transaction. A
// file that is not a readable database is reported as corrupt and never
// replaced, so a damaged history is not silently lost.
package metadata
