// Package search owns experiment search: the experiment, architecture and
// hypothesis embedders, the metadata and description derived from an
// experiment, Chroma's `where` filter grammar, the Store interface with its two
// backends (an embedded on-disk store and a Chroma server reached through
// chroma-go), and the Searcher that ties them together. It does not own
// training histories (core/timeseries) or dataset metadata (core/metadata).
//
// # Embeddings
//
// The experiment embedding (384-d by default) and the architecture embedding
// (128-d) keep the original data_factory feature layouts bit for bit (see
// embed.go), with its crashes fixed: missing or null values count as absent,
// zero-width layers do not divide by zero, and a list architecture is embedded
// the same way at index and at query time because both go through one function.
//
// # Stores
//
// A Store is one collection of records (id, float32 embedding, typed metadata,
// document). Both backends validate input identically (ValidateRecords,
// ParseWhere) and return the same results for the same calls; the contract
// tests in tests/go run one suite against both.
//
// Distances follow Chroma: cosine is 1-cos(q,r), l2 is the squared Euclidean
// distance, ip is 1-q·r. A Searcher always uses cosine, so its
// similarity_score = 1-distance = cos(q,r) lies in [-1, 1] (in [0, 1] for the
// built-in embedders, whose features are non-negative).
//
// # On-disk format (embedded backend)
//
// One SQLite database (WAL mode) per collection: <persist_dir>/<collection>.sqlite3.
//
//	state(id=1, format, name, dim, space, seq, epoch)
//	records(id TEXT UNIQUE, seq INTEGER, vec BLOB, meta BLOB, doc TEXT)
//
// vec is the embedding as little-endian float32 with trailing zeros dropped
// (the dimension lives in state.dim); meta is the binary metadata encoding of
// codec.go; doc is the document (for a Searcher: the original experiment JSON).
// A deleted record keeps its row with vec NULL, so other processes learn of the
// delete. Every write transaction takes seq+1 and stamps its rows with it;
// reset bumps epoch. A process keeps an in-memory copy (vectors and columnar
// metadata) for exact search and brings it up to date before every read by
// loading the rows whose seq is newer than the one it has seen, so several
// processes may write one store at once. SQLite's WAL journal makes every
// batch atomic across crashes.
package search
