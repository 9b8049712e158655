package search

import (
	"encoding/json"
	"math"
	"sort"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Request is a JSON request object as the C API receives it, decoded with
// ints and floats kept apart (DecodeJSON) so filters compare exactly.
type Request struct {
	what string
	m    map[string]any
}

// ParseRequest decodes a JSON object ("" or "null" is an empty request) and
// rejects keys outside allowed, so a misspelled option is an error.
func ParseRequest(what string, b []byte, allowed ...string) (Request, error) {
	r := Request{what: what, m: map[string]any{}}
	s := strings.TrimSpace(string(b))
	if s == "" || s == "null" {
		return r, nil
	}
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		return r, errs.Invalidf("%s: %v", what, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return r, errs.Invalidf("%s: expected a JSON object, got %s", what, typeName(v))
	}
	for k := range m {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			sort.Strings(allowed)
			return r, errs.Invalidf("%s: unknown field %q (expected one of %s)", what, k, strings.Join(allowed, ", "))
		}
	}
	r.m = m
	return r, nil
}

// Value returns a field (nil when absent or null).
func (r Request) Value(key string) any { return r.m[key] }

// Object returns an object field; absent or null gives an empty object.
func (r Request) Object(key string) (map[string]any, error) {
	switch t := r.m[key].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return t, nil
	default:
		return nil, errs.Invalidf("%s: %s must be a dict, got %s", r.what, key, typeName(t))
	}
}

// Where parses the "where" field.
func (r Request) Where(key string) (*Filter, error) { return ParseWhere(r.m[key]) }

// WhereDocument parses the "where_document" field.
func (r Request) WhereDocument() (*DocFilter, error) {
	return ParseWhereDocument(r.m["where_document"])
}

// Int reads an integer field; absent or null gives def.
func (r Request) Int(key string, def int) (int, error) {
	switch t := r.m[key].(type) {
	case nil:
		return def, nil
	case int64:
		return int(t), nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int(t), nil
		}
	}
	return 0, errs.Invalidf("%s: %s must be an integer, got %s %s", r.what, key, typeName(r.m[key]), PyJSON(r.m[key]))
}

// OptFloat reads a number field; absent or null gives nil.
func (r Request) OptFloat(key string) (*float64, error) {
	v := r.m[key]
	if v == nil {
		return nil, nil
	}
	f, ok := number(v)
	if !ok {
		return nil, errs.Invalidf("%s: %s must be a number, got %s", r.what, key, typeName(v))
	}
	return &f, nil
}

// OptString reads a string field; absent or null gives nil.
func (r Request) OptString(key string) (*string, error) {
	v := r.m[key]
	if v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, errs.Invalidf("%s: %s must be a string, got %s", r.what, key, typeName(v))
	}
	return &s, nil
}

// Strings reads a list of strings; ok is false when absent or null.
func (r Request) Strings(key string) (list []string, ok bool, err error) {
	v := r.m[key]
	if v == nil {
		return nil, false, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, false, errs.Invalidf("%s: %s must be a list of strings, got %s", r.what, key, typeName(v))
	}
	list = make([]string, len(arr))
	for i, e := range arr {
		s, isS := e.(string)
		if !isS {
			return nil, false, errs.Invalidf("%s: %s[%d] must be a string, got %s", r.what, key, i, typeName(e))
		}
		list[i] = s
	}
	return list, true, nil
}

// Include reads the "include" list (metadatas, documents, embeddings).
func (r Request) Include(def Include) (Include, error) {
	list, ok, err := r.Strings("include")
	if err != nil || !ok {
		return def, err
	}
	var inc Include
	for _, s := range list {
		switch s {
		case "metadatas":
			inc |= IncludeMetadatas
		case "documents":
			inc |= IncludeDocuments
		case "embeddings":
			inc |= IncludeEmbeddings
		case "distances":
		default:
			return 0, errs.Invalidf("%s: unknown include %q (expected metadatas, documents, embeddings, distances)", r.what, s)
		}
	}
	return inc, nil
}

