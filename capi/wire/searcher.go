package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"math"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
	"github.com/structure-net/structure-net-data/core/search"
	"github.com/structure-net/structure-net-data/internal/parallel"
)

// The JSON readers wire uses; variables so that the end-to-end benchmark can
// put encoding/json in their place.
var (
	decodeValue    = jsonvalue.Decode
	decodeElements = jsonvalue.Elements
	decodeMembers  = jsonvalue.Members
)

// Config decodes snd_search_open's config object; empty text is the default
// config and unknown fields are an error.
func Config(b []byte) (search.Config, error) {
	var cfg search.Config
	if len(bytes.TrimSpace(b)) == 0 {
		return cfg, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, errs.Invalidf("search config: %v", err)
	}
	return cfg, nil
}

// Info answers snd_search_info: {"config", "backend", "space", "dimension",
// "server_version"?}, secrets left out.
func Info(ctx context.Context, s *search.Searcher) ([]byte, error) {
	dim, err := s.Experiments().Dimension(ctx)
	if err != nil {
		return nil, err
	}
	cfg := s.Config()
	cfg.AuthToken = "" // never echo secrets
	cfg.Headers = nil
	info := map[string]any{"config": cfg, "backend": s.Experiments().Backend(), "space": s.Experiments().Space(), "dimension": dim}
	if v, ok := s.Experiments().(interface{ Version() string }); ok {
		info["server_version"] = v.Version()
	}
	return marshal(info)
}

// Index answers snd_search_index: [{"id", "data", "metadata"}, ...].
func Index(ctx context.Context, s *search.Searcher, body []byte) error {
	items, err := decodeItems(body)
	if err != nil {
		return err
	}
	return s.Index(ctx, items)
}

// decodeItems decodes the experiment list. Decoding the experiments is most
// of the work of indexing, so they are decoded on every core; each keeps its
// text, which becomes the stored document.
func decodeItems(b []byte) ([]search.Item, error) {
	elems, err := decodeElements(b)
	if err != nil {
		if len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '[' {
			return nil, errs.Invalidf("experiments must be a JSON list of {id, data, metadata}")
		}
		return nil, errs.Invalidf("experiments: %w", err)
	}
	items := make([]search.Item, len(elems))
	failures := make([]error, len(elems))
	parallel.For(len(elems), 256, func(i int) { items[i], failures[i] = decodeItem(i, elems[i]) })
	for _, err := range failures {
		if err != nil {
			return nil, err
		}
	}
	return items, nil
}

func decodeItem(n int, b []byte) (search.Item, error) {
	var it search.Item
	members, err := decodeMembers(b)
	if err != nil {
		if bytes.TrimSpace(b)[0] != '{' {
			return it, errs.Invalidf("experiment %d must be an object {id, data, metadata}", n)
		}
		return it, errs.Invalidf("experiment %d: %w", n, err)
	}
	for key := range members {
		if key != "id" && key != "data" && key != "metadata" {
			return it, errs.Invalidf("experiment %d: unknown field %q (expected id, data, metadata)", n, key)
		}
	}
	rawID, ok := members["id"]
	if !ok {
		return it, errs.Invalidf("experiment %d has no id", n)
	}
	id, err := decodeValue(rawID)
	if err != nil {
		return it, errs.Invalidf("experiment %d: %w", n, err)
	}
	if it.ID, ok = id.(string); !ok {
		return it, errs.Invalidf("experiment %d: id must be a string, got %s", n, jsonvalue.TypeName(id))
	}
	if raw, ok := members["metadata"]; ok {
		meta, err := decodeValue(raw)
		if err != nil {
			return it, errs.Invalidf("experiment %d: %w", n, err)
		}
		if meta != nil {
			if it.Metadata, ok = meta.(map[string]any); !ok {
				return it, errs.Invalidf("experiment %d: additional metadata must be a dict, got %s", n, jsonvalue.TypeName(meta))
			}
		}
	}
	raw, ok := members["data"]
	if !ok {
		return it, errs.Invalidf("experiment %q has no data", it.ID)
	}
	data, err := decodeValue(raw)
	if err != nil {
		return it, errs.Invalidf("experiment %q: %w", it.ID, err)
	}
	if it.Experiment, ok = data.(map[string]any); !ok {
		return it, errs.Invalidf("experiment %q: data must be a JSON object, got %s", it.ID, jsonvalue.TypeName(data))
	}
	it.Document = string(raw) // as received (Python sends it compact)
	return it, nil
}

// Similar answers snd_search_similar: {"query", "n_results", "where", "where_document"}.
func Similar(ctx context.Context, s *search.Searcher, body []byte) ([]byte, error) {
	req := parseRequest("search_similar_experiments", body, "query", "n_results", "where", "where_document")
	query := req.object("query")
	opts := []search.Option{search.Limit(req.integer("n_results", 10)), search.Where(req.where()), search.WhereDocument(req.whereDocument())}
	if req.err != nil {
		return nil, req.err
	}
	return results(s.SimilarExperiments(ctx, query, opts...))
}

