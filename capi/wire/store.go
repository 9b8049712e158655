package wire

import (
	"context"
	"errors"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
	"github.com/structure-net/structure-net-data/core/search"
)

// The raw record calls (snd_search_upsert, _query, _get, _delete) on one
// collection, in the shapes Chroma's Python client uses.

// Upsert answers snd_search_upsert: records {"ids", "metadatas", "documents"}
// with n×dim row-major vectors (copied by the store where it keeps them).
func Upsert(ctx context.Context, st search.Store, body []byte, vectors []float32, n, dim int) error {
	recs, err := decodeRecords(body, vectors, n, dim)
	if err != nil {
		return err
	}
	return st.Upsert(ctx, recs)
}

func decodeRecords(body []byte, vectors []float32, n, dim int) ([]search.Record, error) {
	r := parseRequest("records", body, "ids", "metadatas", "documents")
	ids, _ := r.strings("ids")
	metas := r.list("metadatas", n, "records: metadatas must be a list of %d dicts or nulls")
	docs := r.list("documents", n, "records: documents must be a list of %d strings or nulls")
	if r.err != nil {
		return nil, r.err
	}
	if len(ids) != n {
		return nil, errs.Invalidf("records: %d ids for %d vectors", len(ids), n)
	}
	if n > 0 && dim <= 0 {
		return nil, errs.Invalidf("records: embedding dimension must be positive, got %d", dim)
	}
	if len(vectors) != n*dim {
		return nil, errs.Invalidf("records: %d floats for %d vectors of dimension %d", len(vectors), n, dim)
	}
	recs := make([]search.Record, n)
	for i := range recs {
		recs[i] = search.Record{ID: ids[i], Embedding: vectors[i*dim : (i+1)*dim : (i+1)*dim]}
		if metas != nil && metas[i] != nil {
			m, ok := metas[i].(map[string]any)
			if !ok {
				return nil, errs.Invalidf("records: metadata of %q must be a dict, got %s", ids[i], jsonvalue.TypeName(metas[i]))
			}
			recs[i].Metadata = m
		}
		if docs != nil && docs[i] != nil {
			s, ok := docs[i].(string)
			if !ok {
				return nil, errs.Invalidf("records: document of %q must be a string, got %s", ids[i], jsonvalue.TypeName(docs[i]))
			}
			recs[i].Document = s
		}
	}
	return recs, nil
}

// list reads an optional list of exactly n entries; nil when absent or null.
func (r *request) list(key string, n int, wrongShape string) []any {
	v := r.field(key)
	if v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != n {
		r.err = errs.Invalidf(wrongShape, n)
		return nil
	}
	return arr
}

// Query answers snd_search_query: {"n_results", "where", "where_document",
// "include"} for one query vector, as {"ids", "distances", "metadatas"?,
// "documents"?, "embeddings"?}, nearest first.
func Query(ctx context.Context, st search.Store, vector []float32, body []byte) ([]byte, error) {
	req := parseRequest("query", body, "n_results", "where", "where_document", "include")
	q := search.QueryRequest{
		Embedding:     append([]float32(nil), vector...),
		N:             req.integer("n_results", 10),
		Where:         req.where(),
		WhereDocument: req.whereDocument(),
		Include:       req.include(search.IncludeMetadatas | search.IncludeDocuments),
	}
	if req.err != nil {
		return nil, req.err
	}
	hits, err := st.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	recs := make([]search.Record, len(hits))
	dists := make([]float32, len(hits))
	for i, hit := range hits {
		recs[i], dists[i] = hit.Record, hit.Distance
	}
	return encodeRecords(recs, dists, q.Include, nil)
}

// Get answers snd_search_get: {"ids", "where", "where_document", "limit",
// "offset", "include"}, as {"ids", "metadatas"?, "documents"?, "embeddings"?}.
func Get(ctx context.Context, st search.Store, body []byte) ([]byte, error) {
	req := parseRequest("get", body, "ids", "where", "where_document", "limit", "offset", "include")
	g := search.GetRequest{
		IDs:           req.ids(),
		Where:         req.where(),
		WhereDocument: req.whereDocument(),
		Limit:         req.integer("limit", 0),
		Offset:        req.integer("offset", 0),
		Include:       req.include(search.IncludeMetadatas | search.IncludeDocuments),
	}
	if req.err != nil {
		return nil, req.err
	}
	recs, err := st.Get(ctx, g)
	return encodeRecords(recs, nil, g.Include, err)
}