// RecordsFromJSON builds records from {"ids", "metadatas", "documents"} and
// n×dim row-major vectors.
func RecordsFromJSON(b []byte, vectors []float32, n, dim int) ([]Record, error) {
	r, err := ParseRequest("records", b, "ids", "metadatas", "documents")
	if err != nil {
		return nil, err
	}
	ids, _, err := r.Strings("ids")
	if err != nil {
		return nil, err
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
	var metas []any
	if v := r.Value("metadatas"); v != nil {
		arr, ok := v.([]any)
		if !ok || len(arr) != n {
			return nil, errs.Invalidf("records: metadatas must be a list of %d dicts or nulls", n)
		}
		metas = arr
	}
	var docs []any
	if v := r.Value("documents"); v != nil {
		arr, ok := v.([]any)
		if !ok || len(arr) != n {
			return nil, errs.Invalidf("records: documents must be a list of %d strings or nulls", n)
		}
		docs = arr
	}
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{ID: ids[i], Embedding: vectors[i*dim : (i+1)*dim : (i+1)*dim]}
		if metas != nil && metas[i] != nil {
			m, ok := metas[i].(map[string]any)
			if !ok {
				return nil, errs.Invalidf("records: metadata of %q must be a dict, got %s", ids[i], typeName(metas[i]))
			}
			recs[i].Metadata = m
		}
		if docs != nil && docs[i] != nil {
			s, ok := docs[i].(string)
			if !ok {
				return nil, errs.Invalidf("records: document of %q must be a string, got %s", ids[i], typeName(docs[i]))
			}
			recs[i].Document = s
		}
	}
	return recs, nil
}

// RecordsJSON encodes records the way Chroma's Python client returns them:
// {"ids", "metadatas", "documents", "embeddings", "distances"}, each list
// present only when included.
func RecordsJSON(recs []Record, dists []float32, inc Include) ([]byte, error) {
	ids := make([]any, len(recs))
	var metas, docs, embs, ds []any
	for i, r := range recs {
		ids[i] = r.ID
		if inc&IncludeMetadatas != 0 {
			if r.Metadata == nil {
				metas = append(metas, nil)
			} else {
				metas = append(metas, map[string]any(r.Metadata))
			}
		}
		if inc&IncludeDocuments != 0 {
			if r.Document == "" {
				docs = append(docs, nil)
			} else {
				docs = append(docs, r.Document)
			}
		}
		if inc&IncludeEmbeddings != 0 {
			e := make([]any, len(r.Embedding))
			for j, x := range r.Embedding {
				e[j] = float64(x)
			}
			embs = append(embs, e)
		}
	}
	for _, d := range dists {
		ds = append(ds, float64(d))
	}
	out := map[string]any{"ids": ids}
	if inc&IncludeMetadatas != 0 {
		out["metadatas"] = orEmpty(metas)
	}
	if inc&IncludeDocuments != 0 {
		out["documents"] = orEmpty(docs)
	}
	if inc&IncludeEmbeddings != 0 {
		out["embeddings"] = orEmpty(embs)
	}
	if dists != nil {
		out["distances"] = orEmpty(ds)
	}
	return marshalTyped(out)
}

func orEmpty(xs []any) []any {
	if xs == nil {
		return []any{}
	}
	return xs
}

// ResultsJSON encodes search results with floats kept as floats.
func ResultsJSON(rs []Result) ([]byte, error) {
	list := make([]any, len(rs))
	for i, r := range rs {
		m := map[string]any{
			"id":            r.ID,
			"metadata":      map[string]any(r.Metadata),
			"description":   r.Description,
			"accuracy":      r.Accuracy,
			"parameters":    r.Parameters,
			"dataset":       r.Dataset,
			"architecture":  r.Architecture,
			"hypothesis_id": r.HypothesisID,
		}
		m["similarity_score"], m["distance"] = nil, nil
		if r.SimilarityScore != nil {
			m["similarity_score"] = *r.SimilarityScore
			m["distance"] = *r.Distance
		}
		list[i] = m
	}
	return marshalTyped(list)
}

// ExperimentJSON encodes a stored experiment: {"id", "experiment", "metadata"}.
func ExperimentJSON(e *Experiment) ([]byte, error) {
	meta, err := marshalTyped(map[string]any(e.Metadata))
	if err != nil {
		return nil, err
	}
	id, _ := json.Marshal(e.ID)
	out := make([]byte, 0, len(e.Experiment)+len(meta)+len(id)+40)
	out = append(out, `{"id":`...)
	out = append(out, id...)
	out = append(out, `,"experiment":`...)
	out = append(out, e.Experiment...)
	out = append(out, `,"metadata":`...)
	out = append(out, meta...)
	return append(out, '}'), nil
}
