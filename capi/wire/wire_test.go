package wire_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/capi/wire"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

func openSearcher(t *testing.T) *search.Searcher {
	t.Helper()
	s, err := search.Open(context.Background(), search.Config{PersistDirectory: t.TempDir(), MaxNResults: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// indexed opens a searcher holding e0..e9: mnist for even i, cifar10 for odd;
// accuracy 0.5+i/20; widths [784, 32+16i, 10]; hypothesis h<i%2>.
func indexed(t *testing.T) *search.Searcher {
	t.Helper()
	s := openSearcher(t)
	var items []string
	for i := 0; i < 10; i++ {
		items = append(items, fmt.Sprintf(`{"id": "e%d", "data": {"zeta": 1, "architecture": [784, %d, 10], "final_performance": {"accuracy": %g}, "config": {"dataset": %q}, "hypothesis_id": "h%d"}, "metadata": {"tag": "t%d"}}`,
			i, 32+16*i, 0.5+float64(i)/20, []string{"mnist", "cifar10"}[i%2], i%2, i))
	}
	if err := wire.Index(context.Background(), s, []byte("["+strings.Join(items, ",")+"]")); err != nil {
		t.Fatal(err)
	}
	return s
}

type result struct {
	ID              string         `json:"id"`
	SimilarityScore *float64       `json:"similarity_score"`
	Distance        *float64       `json:"distance"`
	Metadata        map[string]any `json:"metadata"`
	Description     string         `json:"description"`
	Accuracy        any            `json:"accuracy"`
	Dataset         any            `json:"dataset"`
	HypothesisID    any            `json:"hypothesis_id"`
}

func decodeResults(t *testing.T, b []byte) []result {
	t.Helper()
	var rs []result
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return rs
}

func ids(rs []result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func wantInvalid(t *testing.T, err error, substr string) {
	t.Helper()
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), substr) {
		t.Fatalf("want an invalid-argument error mentioning %q, got %v", substr, err)
	}
}

func TestSearchRequests(t *testing.T) {
	s := indexed(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		call    func(context.Context, *search.Searcher, []byte) ([]byte, error)
		request string
		want    []string // nil: only check count and every
		scored  bool
		count   int
		every   func(result) bool
	}{
		{"similar", wire.Similar, `{"query": {"architecture": [784, 96, 10], "final_performance": {"accuracy": 0.7}, "config": {"dataset": "mnist"}}, "n_results": 1}`, []string{"e4"}, true, 0, nil},
		{"similar filtered", wire.Similar, `{"query": {"architecture": [784, 112, 10], "final_performance": {"accuracy": 0.75}, "config": {"dataset": "cifar10"}}, "n_results": 1, "where": {"hypothesis_id": "h1"}}`, []string{"e5"}, true, 0, nil},
		{"similar filter excludes the nearest", wire.Similar, `{"query": {"architecture": [784, 112, 10], "final_performance": {"accuracy": 0.75}, "config": {"dataset": "cifar10"}}, "n_results": 10, "where": {"accuracy": {"$ne": 0.75}}}`, nil, true,
			9, func(r result) bool { return r.ID != "e5" }},
		{"similar by document", wire.Similar, `{"query": {}, "n_results": 10, "where_document": {"$contains": "\"h1\""}}`, nil, true,
			5, func(r result) bool { return r.HypothesisID == "h1" }},
		{"architecture list", wire.ByArchitecture, `{"architecture": [784, 80, 10], "n_results": 1}`, []string{"e3"}, true, 0, nil},
		{"architecture dict", wire.ByArchitecture, `{"architecture": {"layers": [784, 80, 10]}, "n_results": 1}`, []string{"e3"}, true, 0, nil},
		{"architecture text", wire.ByArchitecture, `{"architecture": "[784, 80, 10]", "n_results": 1, "where": {"hypothesis_id": "h1"}}`, []string{"e3"}, true, 0, nil},
		{"architecture integral floats", wire.ByArchitecture, `{"architecture": [784.0, 80.0, 10.0], "n_results": 1}`, []string{"e3"}, true, 0, nil},
		{"performance", wire.ByPerformance, `{"min_accuracy": 0.7, "dataset": "cifar10", "n_results": 2}`, []string{"e9", "e7"}, false, 0, nil},
		{"performance bounds only", wire.ByPerformance, `{"min_accuracy": 0.8, "max_parameters": null}`, []string{"e9", "e8", "e7", "e6"}, false, 0, nil},
		{"performance zero is a bound", wire.ByPerformance, `{"max_parameters": 0}`, []string{}, false, 0, nil},
		{"performance n_results 0 is every match", wire.ByPerformance, `{"dataset": "mnist", "n_results": 0}`, []string{"e8", "e6", "e4", "e2", "e0"}, false, 0, nil},
		{"hypothesis", wire.ByHypothesis, `{"hypothesis_id": "h1", "n_results": 2}`, []string{"e9", "e7"}, false, 0, nil},
		{"hypothesis all", wire.ByHypothesis, `{"hypothesis_id": "h0", "n_results": null}`, []string{"e8", "e6", "e4", "e2", "e0"}, false, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.call(ctx, s, []byte(c.request))
			if err != nil {
				t.Fatal(err)
			}
			rs := decodeResults(t, b)
			if c.want != nil && !slices.Equal(ids(rs), c.want) {
				t.Fatalf("ids %v, want %v", ids(rs), c.want)
			}
			if c.want == nil && (len(rs) != c.count || slices.ContainsFunc(rs, func(r result) bool { return !c.every(r) })) {
				t.Fatalf("filtered: %v, want %d that all pass", ids(rs), c.count)
			}
			for _, r := range rs {
				if (r.SimilarityScore != nil) != c.scored || (r.Distance != nil) != c.scored {
					t.Fatalf("%s: similarity_score %v, distance %v; scored %v", r.ID, r.SimilarityScore, r.Distance, c.scored)
				}
				if c.scored && *r.SimilarityScore != 1-*r.Distance {
					t.Fatalf("%s: similarity %v is not 1 - distance %v", r.ID, *r.SimilarityScore, *r.Distance)
				}
				if r.Accuracy != r.Metadata["accuracy"] || r.Dataset != r.Metadata["dataset"] || r.Metadata["tag"] != "t"+r.ID[1:] {
					t.Fatalf("%s: top-level fields differ from the metadata: %+v", r.ID, r)
				}
				if !strings.HasPrefix(r.Description, "Experiment "+r.ID+" | ") {
					t.Fatalf("description %q", r.Description)
				}
			}
		})
	}
}

func TestResultsKeepFloatsFloats(t *testing.T) {
	s := openSearcher(t)
	ctx := context.Background()
	err := wire.Index(ctx, s, []byte(`[{"id": "a", "data": {"final_performance": {"accuracy": 1.0}, "config": {"epochs": 3, "lr": 2.0}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.ByPerformance(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"accuracy":1.0`, `"config.lr":2.0`, `"epochs":3,`, `"similarity_score":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s does not contain %s", b, want)
		}
	}
}

func TestBadRequests(t *testing.T) {
	s := indexed(t)
	ctx := context.Background()
	type call = func(context.Context, *search.Searcher, []byte) ([]byte, error)
	cases := []struct {
		name    string
		call    call
		request string
		msg     string
	}{
		{"unknown field", wire.Similar, `{"query": {}, "n_result": 3}`, `unknown field "n_result" (expected one of n_results, query, where, where_document)`},
		{"not an object", wire.ByPerformance, `[1]`, "expected a JSON object, got list"},
		{"invalid JSON", wire.ByHypothesis, `{"hypothesis_id": }`, "invalid JSON at offset"},
		{"query not a dict", wire.Similar, `{"query": [1]}`, "query must be a dict, got list"},
		{"fractional n_results", wire.Similar, `{"n_results": 2.5}`, "n_results must be an integer, got float 2.5"},
		{"zero n_results", wire.Similar, `{"n_results": 0}`, "n_results must be positive, got 0"},
		{"n_results over the cap", wire.ByArchitecture, `{"architecture": [1, 2], "n_results": 101}`, "exceeds max_n_results 100"},
		{"bad where", wire.Similar, `{"where": {"x": {"$foo": 1}}}`, `unknown operator "$foo"`},
		{"bad where_document", wire.Similar, `{"where_document": {"$regex": "a"}}`, `unknown operator "$regex"`},
		{"no layers", wire.ByArchitecture, `{"architecture": []}`, "no layers"},
		{"fractional layer", wire.ByArchitecture, `{"architecture": [784, 1.5]}`, "layer 1 must be a whole number"},
		{"non-numeric layer", wire.ByArchitecture, `{"architecture": [784, "conv"]}`, "layer 1 must be a number"},
		{"where_document on architectures", wire.ByArchitecture, `{"architecture": [1, 2], "where_document": {"$contains": "x"}}`, `unknown field "where_document"`},
		{"accuracy not a number", wire.ByPerformance, `{"min_accuracy": "high"}`, "min_accuracy must be a number, got string"},
		{"dataset not a string", wire.ByPerformance, `{"dataset": 10}`, "dataset must be a string, got int"},
		{"hypothesis missing", wire.ByHypothesis, `{}`, "hypothesis_id is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.call(ctx, s, []byte(c.request))
			wantInvalid(t, err, c.msg)
		})
	}
}

func TestIndexItems(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, items, msg string
	}{
		{"not a list", `{"id": "a"}`, "experiments must be a JSON list of {id, data, metadata}"},
		{"empty text", ``, "experiments must be a JSON list"},
		{"item not an object", `[["a"]]`, "experiment 0 must be an object {id, data, metadata}"},
		{"unknown field", `[{"id": "a", "data": {}, "extra": 1}]`, `experiment 0: unknown field "extra" (expected id, data, metadata)`},
		{"no id", `[{"id": "a", "data": {}}, {"data": {}}]`, "experiment 1 has no id"},
		{"id not a string", `[{"id": 7, "data": {}}]`, "experiment 0: id must be a string, got int"},
		{"no data", `[{"id": "a"}]`, `experiment "a" has no data`},
		{"data not an object", `[{"id": "a", "data": [1, 2]}]`, `experiment "a": data must be a JSON object, got list`},
		{"data null", `[{"id": "a", "data": null}]`, `experiment "a": data must be a JSON object, got null`},
		{"data scalar last", `[{"id": "a", "data": 5}]`, `experiment "a": data must be a JSON object, got int`},
		{"metadata not a dict", `[{"id": "a", "data": {}, "metadata": "x"}]`, "experiment 0: additional metadata must be a dict, got string"},
		{"broken data", `[{"id": "a", "data": {"x": tru}}]`, `experiment "a": invalid JSON`},
		{"empty id", `[{"id": "", "data": {}}]`, "experiment 0: record ids must not be empty"},
		{"bad layer", `[{"id": "a", "data": {"architecture": [784, "conv"]}}]`, `experiment "a": architecture layer 1 must be a number`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openSearcher(t)
			wantInvalid(t, wire.Index(ctx, s, []byte(c.items)), c.msg)
			if n, _ := s.Count(ctx); n != 0 {
				t.Fatalf("a rejected batch wrote %d experiments", n)
			}
		})
	}
	s := openSearcher(t)
	if err := wire.Index(ctx, s, []byte(` [ ] `)); err != nil {
		t.Fatalf("empty list: %v", err)
	}
}

func TestGetExperimentReturnsTheTextAsIndexed(t *testing.T) {
	s := openSearcher(t)
	ctx := context.Background()
	data := `{"zeta":1,"alpha":{"b":2.0,"a":[1,2]},"final_performance":{"accuracy":0.5}}`
	if err := wire.Index(ctx, s, []byte(`[{"id": "k\"1", "data": `+data+`, "metadata": null}]`)); err != nil {
		t.Fatal(err)
	}
	b, err := wire.GetExperiment(ctx, s, `k"1`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"k\"1","experiment":` + data + `,"metadata":{`
	if !strings.HasPrefix(string(b), want) || !json.Valid(b) {
		t.Fatalf("got %s, want the prefix %s", b, want)
	}
	if _, err := wire.GetExperiment(ctx, s, "missing"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("missing id: %v", err)
	}
	// A text document written by another client comes back as a JSON string.
	if err := s.Experiments().Upsert(ctx, []search.Record{{ID: "plain", Embedding: make([]float32, 384), Document: "not json"}}); err != nil {
		t.Fatal(err)
	}
	b, err = wire.GetExperiment(ctx, s, "plain")
	if err != nil || !strings.Contains(string(b), `"experiment":"not json"`) {
		t.Fatalf("%s %v", b, err)
	}
	if err := wire.DeleteExperiments(ctx, s, []byte(`["k\"1", "nope"]`)); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, wire.DeleteExperiments(ctx, s, []byte(`"k"`)), "ids must be a JSON list of strings")
	if n, _ := s.Count(ctx); n != 1 {
		t.Fatalf("count %d after delete", n)
	}
}

func TestStoreRequests(t *testing.T) {
	s := openSearcher(t)
	st := s.Experiments()
	ctx := context.Background()
	vecs := []float32{1, 0, 0, 0, 1, 0, 0.5, 0.5, 0}
	err := wire.Upsert(ctx, st, []byte(`{"ids": ["a", "b", "c"], "metadatas": [{"k": 1}, null, {"k": 2.0}], "documents": ["doc a", null, "doc c"]}`), vecs, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	vecs[0] = 9 // the store kept its own copy
	b, err := wire.Query(ctx, st, []float32{1, 0, 0}, []byte(`{"n_results": 2, "include": ["metadatas", "documents", "embeddings", "distances"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"distances":[0.0,0.2928932309150696],"documents":["doc a","doc c"],"embeddings":[[1.0,0.0,0.0],[0.5,0.5,0.0]],"ids":["a","c"],"metadatas":[{"k":1},{"k":2.0}]}`
	if string(b) != want {
		t.Fatalf("query:\n got %s\nwant %s", b, want)
	}
	b, err = wire.Get(ctx, st, []byte(`{"ids": ["c", "x", "b"]}`))
	if err != nil || string(b) != `{"documents":["doc c",null],"ids":["c","b"],"metadatas":[{"k":2.0},null]}` {
		t.Fatalf("get: %s %v", b, err)
	}
	b, err = wire.Get(ctx, st, []byte(`{"where": {"k": {"$gte": 1}}, "include": [], "limit": 1, "offset": 1}`))
	if err != nil || (string(b) != `{"ids":["c"]}` && string(b) != `{"ids":["a"]}`) {
		t.Fatalf("get page: %s %v", b, err)
	}
	if err := wire.Delete(ctx, st, []byte(`{"where_document": {"$contains": "doc"}}`)); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != 1 {
		t.Fatalf("count %d after delete", n)
	}
	bad := []struct {
		name string
		err  error
		msg  string
	}{
		{"ids for vectors", wire.Upsert(ctx, st, []byte(`{"ids": ["a"]}`), vecs, 3, 3), "records: 1 ids for 3 vectors"},
		{"metadatas length", wire.Upsert(ctx, st, []byte(`{"ids": ["a"], "metadatas": []}`), vecs[:3], 1, 3), "metadatas must be a list of 1 dicts or nulls"},
		{"document type", wire.Upsert(ctx, st, []byte(`{"ids": ["a"], "documents": [3]}`), vecs[:3], 1, 3), `document of "a" must be a string, got int`},
		{"include", func() error { _, err := wire.Get(ctx, st, []byte(`{"include": ["vectors"]}`)); return err }(), `unknown include "vectors"`},
		{"ids type", func() error { _, err := wire.Get(ctx, st, []byte(`{"ids": [1]}`)); return err }(), "ids[0] must be a string, got int"},
		{"delete selector", wire.Delete(ctx, st, []byte(`{}`)), "delete needs ids, where or where_document"},
		{"query field", func() error { _, err := wire.Query(ctx, st, []float32{1, 0, 0}, []byte(`{"limit": 1}`)); return err }(), `unknown field "limit"`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) { wantInvalid(t, c.err, c.msg) })
	}
}

func TestEmbedArguments(t *testing.T) {
	v, err := wire.EmbedArchitecture([]byte(`{"layers": [784, 256, 128, 10]}`), 128)
	if err != nil || len(v) != 128 || v[0] == 0 {
		t.Fatalf("%v %v", v[:4], err)
	}
	w, err := wire.EmbedArchitecture([]byte(`"[784, 256, 128, 10]"`), 128)
	if err != nil || !slices.Equal(v, w) {
		t.Fatalf("the JSON text form embeds differently: %v", err)
	}
	if z, err := wire.EmbedArchitecture([]byte(`null`), 8); err != nil || slices.ContainsFunc(z, func(x float32) bool { return x != 0 }) {
		t.Fatalf("null: %v %v", z, err)
	}
	if _, err := wire.EmbedExperiment([]byte(`{"architecture": [784, 10]}`), 384); err != nil {
		t.Fatal(err)
	}
	h, err := wire.EmbedHypothesis([]byte(`{"name": "n", "description": "d"}`))
	if err != nil || len(h) != search.HypothesisDim {
		t.Fatalf("%d %v", len(h), err)
	}
	_, err = wire.EmbedExperiment(nil, 384)
	wantInvalid(t, err, "experiment JSON is empty")
	_, err = wire.EmbedExperiment([]byte(`[1]`), 384)
	wantInvalid(t, err, "experiment must be a JSON object")
	_, err = wire.EmbedHypothesis([]byte(`"x"`))
	wantInvalid(t, err, "hypothesis must be a JSON object")
	_, err = wire.EmbedArchitecture([]byte(`{"layers": 3}`), 8)
	wantInvalid(t, err, "layers must be a list of widths")
}

func TestConfigAndInfo(t *testing.T) {
	cfg, err := wire.Config([]byte(`{"persist_directory": "` + t.TempDir() + `", "collection_name": "wire_test", "auth_token": "secret", "max_n_results": 5}`))
	if err != nil || cfg.CollectionName != "wire_test" || cfg.MaxNResults != 5 {
		t.Fatalf("%+v %v", cfg, err)
	}
	_, err = wire.Config([]byte(`{"colection_name": "x"}`))
	wantInvalid(t, err, `unknown field "colection_name"`)
	if c, err := wire.Config(nil); err != nil || c.CollectionName != "" {
		t.Fatalf("empty config: %+v %v", c, err)
	}
	s, err := search.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := wire.Info(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if info["backend"] != "embedded" || info["space"] != "cosine" || info["dimension"] != 0.0 || strings.Contains(string(b), "secret") {
		t.Fatalf("info %s", b)
	}
}

func TestWriteReport(t *testing.T) {
	report, ok, err := wire.WriteReport(&search.WriteError{Written: []string{"a"}, Cause: errs.Unavailablef("gone")})
	if err != nil || !ok || string(report) != `{"unconfirmed":[],"written":["a"]}` {
		t.Fatalf("%s %v %v", report, ok, err)
	}
	if _, ok, _ := wire.WriteReport(errs.Invalidf("x")); ok {
		t.Fatal("a plain error has no report")
	}
}