// Delete answers snd_search_delete: {"ids", "where", "where_document"}.
func Delete(ctx context.Context, st search.Store, body []byte) error {
	req := parseRequest("delete", body, "ids", "where", "where_document")
	d := search.DeleteRequest{IDs: req.ids(), Where: req.where(), WhereDocument: req.whereDocument()}
	if req.err != nil {
		return req.err
	}
	return st.Delete(ctx, d)
}

// ids reads "ids": nil when absent or null, empty when [].
func (r *request) ids() []string {
	list, ok := r.strings("ids")
	if !ok {
		return nil
	}
	return append([]string{}, list...)
}

// encodeRecords writes records the way Chroma's Python client returns them:
// {"ids", "metadatas", "documents", "embeddings", "distances"}, each list
// present only when included; or passes on the error of the call that got them.
func encodeRecords(recs []search.Record, dists []float32, inc search.Include, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	out := map[string]any{"ids": each(recs, func(r search.Record) any { return r.ID })}
	if inc&search.IncludeMetadatas != 0 {
		out["metadatas"] = each(recs, func(r search.Record) any {
			if r.Metadata == nil {
				return nil
			}
			return map[string]any(r.Metadata)
		})
	}
	if inc&search.IncludeDocuments != 0 {
		out["documents"] = each(recs, func(r search.Record) any {
			if r.Document == "" {
				return nil
			}
			return r.Document
		})
	}
	if inc&search.IncludeEmbeddings != 0 {
		out["embeddings"] = each(recs, func(r search.Record) any { return floats(r.Embedding) })
	}
	if dists != nil {
		out["distances"] = floats(dists)
	}
	return jsonvalue.Marshal(out)
}

// each is one JSON list: f of every element of xs.
func each[T any](xs []T, f func(T) any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// floats widens float32 values for jsonvalue, which writes float64s.
func floats(xs []float32) []any { return each(xs, func(x float32) any { return float64(x) }) }

// WriteReport is the report of a write a Chroma server failed part-way:
// {"written": [ids], "unconfirmed": [ids]}; ok is false for other errors.
func WriteReport(err error) (report []byte, ok bool, _ error) {
	var we *search.WriteError
	if !errors.As(err, &we) {
		return nil, false, nil
	}
	written, unconfirmed := we.Written, we.Unconfirmed
	if written == nil {
		written = []string{}
	}
	if unconfirmed == nil {
		unconfirmed = []string{}
	}
	b, err := marshal(map[string]any{"written": written, "unconfirmed": unconfirmed})
	return b, err == nil, err
}

// EmbedExperiment answers snd_search_embed_experiment: one experiment object.
func EmbedExperiment(body []byte, dim int) ([]float32, error) {
	exp, err := decodeObject(body, "experiment")
	if err != nil {
		return nil, err
	}
	return search.EmbedExperiment(exp, dim)
}

// EmbedArchitecture answers snd_search_embed_architecture: a list of widths,
// {"layers": [...]}, its JSON text, or null.
func EmbedArchitecture(body []byte, dim int) ([]float32, error) {
	v, err := decodeArgument(body, "architecture")
	if err != nil {
		return nil, err
	}
	a, err := search.ParseArchitecture(v)
	if err != nil {
		return nil, err
	}
	return search.EmbedArchitecture(a.Layers, dim)
}

// EmbedHypothesis answers snd_search_embed_hypothesis: {"name",
// "description", "question", "prediction"}.
func EmbedHypothesis(body []byte) ([]float32, error) {
	h, err := decodeObject(body, "hypothesis")
	if err != nil {
		return nil, err
	}
	return search.EmbedHypothesis(h), nil
}

// decodeArgument decodes a required JSON argument.
func decodeArgument(body []byte, what string) (any, error) {
	if len(body) == 0 {
		return nil, errs.Invalidf("%s JSON is empty", what)
	}
	return decodeValue(body)
}

// decodeObject decodes a required JSON object argument.
func decodeObject(body []byte, what string) (map[string]any, error) {
	v, err := decodeArgument(body, what)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errs.Invalidf("%s must be a JSON object", what)
	}
	return m, nil
}
