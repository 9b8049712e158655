// Package timeseries owns training histories: per-epoch (or per-step) rows
// of named values, one history per experiment, stored so that any slice of
// rows and the summary statistics are cheap to read however long the history
// grows, while a training loop appends to it.
//
// It does not own experiment search or hybrid routing (the Python layer puts
// a history's key into the search store).
//
// # Folder
//
// A Store keeps one folder. For experiment id the files are
// <stem>.h5 (or <stem>.jsonl with the JSON backend), <stem>.id (the raw id,
// so List returns real ids) and <stem>.lock (the writer lock). stem is a
// sanitized prefix of the id ([A-Za-z0-9_-], 40 bytes at most) plus 128 bits
// of its SHA-256: ids like "../../etc/x", very long or unicode ids never
// reach a path. Files are replaced by writing <name>.tmp-<random> and
// renaming it, so readers see either the old or the new file.
//
// # HDF5 layout (readable with h5py alone)
//
// The root group holds one 1-D, chunked, extendible dataset per column, named
// after the column ('%' and '/' percent-encoded), in column order (link
// creation order is tracked): float64 (IEEE LE), int64, bool (h5py's enum
// {FALSE=0, TRUE=1} over int8), or variable-length UTF-8 strings for string
// columns and for "json" columns (each value a JSON text). A missing float is
// NaN. Other columns that miss values have a bool mask dataset of the same
// name in the group "_snd_masks" (TRUE = present; a missing string is "").
// Root attributes: format ("structure-net-data/timeseries"), format_version
// (1), experiment_id, metadata (a JSON object as text), created (RFC 3339),
// columns (JSON: [{"name","dataset","kind","masked"}] in order), layout,
// snd_rows (committed rows), snd_updated_ns, and snd_summary: one compound
// element per column (rows, count, missing, nan, posinf, neginf, sum, sumc,
// min, max, last, argmin, argmax, last_row, imin, imax, ilast) kept up to
// date on every append, so a summary reads no rows.
//
// A "compact" file (written whole by Put, or by a writer's Close) uses the
// configured filter: shuffle+deflate (gzip), shuffle+LZF (filter 32000,
// h5py's; lzf.c implements it for libhdf5, which has none) or none. A "streaming" file (while a writer appends)
// is uncompressed and uses paged file-space aggregation: partial chunks are
// rewritten in place (a compressed chunk would move and leak space under
// SWMR) and no metadata block straddles a 4 KiB page, so a write cut short by
// kill -9 cannot leave a torn, checksum-failing header.
//
// # Concurrency and crash safety
//
// One writer per experiment: an exclusive flock on <stem>.lock, so a second
// writer (thread or process) gets ErrConflict naming the holder's pid; the
// kernel drops the lock of a killed writer. Writers open files read-write in
// HDF5 SWMR mode (single writer, multiple readers) from the first moment;
// readers open every file read-only in SWMR mode without HDF5's own file lock,
// so they read while a writer appends (h5py users pass swmr=True). Each append
// writes the rows, flushes, then updates snd_summary and snd_rows and flushes
// again: readers trust snd_rows, so a writer killed at any point leaves a file
// whose committed rows are intact and readable, and the next writer rebuilds
// it from those rows. Schema changes (a new column, a new mask, int64 promoted
// to float64, new metadata) cannot be made under SWMR: the writer rebuilds the
// file. A reader that meets metadata being rewritten retries a few times.
//
// In one process libhdf5 refuses to open a file both read-only and
// read-write, so reads of a history this process is writing go through its
// Writer, and a per-file gate orders them against the writer's open and close.
// A Store keeps up to MaxCachedFiles compact files open (they only change by
// rename, which the cache detects by inode), so repeated reads skip the open.
//
// # JSON backend
//
// <stem>.jsonl: JSON lines. The first is {"header": {format, format_version,
// experiment_id, metadata, created}}; then {"rows": {start, n, columns}} and
// {"commit": {rows, schema, stats, updated_ns}} lines, one pair written per
// append in a single write(2); {"metadata": ...} lines replace the metadata.
// Floats are JSON numbers or "NaN", "Infinity", "-Infinity". Readers ignore
// rows after the last commit (a torn tail); the next writer truncates them.
// Rows, selections and summaries are identical to the HDF5 backend's.
package timeseries
