package search

import (
	"math"
	"strconv"
	"strings"
)

// ExperimentMetadata derives the searchable metadata of an experiment. Keys,
// each present only when the experiment has the value:
//
//	experiment_id    the experiment's own "experiment_id" field, else the index id (always present)
//	experiment_type  string
//	accuracy, loss, precision, recall, f1_score
//	                 floats from final_performance (when truthy) else metrics
//	parameters       int: architecture.total_parameters, else model_parameters,
//	                 else metrics.parameters, else the dense-MLP count
//	                 Σ(wᵢ·wᵢ₊₁ + wᵢ₊₁) of the layer widths (the original stored Σwᵢ)
//	depth            int: architecture.depth, else the number of layers
//	architecture     the layer list as JSON text, e.g. "[784, 256, 10]"
//	dataset, epochs, batch_size   from config
//	growth_events, has_growth     from growth_history (has_growth is false without one)
//	hypothesis_id    string
//	config.<key>     every config entry, nested dicts as dotted keys, lists as JSON
//
// extra (additional_metadata) is flattened the same way and overrides these.
// exp and extra are maps, lists and scalars (see the package comment).
func ExperimentMetadata(id string, exp map[string]any, extra map[string]any) (Metadata, error) {
	exp, err := plainMap(exp, "experiment")
	if err != nil {
		return nil, err
	}
	if extra, err = plainMap(extra, "metadata"); err != nil {
		return nil, err
	}
	return experimentMetadata(id, exp, extra)
}

// experimentMetadata is ExperimentMetadata for values in the JSON data model.
func experimentMetadata(id string, exp map[string]any, extra map[string]any) (Metadata, error) {
	m := Metadata{}
	m["experiment_id"] = id
	if v, ok := exp["experiment_id"]; ok && v != nil {
		m["experiment_id"] = pyStr(v)
	}
	if s, ok := exp["experiment_type"].(string); ok {
		m["experiment_type"] = s
	}
	var perf map[string]any
	if fp, ok := exp["final_performance"]; ok && truthy(fp) {
		perf, _ = fp.(map[string]any)
	} else {
		perf, _ = exp["metrics"].(map[string]any)
	}
	for _, k := range []string{"accuracy", "loss", "precision", "recall", "f1_score"} {
		if f, ok := number(perf[k]); ok {
			m[k] = f
		}
	}
	arch, err := parseArchitecture(exp["architecture"])
	if err != nil {
		return nil, err
	}
	if p, ok := parameterCount(exp, arch); ok {
		m["parameters"] = p
	}
	if arch.HasDepth {
		m["depth"] = int64(arch.Depth)
	} else if len(arch.Layers) > 0 {
		m["depth"] = int64(len(arch.Layers))
	}
	if arch.Present && len(arch.Layers) > 0 {
		m["architecture"] = layersString(arch.Layers)
	}
	if cfg, ok := exp["config"].(map[string]any); ok {
		if s, ok := cfg["dataset"].(string); ok {
			m["dataset"] = s
		}
		for _, k := range []string{"epochs", "batch_size"} {
			if f, ok := number(cfg[k]); ok {
				m[k] = int64(f)
			}
		}
		flatten(m, "config", cfg)
	}
	if gh, ok := exp["growth_history"].([]any); ok {
		m["growth_events"] = int64(len(gh))
		m["has_growth"] = len(gh) > 0
	} else {
		m["has_growth"] = false
	}
	if h, ok := exp["hypothesis_id"]; ok && h != nil {
		m["hypothesis_id"] = pyStr(h)
	}
	if len(extra) > 0 {
		flat := Metadata{}
		flatten(flat, "", extra)
		for k, v := range flat {
			m[k] = v
		}
	}
	return NormalizeMetadata(m)
}

func parameterCount(exp map[string]any, arch Architecture) (int64, bool) {
	if arch.HasParams {
		return int64(arch.TotalParams), true
	}
	if f, ok := number(exp["model_parameters"]); ok {
		return int64(f), true
	}
	if met, ok := exp["metrics"].(map[string]any); ok {
		if f, ok := number(met["parameters"]); ok {
			return int64(f), true
		}
	}
	if len(arch.Layers) < 2 {
		return 0, false
	}
	var p float64
	for i := 0; i+1 < len(arch.Layers); i++ {
		p += arch.Layers[i]*arch.Layers[i+1] + arch.Layers[i+1]
	}
	if p > math.MaxInt64/2 {
		return 0, false
	}
	return int64(p), true
}

func layersString(layers []float64) string {
	parts := make([]any, len(layers))
	for i, w := range layers {
		if w == math.Trunc(w) && math.Abs(w) < 1<<53 {
			parts[i] = int64(w)
		} else {
			parts[i] = w
		}
	}
	return pyJSON(parts)
}

// Describe is the readable one-line description of a search hit, built from
// its metadata: "Experiment demo_001 | Type: training | Architecture: [784,
// 512, 10] | Accuracy: 0.945 | Dataset: mnist".
func Describe(m Metadata) string {
	str := func(k, def string) string {
		if v, ok := m[k]; ok {
			return pyStr(v)
		}
		return def
	}
	parts := []string{"Experiment " + str("experiment_id", "unknown"), "Type: " + str("experiment_type", "unknown")}
	if a, ok := m["architecture"]; ok {
		parts = append(parts, "Architecture: "+pyStr(a))
	}
	if a, ok := number(m["accuracy"]); ok {
		parts = append(parts, "Accuracy: "+strconv.FormatFloat(a, 'f', 3, 64))
	} else {
		parts = append(parts, "Accuracy: n/a")
	}
	if d, ok := m["dataset"]; ok {
		parts = append(parts, "Dataset: "+pyStr(d))
	}
	return strings.Join(parts, " | ")
}