// ByArchitecture answers snd_search_by_architecture: {"architecture", "n_results", "where"}.
func ByArchitecture(ctx context.Context, s *search.Searcher, body []byte) ([]byte, error) {
	req := parseRequest("search_by_architecture", body, "architecture", "n_results", "where")
	opts := []search.Option{search.Limit(req.integer("n_results", 10)), search.Where(req.where())}
	if req.err != nil {
		return nil, req.err
	}
	arch, err := search.ParseArchitecture(req.fields["architecture"])
	if err != nil {
		return nil, err
	}
	layers := make([]int, len(arch.Layers))
	for i, w := range arch.Layers {
		if w != math.Trunc(w) || math.Abs(w) > 1<<53 {
			return nil, errs.Invalidf("search_by_architecture: layer %d must be a whole number of units, got %v", i, w)
		}
		layers[i] = int(w)
	}
	return results(s.ByArchitecture(ctx, layers, opts...))
}

// ByPerformance answers snd_search_by_performance: {"min_accuracy",
// "max_parameters", "dataset", "n_results"}, each optional; without
// n_results (or with n_results <= 0) every match is returned.
func ByPerformance(ctx context.Context, s *search.Searcher, body []byte) ([]byte, error) {
	req := parseRequest("search_by_performance", body, "min_accuracy", "max_parameters", "dataset", "n_results")
	var opts []search.Option
	if acc, ok := req.number("min_accuracy"); ok {
		opts = append(opts, search.MinAccuracy(acc))
	}
	if params, ok := req.number("max_parameters"); ok {
		opts = append(opts, search.MaxParameters(params))
	}
	if dataset, ok := req.str("dataset"); ok {
		opts = append(opts, search.Dataset(dataset))
	}
	opts = append(opts, req.allOrLimit()...)
	if req.err != nil {
		return nil, req.err
	}
	return results(s.ByPerformance(ctx, opts...))
}

// ByHypothesis answers snd_search_by_hypothesis: {"hypothesis_id", "n_results"}.
func ByHypothesis(ctx context.Context, s *search.Searcher, body []byte) ([]byte, error) {
	req := parseRequest("search_by_hypothesis", body, "hypothesis_id", "n_results")
	hid, ok := req.str("hypothesis_id")
	if !ok && req.err == nil {
		req.err = errs.Invalidf("search_by_hypothesis: hypothesis_id is required")
	}
	limit := req.allOrLimit()
	if req.err != nil {
		return nil, req.err
	}
	return results(s.ByHypothesis(ctx, hid, limit...))
}

// allOrLimit reads "n_results" for the searches that return every match
// unless it is given and positive.
func (r *request) allOrLimit() []search.Option {
	if n := r.integer("n_results", 0); n > 0 {
		return []search.Option{search.Limit(n)}
	}
	return nil
}

// GetExperiment answers snd_search_get_experiment: {"id", "experiment", "metadata"}.
func GetExperiment(ctx context.Context, s *search.Searcher, id string) ([]byte, error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	doc := []byte(e.Document)
	if !json.Valid(doc) {
		// Indexed by another client with a text document: return it as a string.
		if doc, err = marshal(e.Document); err != nil {
			return nil, err
		}
	}
	meta, err := marshal(e.Metadata)
	if err != nil {
		return nil, err
	}
	idText, err := marshal(e.ID)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(doc)+len(meta)+len(idText)+40)
	out = append(out, `{"id":`...)
	out = append(out, idText...)
	out = append(out, `,"experiment":`...)
	out = append(out, doc...)
	out = append(out, `,"metadata":`...)
	out = append(out, meta...)
	return append(out, '}'), nil
}

// DeleteExperiments answers snd_search_delete_experiments: a list of ids.
func DeleteExperiments(ctx context.Context, s *search.Searcher, body []byte) error {
	var ids []string
	if err := json.Unmarshal(body, &ids); err != nil {
		return errs.Invalidf("ids must be a JSON list of strings: %v", err)
	}
	return s.Delete(ctx, ids)
}

// results encodes search results, floats kept as floats:
// [{"id", "similarity_score", "distance", "metadata", "description",
// "accuracy", "parameters", "dataset", "architecture", "hypothesis_id"}].
func results(rs []search.Result, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	list := make([]any, len(rs))
	for i, r := range rs {
		m := map[string]any{
			"id":               r.ID,
			"metadata":         map[string]any(r.Metadata),
			"description":      r.Description,
			"similarity_score": nil,
			"distance":         nil,
		}
		for _, k := range []string{"accuracy", "parameters", "dataset", "architecture", "hypothesis_id"} {
			m[k] = r.Metadata[k]
		}
		if r.Scored {
			m["similarity_score"], m["distance"] = r.Similarity, r.Distance
		}
		list[i] = m
	}
	return jsonvalue.Marshal(list)
}

// marshal encodes v with encoding/json (Metadata with its own MarshalJSON).
func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errs.Invalidf("encode %T: %w", v, err)
	}
	return b, nil
}
