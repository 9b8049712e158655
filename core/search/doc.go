// Package search owns experiment search: the experiment, architecture and
// hypothesis embedders, the metadata and description derived from an
// experiment, Chroma's `where` filter grammar, the Store interface with its two
// backends (an embedded on-disk store and a Chroma server reached through
// chroma-go), and the Searcher that ties them together. It does not own
// training histories (core/timeseries), dataset metadata (core/metadata) or
// the C API's JSON requests (capi/wire, which turns them into the typed calls
// below).
//
// A Go service uses it directly:
//
//	s, err := search.Open(ctx, search.Config{PersistDirectory: dir})
//	err = s.Index(ctx, []search.Item{{ID: "run-1", Experiment: map[string]any{
//		"architecture": []int{784, 256, 10}, "final_performance": map[string]any{"accuracy": 0.97},
//		"config": map[string]any{"dataset": "mnist"}}}})
//	best, err := s.ByPerformance(ctx, search.MinAccuracy(0.9), search.Dataset("mnist"), search.Limit(5))
//	near, err := s.ByArchitecture(ctx, []int{784, 40, 10}, search.Limit(3))
//
// # Experiments as values
//
// Experiments are free-form dicts in the original, so here they are maps,
// lists and scalars, read in the JSON data model: map[string]any, []any,
// string, bool, nil, int64 and float64, ints and floats kept apart (as
// core/jsonvalue decodes JSON). Go callers may pass ordinary Go values
// ([]int, int, float32, map[string]float64, ...): the API converts them.
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
// ParseWhere) and return the same results for the same calls; one contract
// test suite (store_contract_test.go) runs against both, the Chroma one
// against a real `chroma run` server.
//
// Distances follow Chroma: cosine is 1-cos(q,r), l2 is the squared Euclidean
// distance, ip is 1-q·r. A Searcher always uses cosine, so a Result's
// Similarity = 1-Distance = cos(q,r) lies in [-1, 1] (in [0, 1] for the
// built-in embedders, whose features are non-negative).
//
// # Files
//
//	searcher.go, searches.go, config.go   the Searcher, its options and config
//	embed.go, experiment.go               embedders; metadata and description of an experiment
//	metadata.go, plain.go                 metadata values; Go values to the JSON data model
//	where.go                              the where / where_document grammar and its evaluation
//	store.go                              Record, the requests and the Store interface
//	embedded*.go                          the embedded backend: SQLite file, codec, in-memory index
//	chroma*.go                            the Chroma backend and its rendering of where clauses
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
// embedded_codec.go; doc is the document (for a Searcher: the experiment's
// JSON text). A deleted record keeps its row with vec NULL, so other processes
// learn of the delete. Every write transaction takes seq+1 and stamps its rows
// with it; reset bumps epoch. A process keeps an in-memory index (vectors and
// columnar metadata, embedded_index.go) for exact search and brings it up to
// date before every read by loading the rows whose seq is newer than the one
// it has seen, so several processes may write one store at once. SQLite's WAL
// journal makes every batch atomic across crashes.
package search
