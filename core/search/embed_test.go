package search_test

import (
	"math"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

// The embedders against the original's verified vectors (original-notes.md §3.4).
func TestEmbedGolden(t *testing.T) {
	cases := []struct {
		name  string
		embed func() ([]float32, error)
		dim   int
		want  []float64
	}{
		{"experiment fixture", func() ([]float32, error) {
			return search.EmbedExperiment(object(t, `{"architecture": [784, 256, 128, 10],
				"config": {"lr": 0.001, "batch_size": 128, "epochs": 50},
				"final_performance": {"accuracy": 0.95, "loss": 0.15}}`), search.ExperimentDim)
		}, 384, []float64{0.132685, 0.000078, 0.013268, 0.132685, 0.195378, 0.196175, 0.520124, 0.006634,
			0.630253, 0.009951, 0, 0, 0, 0.331712, 0.331712}},
		// demo_001 of the original chromadb_search_demo.py: mnist, 4 epochs of val_accuracy.
		{"experiment demo_001", func() ([]float32, error) {
			return search.EmbedExperiment(object(t, `{"experiment_id": "demo_001", "experiment_type": "training",
				"architecture": [784, 512, 256, 128, 10],
				"final_performance": {"accuracy": 0.945, "loss": 0.178, "precision": 0.943, "recall": 0.942, "f1_score": 0.942},
				"config": {"dataset": "mnist", "epochs": 4, "batch_size": 64},
				"training_history": [{"epoch": 0, "val_accuracy": 0.80}, {"epoch": 1, "val_accuracy": 0.91},
				                     {"epoch": 2, "val_accuracy": 0.93}, {"epoch": 3, "val_accuracy": 0.945}]}`), search.ExperimentDim)
		}, 384, []float64{0.103791, 0.00007, 0.008303, 0.103791, 0.140326, 0.115592, 0.325489, 0.004152,
			0.392331, 0.00739, 0.391501, 0.391086, 0.391086, 0.103791, 0.207583, 0, 0, 0.415165, 0, 0, 0}},
		{"architecture", func() ([]float32, error) {
			return search.EmbedArchitecture([]float64{784, 256, 128, 10}, search.ArchitectureDim)
		}, 128, []float64{0.130592, 0.192296, 0.19308, 0.51192, 0.00653, 0.051192, 0.00653, 0.196901, 0.113049,
			0.051012, 0.326479, 0.106606, 0.213211, 0.652959, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := c.embed()
			if err != nil {
				t.Fatal(err)
			}
			if len(v) != c.dim {
				t.Fatalf("dimension %d, want %d", len(v), c.dim)
			}
			closeTo(t, v, c.want, 2e-6)
		})
	}
}

func TestEmbedArchitectureShapes(t *testing.T) {
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

func TestEmbedExperimentNeverCrashesOnNulls(t *testing.T) {
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
		v, err := search.EmbedExperiment(object(t, c), 384)
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
	_, err := search.EmbedExperiment(object(t, `{"architecture": [784, "conv", 10]}`), 384)
	wantKind(t, err, errs.ErrInvalid, "layer 1")
}

func TestListArchitectureSameAtIndexAndQuery(t *testing.T) {
	// The original queried list architectures through a dict with depth=0,
	// total_parameters=0: a vector unlike the indexed one. Here both paths
	// read the same value the same way, including its JSON text form.
	a := object(t, `{"architecture": [784, 512, 10]}`)
	b := object(t, `{"architecture": "[784, 512, 10]"}`)
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

func TestEmbedHypothesisIsStableFingerprint(t *testing.T) {
	h1 := search.EmbedHypothesis(object(t, `{"name": "optimal_seeds", "description": "d", "question": "q", "prediction": "p"}`))
	h2 := search.EmbedHypothesis(object(t, `{"name": "optimal_seeds", "description": "d", "question": "q", "prediction": "p", "extra": 1}`))
	h3 := search.EmbedHypothesis(object(t, `{"name": "other"}`))
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
