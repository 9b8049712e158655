package dataset_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
	"github.com/structure-net/structure-net-data/core/search"
)

// ---- helpers ----

func searchDecode(t testing.TB, s string) any {
	t.Helper()
	v, err := jsonvalue.Decode([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func searchObject(t testing.TB, s string) map[string]any {
	t.Helper()
	m, ok := searchDecode(t, s).(map[string]any)
	if !ok {
		t.Fatalf("%s is not an object", s)
	}
	return m
}

func searchClose(t *testing.T, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range got {
		w := 0.0
		if i < len(want) {
			w = want[i]
		}
		if math.Abs(float64(got[i])-w) > tol {
			t.Fatalf("index %d: got %.6f, want %.6f\ngot  %v", i, got[i], w, got[:min(len(got), 24)])
		}
	}
}

func searchWantKind(t *testing.T, err error, kind error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %v error containing %q, got nil", kind, substr)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("want kind %v, got %v (%T)", kind, err, err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not mention %q", err, substr)
	}
}

// ---- embedders against the original's verified vectors (original-notes.md §3.4) ----

func TestSearchEmbedExperimentGoldenFixture(t *testing.T) {
	exp := searchObject(t, `{"architecture": [784, 256, 128, 10],
		"config": {"lr": 0.001, "batch_size": 128, "epochs": 50},
		"final_performance": {"accuracy": 0.95, "loss": 0.15}}`)
	v, err := search.EmbedExperiment(exp, search.ExperimentDim)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 384 {
		t.Fatalf("dimension %d", len(v))
	}
	searchClose(t, v, []float64{0.132685, 0.000078, 0.013268, 0.132685, 0.195378, 0.196175, 0.520124, 0.006634,
		0.630253, 0.009951, 0, 0, 0, 0.331712, 0.331712}, 2e-6)
}

func TestSearchEmbedExperimentGoldenDemo(t *testing.T) {
	// demo_001 of the original chromadb_search_demo.py: mnist, 4 epochs of val_accuracy.
	exp := searchObject(t, `{"experiment_id": "demo_001", "experiment_type": "training",
		"architecture": [784, 512, 256, 128, 10],
		"final_performance": {"accuracy": 0.945, "loss": 0.178, "precision": 0.943, "recall": 0.942, "f1_score": 0.942},
		"config": {"dataset": "mnist", "epochs": 4, "batch_size": 64},
		"training_history": [{"epoch": 0, "val_accuracy": 0.80}, {"epoch": 1, "val_accuracy": 0.91},
		                     {"epoch": 2, "val_accuracy": 0.93}, {"epoch": 3, "val_accuracy": 0.945}]}`)
	v, err := search.EmbedExperiment(exp, search.ExperimentDim)
	if err != nil {
		t.Fatal(err)
	}
	searchClose(t, v, []float64{0.103791, 0.00007, 0.008303, 0.103791, 0.140326, 0.115592, 0.325489, 0.004152,
		0.392331, 0.00739, 0.391501, 0.391086, 0.391086, 0.103791, 0.207583, 0, 0, 0.415165, 0, 0, 0}, 2e-6)
}

func TestSearchEmbedArchitectureGolden(t *testing.T) {
	v, err := search.EmbedArchitecture([]float64{784, 256, 128, 10}, search.ArchitectureDim)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 128 {
		t.Fatalf("dimension %d", len(v))
	}
	searchClose(t, v, []float64{0.130592, 0.192296, 0.19308, 0.51192, 0.00653, 0.051192, 0.00653, 0.196901, 0.113049,
		0.051012, 0.326479, 0.106606, 0.213211, 0.652959, 0, 0}, 2e-6)
}

func TestSearchEmbedArchitectureShapes(t *testing.T) {
	raw := func(layers ...float64) []float32 {
		v, err := search.EmbedArchitecture(layers, 16)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Empty: the zero vector, not NaN.
	for _, x := range raw() {
		if x != 0 {
			t.Fatalf("empty architecture must embed to zeros, got %v", raw())
		}
	}
	// Zero-width layers: the original divided by zero; every value must be finite.
	for _, layers := range [][]float64{{0, 10}, {10, 0, 5}, {0, 0, 0, 0}, {784, 0}} {
		for i, x := range raw(layers...) {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%v: index %d is %v", layers, i, x)
			}
		}
	}
	// Shape flags at 13-15 (normalised, so compare signs).
	hourglass := raw(100, 50, 10, 50, 100)
	if !(hourglass[13] == 0 && hourglass[14] > 0 && hourglass[15] == 0) {
		t.Fatalf("hourglass flags %v", hourglass[13:16])
	}
	expanding := raw(10, 20, 40)
	if !(expanding[13] == 0 && expanding[14] == 0 && expanding[15] > 0) {
		t.Fatalf("expanding flags %v", expanding[13:16])
	}
	one := raw(7)
	// len==1: ratios block is [1,0,1,1,1,1] before normalisation.
	if one[7] == 0 || one[8] != 0 || one[7] != one[9] {
		t.Fatalf("single layer ratios %v", one[7:13])
	}
}

func TestSearchEmbedExperimentNeverCrashesOnNulls(t *testing.T) {
	cases := []string{
		`{}`,
		`{"architecture": null, "config": null, "final_performance": null, "metrics": null, "training_history": null, "growth_history": null}`,
		`{"final_performance": {"accuracy": null, "loss": null}}`,
		`{"metrics": {"accuracy": "high"}, "config": {"dataset": null}}`,
		`{"architecture": {"layers": null, "depth": null, "total_parameters": null}}`,
		`{"training_history": [null, {"val_accuracy": null, "test_accuracy": 0.5}, 3]}`,
		`{"growth_history": [{"growth_occurred": null}, null]}`,
		`{"architecture": [0, 0], "config": {"dataset": "CIFAR10"}}`,
	}
	for _, c := range cases {
		v, err := search.EmbedExperiment(searchObject(t, c), 384)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		for i, x := range v {
			if math.IsNaN(float64(x)) {
				t.Fatalf("%s: NaN at %d", c, i)
			}
		}
	}
	// Non-numeric widths are rejected clearly rather than embedded as zeros.
	_, err := search.EmbedExperiment(searchObject(t, `{"architecture": [784, "conv", 10]}`), 384)
	searchWantKind(t, err, errs.ErrInvalid, "layer 1")
}

func TestSearchListArchitectureSameAtIndexAndQuery(t *testing.T) {
	// The original queried list architectures through a dict with depth=0,
	// total_parameters=0: a vector unlike the indexed one. Here both paths
	// read the same value the same way, including its JSON text form.
	a := searchObject(t, `{"architecture": [784, 512, 10]}`)
	b := searchObject(t, `{"architecture": "[784, 512, 10]"}`)
	va, _ := search.EmbedExperiment(a, 384)
	vb, err := search.EmbedExperiment(b, 384)
	if err != nil {
		t.Fatal(err)
	}
	for i := range va {
		if va[i] != vb[i] {
			t.Fatalf("index %d differs: %v vs %v", i, va[i], vb[i])
		}
	}
}

func TestSearchEmbedHypothesisIsStableFingerprint(t *testing.T) {
	h1 := search.EmbedHypothesis(searchObject(t, `{"name": "optimal_seeds", "description": "d", "question": "q", "prediction": "p"}`))
	h2 := search.EmbedHypothesis(searchObject(t, `{"name": "optimal_seeds", "description": "d", "question": "q", "prediction": "p", "extra": 1}`))
	h3 := search.EmbedHypothesis(searchObject(t, `{"name": "other"}`))
	if len(h1) != 128 {
		t.Fatalf("dimension %d", len(h1))
	}
	same, nonzero := true, 0
	for i := range h1 {
		if h1[i] != h2[i] {
			same = false
		}
		if h1[i] != 0 {
			nonzero++
		}
		if i >= 32 && h1[i] != 0 {
			t.Fatalf("index %d beyond the hash is %v", i, h1[i])
		}
	}
	if !same || nonzero < 20 || h1[0] == h3[0] && h1[1] == h3[1] && h1[2] == h3[2] {
		t.Fatalf("fingerprint not stable/distinct: %v %v", h1[:4], h3[:4])
	}
}

// ---- metadata derived from an experiment ----

func TestSearchExperimentMetadata(t *testing.T) {
	exp := searchObject(t, `{"experiment_id": "e1", "experiment_type": "training",
		"architecture": [784, 256, 10],
		"final_performance": {"accuracy": 0.9, "loss": 0.3},
		"config": {"dataset": "mnist", "epochs": 20, "batch_size": 128, "lr": 0.001, "opt": {"name": "adam", "betas": [0.9, 0.99]}},
		"growth_history": [{"growth_occurred": true}],
		"hypothesis_id": "h1"}`)
	extra := searchObject(t, `{"tag": "test", "run": {"seed": 3}, "accuracy": 0.91}`)
	m, err := search.ExperimentMetadata("idx-1", exp, extra)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"experiment_id": "e1", "experiment_type": "training", "accuracy": 0.91, "loss": 0.3,
		"parameters": int64(784*256 + 256 + 256*10 + 10), "depth": int64(3), "architecture": "[784, 256, 10]",
		"dataset": "mnist", "epochs": int64(20), "batch_size": int64(128), "config.lr": 0.001,
		"config.opt.name": "adam", "config.opt.betas": "[0.9, 0.99]", "growth_events": int64(1), "has_growth": true,
		"hypothesis_id": "h1", "tag": "test", "run.seed": int64(3),
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: got %#v, want %#v", k, m[k], v)
		}
	}
	if d := search.Describe(m); d != "Experiment e1 | Type: training | Architecture: [784, 256, 10] | Accuracy: 0.910 | Dataset: mnist" {
		t.Errorf("description %q", d)
	}
	// Missing values are left out, never stored as "null" or 0.
	m2, err := search.ExperimentMetadata("x", searchObject(t, `{"final_performance": {"accuracy": null}, "config": null}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m2["accuracy"]; ok || m2["experiment_id"] != "x" || m2["has_growth"] != false {
		t.Fatalf("metadata %v", m2)
	}
	if d := search.Describe(m2); !strings.Contains(d, "Accuracy: n/a") {
		t.Fatalf("description %q", d)
	}
}

func TestSearchMetadataNormalization(t *testing.T) {
	m, err := search.NormalizeMetadata(map[string]any{"i": 3, "f": float32(0.5), "b": true, "s": "x", "n": nil})
	if err != nil {
		t.Fatal(err)
	}
	if m["i"] != int64(3) || m["f"] != 0.5 || m["b"] != true || m["s"] != "x" {
		t.Fatalf("normalized %v", m)
	}
	if _, ok := m["n"]; ok {
		t.Fatal("null must be dropped")
	}
	for _, bad := range []map[string]any{
		{"x": math.NaN()}, {"x": math.Inf(1)}, {"": 1}, {"#k": 1}, {"x": []int{1}}, {"x": map[string]any{}},
	} {
		if _, err := search.NormalizeMetadata(bad); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("%v: want ErrInvalid, got %v", bad, err)
		}
	}
	b, err := json.Marshal(search.Metadata{"f": 2.0, "i": int64(2), "tiny": 1e-20})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"f":2.0,"i":2,"tiny":1e-20}` {
		t.Fatalf("floats must stay floats in JSON: %s", b)
	}
}

// ---- the where grammar ----

func TestSearchWhereParseErrors(t *testing.T) {
	cases := []struct{ where, msg string }{
		{`{"x": {"$foo": 1}}`, `unknown operator "$foo"`},
		{`{"$xor": [{"x": 1}]}`, `unknown top-level operator "$xor"`},
		{`{"x": {"$gt": "a"}}`, "needs an int or float"},
		{`{"x": {"$gt": true}}`, "needs an int or float"},
		{`{"x": {"$in": []}}`, "non-empty list"},
		{`{"x": {"$in": 3}}`, "non-empty list"},
		{`{"x": {"$in": [[1]]}}`, "operand"},
		{`{"x": {"$eq": null}}`, "operand"},
		{`{"x": {"$eq": {"a": 1}}}`, "operand"},
		{`{"$and": []}`, "non-empty list"},
		{`{"$and": {"x": 1}}`, "non-empty list"},
		{`{"$or": [1, 2]}`, "must be an object"},
		{`{"x": {}}`, "empty operator object"},
		{`{"x": {"$and": [{"y": 1}]}}`, "top level"},
		{`[1]`, "expected an object"},
	}
	for _, c := range cases {
		_, err := search.ParseWhere(searchDecode(t, c.where))
		if err == nil || !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: want ErrInvalid mentioning %q, got %v", c.where, c.msg, err)
		}
	}
	for _, ok := range []string{`{}`, `null`, `{"a": 1, "b": {"$gte": 2.5}}`, `{"$and": [{"a": 1}]}`, `{"a": {"$gt": 1, "$lt": 5}}`} {
		if _, err := search.ParseWhere(searchDecode(t, ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, c := range []string{`{"$contains": ""}`, `{"$regex": "a"}`, `{"$contains": 1}`} {
		if _, err := search.ParseWhereDocument(searchDecode(t, c)); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("where_document %s: want ErrInvalid, got %v", c, err)
		}
	}
}

func TestSearchWhereMatchSemantics(t *testing.T) {
	meta := search.Metadata{"i": int64(1), "f": 1.5, "s": "a", "b": true, "big": int64(1<<62 + 1)}
	cases := []struct {
		where string
		want  bool
	}{
		{`{"i": 1}`, true},
		{`{"i": 1.0}`, true},
		{`{"i": {"$eq": 1.5}}`, false}, // Chroma's server says true (it truncates 1.5); we compare exactly
		{`{"i": {"$gte": 1.5}}`, false},
		{`{"i": {"$lt": 1.5}}`, true},
		{`{"f": {"$gt": 1}}`, true},
		{`{"f": {"$eq": 1.5}}`, true},
		{`{"i": true}`, false},
		{`{"b": 1}`, false},
		{`{"b": true}`, true},
		{`{"s": {"$gt": 0}}`, false},
		{`{"missing": {"$ne": 1}}`, true},
		{`{"missing": {"$nin": [1]}}`, true},
		{`{"missing": 1}`, false},
		{`{"s": {"$in": ["x", 1, "a"]}}`, true},
		{`{"big": {"$gt": 4611686018427387904}}`, true},
		{`{"big": {"$gt": 4611686018427387904.0}}`, true},
		{`{"s": "a", "i": {"$gte": 2}}`, false},
		{`{"$or": [{"s": "b"}, {"i": {"$lte": 1}}]}`, true},
	}
	for _, c := range cases {
		f, err := search.ParseWhere(searchDecode(t, c.where))
		if err != nil {
			t.Fatalf("%s: %v", c.where, err)
		}
		if got := f.Match(meta); got != c.want {
			t.Errorf("%s: got %v, want %v", c.where, got, c.want)
		}
	}
}

// ---- the Searcher ----

func TestSearchSearcherEmbedded(t *testing.T) {
	ctx := context.Background()
	// A persist directory with characters SQLite URIs treat specially.
	dir := filepath.Join(t.TempDir(), "odd dir ?#% ünï")
	s, err := search.Open(ctx, search.Config{PersistDirectory: dir, AllowReset: true, MaxNResults: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var items []search.Item
	for i := 0; i < 30; i++ {
		data := fmt.Sprintf(`{"architecture": [784, %d, 10], "final_performance": {"accuracy": %g}, "config": {"dataset": %q}, "hypothesis_id": "h%d"}`,
			32+i*8, 0.5+float64(i)/100, []string{"mnist", "cifar10"}[i%2], i%3)
		items = append(items, search.Item{ID: fmt.Sprintf("e%02d", i), Experiment: searchObject(t, data), Document: data})
	}
	items = append(items, search.Item{ID: "noarch", Experiment: map[string]any{"final_performance": map[string]any{"accuracy": 0.99}}})
	if err := s.Index(ctx, items); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "structure_net_experiments.sqlite3")); err != nil {
		t.Fatalf("store file not where configured: %v", err)
	}
	if n, _ := s.Count(ctx); n != 31 {
		t.Fatalf("count %d", n)
	}
	if n, _ := s.Architectures().Count(ctx); n != 30 {
		t.Fatalf("architecture collection holds %d (experiments without layers are left out)", n)
	}
	top, err := s.ByPerformance(ctx, search.MinAccuracy(0.7), search.Dataset("cifar10"), search.Limit(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 3 || top[0].ID != "e29" || top[1].ID != "e27" || top[2].ID != "e25" || top[0].Scored {
		t.Fatalf("by performance: %+v", top)
	}
	hyp, err := s.ByHypothesis(ctx, "h1")
	if err != nil || len(hyp) != 10 {
		t.Fatalf("by hypothesis: %d %v", len(hyp), err)
	}
	arch, err := s.ByArchitecture(ctx, []int{784, 32 + 8*7, 10}, search.Limit(3))
	if err != nil || arch[0].ID != "e07" || arch[0].Similarity < 0.99999 {
		t.Fatalf("by architecture: %+v %v", arch, err)
	}
	sim, err := s.SimilarExperiments(ctx, items[4].Experiment, search.Limit(5), search.Where(searchWhere(t, `{"dataset": "mnist"}`)))
	if err != nil || sim[0].ID != "e04" || len(sim) != 5 {
		t.Fatalf("similar: %+v %v", sim, err)
	}
	for _, r := range sim {
		if r.Metadata["dataset"] != "mnist" || !r.Scored || r.Similarity > 1.000001 || r.Similarity < -1 {
			t.Fatalf("hit %+v", r)
		}
	}
	_, err = s.SimilarExperiments(ctx, map[string]any{}, search.Limit(51))
	searchWantKind(t, err, errs.ErrInvalid, "max_n_results")
	e, err := s.Get(ctx, "e03")
	if err != nil || e.Document != items[3].Document {
		t.Fatalf("get: %s %v", e.Document, err)
	}
	_, err = s.Get(ctx, "missing")
	searchWantKind(t, err, errs.ErrNotFound, "missing")
	// Re-indexing without an architecture drops it from the architecture collection.
	if err := s.Index(ctx, []search.Item{{ID: "e07", Experiment: searchObject(t, `{"final_performance": {"accuracy": 0.1}}`)}}); err != nil {
		t.Fatal(err)
	}
	arch, _ = s.ByArchitecture(ctx, []int{784, 32 + 8*7, 10}, search.Limit(30))
	for _, r := range arch {
		if r.ID == "e07" {
			t.Fatal("stale architecture vector after re-indexing")
		}
	}
	if err := s.Delete(ctx, []string{"e01", "nope"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx); n != 30 {
		t.Fatalf("count after delete %d", n)
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatalf("count after reset %d", n)
	}
	s2, err := search.Open(ctx, search.Config{PersistDirectory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	searchWantKind(t, s2.Reset(ctx), errs.ErrInvalid, "allow_reset")
}
