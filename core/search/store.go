package search

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Record is one stored item. Document "" means no document.
type Record struct {
	ID        string
	Embedding []float32
	Metadata  Metadata
	Document  string
}

// Hit is a query result: a record and its distance to the query.
type Hit struct {
	Record
	Distance float32
}

// Include selects what Get and Query return besides ids.
type Include uint8

// Include flags.
const (
	IncludeMetadatas Include = 1 << iota
	IncludeDocuments
	IncludeEmbeddings
)

// GetRequest selects records by ids and/or filters. Results keep the order of
// IDs when given (missing ids are skipped); otherwise the order is the
// backend's own (stable while nothing is written). Limit 0 means no limit.
type GetRequest struct {
	IDs           []string
	Where         *Filter
	WhereDocument *DocFilter
	Limit         int
	Offset        int
	Include       Include
}

// QueryRequest asks for the N nearest records to Embedding among those
// matching the filters, nearest first.
type QueryRequest struct {
	Embedding     []float32
	N             int
	Where         *Filter
	WhereDocument *DocFilter
	Include       Include
}

// DeleteRequest deletes the records with these ids and/or matching these
// filters. Deleting a missing id is not an error. At least one selector is required.
type DeleteRequest struct {
	IDs           []string
	Where         *Filter
	WhereDocument *DocFilter
}

// Space is a distance function.
type Space string

// The spaces, with Chroma's definitions.
const (
	Cosine Space = "cosine" // 1 - cos(q, r); 1 when either vector is zero
	L2     Space = "l2"     // squared Euclidean distance
	IP     Space = "ip"     // 1 - q·r
)

// ParseSpace accepts "", "cosine", "l2" or "ip" ("" is cosine).
func ParseSpace(s string) (Space, error) {
	switch Space(strings.ToLower(s)) {
	case "", Cosine:
		return Cosine, nil
	case L2:
		return L2, nil
	case IP:
		return IP, nil
	}
	return "", errs.Invalidf("unknown distance space %q (expected cosine, l2 or ip)", s)
}

// Store is one collection. Both implementations are safe for concurrent use
// and behave identically for the same calls; see the contract tests.
type Store interface {
	// Name is the collection name.
	Name() string
	// Backend is "embedded" or "chroma".
	Backend() string
	// Space is the distance function fixed when the collection was created.
	Space() Space
	// Dimension is the embedding size, 0 until the first record is stored.
	Dimension(ctx context.Context) (int, error)
	// Upsert inserts or replaces whole records (embedding, metadata and
	// document). An empty batch is a no-op.
	Upsert(ctx context.Context, recs []Record) error
	Get(ctx context.Context, req GetRequest) ([]Record, error)
	Query(ctx context.Context, req QueryRequest) ([]Hit, error)
	Delete(ctx context.Context, req DeleteRequest) error
	Count(ctx context.Context) (int, error)
	// Reset deletes every record and forgets the dimension.
	Reset(ctx context.Context) error
	Close() error
}

var collectionNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$`)

// ValidateCollectionName applies Chroma's rule (3-512 characters of
// [a-zA-Z0-9._-], starting and ending alphanumeric, no "..") to both
// backends, so a name that works embedded also works on a server.
func ValidateCollectionName(name string) error {
	if !collectionNameRE.MatchString(name) || strings.Contains(name, "..") {
		return errs.Invalidf("collection name %q is invalid: use 3-512 characters from [a-zA-Z0-9._-], starting and ending with a letter or digit, without '..'", name)
	}
	return nil
}

// ValidateID checks one record id: non-empty valid UTF-8 without NUL.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errs.Invalidf("record ids must not be empty")
	case !utf8.ValidString(id):
		return errs.Invalidf("record id %q is not valid UTF-8", id)
	case strings.ContainsRune(id, 0):
		return errs.Invalidf("record id %q contains a NUL character", id)
	}
	return nil
}

// ValidateRecords checks a batch the same way for every backend: ids valid
// and unique within the batch, every embedding of the same length (dim when
// dim > 0) and finite, metadata normalized (rewritten in place).
func ValidateRecords(recs []Record, dim int) error {
	seen := make(map[string]struct{}, len(recs))
	var dups []string
	for i := range recs {
		r := &recs[i]
		if err := ValidateID(r.ID); err != nil {
			return err
		}
		if _, ok := seen[r.ID]; ok {
			dups = append(dups, r.ID)
		}
		seen[r.ID] = struct{}{}
		if len(r.Embedding) == 0 {
			return errs.Invalidf("record %q has no embedding", r.ID)
		}
		want := dim
		if want <= 0 {
			want = len(recs[0].Embedding)
		}
		if len(r.Embedding) != want {
			if dim > 0 {
				return errs.Invalidf("record %q: embedding has dimension %d, the collection expects %d", r.ID, len(r.Embedding), dim)
			}
			return errs.Invalidf("record %q: embedding has dimension %d, the first record of the batch has %d", r.ID, len(r.Embedding), want)
		}
		for j, x := range r.Embedding {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return errs.Invalidf("record %q: embedding[%d] is %v; embeddings must be finite", r.ID, j, x)
			}
		}
		m, err := NormalizeMetadata(r.Metadata)
		if err != nil {
			return fmt.Errorf("record %q: %w", r.ID, err)
		}
		r.Metadata = m
		if !utf8.ValidString(r.Document) {
			return errs.Invalidf("record %q: document is not valid UTF-8", r.ID)
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		return errs.Invalidf("duplicate ids in one batch: %s", quoteList(dups, 10))
	}
	return nil
}

func validateQuery(req *QueryRequest, dim int) error {
	if req.N <= 0 {
		return errs.Invalidf("n_results must be positive, got %d", req.N)
	}
	if len(req.Embedding) == 0 {
		return errs.Invalidf("query embedding is empty")
	}
	if dim > 0 && len(req.Embedding) != dim {
		return errs.Invalidf("query embedding has dimension %d, the collection expects %d", len(req.Embedding), dim)
	}
	for j, x := range req.Embedding {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return errs.Invalidf("query embedding[%d] is %v; embeddings must be finite", j, x)
		}
	}
	return nil
}

func validateGet(req *GetRequest) error {
	if req.Limit < 0 || req.Offset < 0 {
		return errs.Invalidf("limit and offset must not be negative")
	}
	for _, id := range req.IDs {
		if err := ValidateID(id); err != nil {
			return err
		}
	}
	return nil
}

func validateDelete(req *DeleteRequest) error {
	if req.IDs == nil && req.Where == nil && req.WhereDocument == nil {
		return errs.Invalidf("delete needs ids, where or where_document (use reset to delete everything)")
	}
	for _, id := range req.IDs {
		if err := ValidateID(id); err != nil {
			return err
		}
	}
	return nil
}

// uniqueIDs drops repeated ids, keeping first occurrences.
func uniqueIDs(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

func quoteList(ids []string, max int) string {
	var b strings.Builder
	for i, id := range ids {
		if i == max {
			fmt.Fprintf(&b, " ... (%d more)", len(ids)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", id)
	}
	return b.String()
}

// Distance computes the space's distance in float64, the exact reference the
// tests compare both stores against (the stores use float32 kernels).
func Distance(space Space, q, r []float32) float64 {
	var dot, qn, rn, l2 float64
	for i := range q {
		var ri float64
		if i < len(r) {
			ri = float64(r[i])
		}
		qi := float64(q[i])
		dot += qi * ri
		qn += qi * qi
		rn += ri * ri
		l2 += (qi - ri) * (qi - ri)
	}
	switch space {
	case L2:
		return l2
	case IP:
		return 1 - dot
	default:
		if qn == 0 || rn == 0 {
			return 1
		}
		return 1 - dot/(math.Sqrt(qn)*math.Sqrt(rn))
	}
}
