package search_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

func TestExperimentMetadata(t *testing.T) {
	exp := object(t, `{"experiment_id": "e1", "experiment_type": "training",
		"architecture": [784, 256, 10],
		"final_performance": {"accuracy": 0.9, "loss": 0.3},
		"config": {"dataset": "mnist", "epochs": 20, "batch_size": 128, "lr": 0.001, "opt": {"name": "adam", "betas": [0.9, 0.99]}},
		"growth_history": [{"growth_occurred": true}],
		"hypothesis_id": "h1"}`)
	extra := object(t, `{"tag": "test", "run": {"seed": 3}, "accuracy": 0.91}`)
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
	m2, err := search.ExperimentMetadata("x", object(t, `{"final_performance": {"accuracy": null}, "config": null}`), nil)
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

func TestMetadataNormalization(t *testing.T) {
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
