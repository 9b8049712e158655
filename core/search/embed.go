package search

import (
	"crypto/sha256"
	"math"
	"strconv"
	"strings"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
)

// Default embedding sizes, as in the original.
const (
	ExperimentDim   = 384
	ArchitectureDim = 128
	HypothesisDim   = 128
)

// The experiment layout (21 raw features, the rest zero):
//
//	0-7   architecture: dict → depth/20, total_parameters/1e7, sparsity, len(layers)/20;
//	      list → len/20, sum/1e7, 0.02, len/20; then mean, std, max, min of the
//	      layer widths /1000 (zeros when there are none)
//	8-12  accuracy, loss/10, precision, recall, f1_score from final_performance
//	      (when truthy) else metrics
//	13    convergence: first epoch reaching 90% of the final accuracy / epochs (0.5 without history)
//	14    stability: 1 - std of the last 5 accuracies (0.5 with 5 or fewer epochs)
//	15-16 growth: events/10, fraction of events with growth_occurred
//	17-20 dataset one-hot: mnist, cifar10, cifar100, imagenet
//
// Absent keys, nulls and non-numeric values count as 0 (the original raised).

// EmbedExperiment returns the experiment embedding of size dim (ExperimentDim
// by default), L2-normalised when not all zero. exp is an experiment as maps,
// lists and scalars (see the package comment).
func EmbedExperiment(exp map[string]any, dim int) ([]float32, error) {
	exp, err := plainMap(exp, "experiment")
	if err != nil {
		return nil, err
	}
	return embedExperiment(exp, dim)
}

// embedExperiment is EmbedExperiment for an experiment already in the JSON data model.
func embedExperiment(exp map[string]any, dim int) ([]float32, error) {
	if dim <= 0 {
		return nil, errs.Invalidf("embedding dimension must be positive, got %d", dim)
	}
	f := make([]float64, 0, 21)
	a, err := parseArchitecture(exp["architecture"])
	if err != nil {
		return nil, err
	}
	f = append(f, a.features()...)
	f = append(f, performanceFeatures(exp)...)
	conv, stab := historyFeatures(exp["training_history"])
	f = append(f, conv, stab)
	f = append(f, growthFeatures(exp)...)
	f = append(f, datasetFeatures(exp["config"])...)
	return finish(f, dim, true), nil
}

// Architecture is an architecture reduced to what the embedders and metadata use.
type Architecture struct {
	Present     bool      // the experiment had an architecture value
	IsList      bool      // given as a plain list of widths (the legacy form)
	Layers      []float64 // layer widths
	Depth       float64   // dict "depth" (0 when absent)
	TotalParams float64   // dict "total_parameters" (0 when absent)
	HasParams   bool      // dict gave total_parameters
	HasDepth    bool      // dict gave depth
	Sparsity    float64   // dict "sparsity" (0 when absent)
}

// ParseArchitecture accepts a list of widths, a dict with "layers" (and
// optionally depth, total_parameters, sparsity), a JSON string of either (as
// stored in metadata), or nil. Non-numeric layer widths are an error: they
// would silently change what the vector means.
func ParseArchitecture(v any) (Architecture, error) {
	v, err := plain(v)
	if err != nil {
		return Architecture{}, errs.Invalidf("architecture: %w", err)
	}
	return parseArchitecture(v)
}

// parseArchitecture is ParseArchitecture for a value in the JSON data model.
func parseArchitecture(v any) (Architecture, error) {
	switch t := v.(type) {
	case nil:
		return Architecture{}, nil
	case string:
		s := strings.TrimSpace(t)
		if s == "" {
			return Architecture{}, nil
		}
		dec, err := jsonvalue.Decode([]byte(s))
		if err != nil {
			return Architecture{}, errs.Invalidf("architecture string %q is not a JSON list or object", t)
		}
		if _, isStr := dec.(string); isStr {
			return Architecture{}, errs.Invalidf("architecture string %q is not a JSON list or object", t)
		}
		return parseArchitecture(dec)
	case []any:
		layers, err := widths(t)
		if err != nil {
			return Architecture{}, err
		}
		return Architecture{Present: true, IsList: true, Layers: layers}, nil
	case map[string]any:
		a := Architecture{Present: true}
		if l, ok := t["layers"]; ok && l != nil {
			list, isList := l.([]any)
			if !isList {
				return Architecture{}, errs.Invalidf("architecture layers must be a list of widths, got %s", typeName(l))
			}
			layers, err := widths(list)
			if err != nil {
				return Architecture{}, err
			}
			a.Layers = layers
		}
		a.Depth, a.HasDepth = number(t["depth"])
		a.TotalParams, a.HasParams = number(t["total_parameters"])
		a.Sparsity, _ = number(t["sparsity"])
		return a, nil
	default:
		return Architecture{}, errs.Invalidf("architecture must be a list of layer widths or a dict with 'layers', got %s", typeName(v))
	}
}

func widths(list []any) ([]float64, error) {
	out := make([]float64, len(list))
	for i, e := range list {
		w, ok := number(e)
		if !ok {
			return nil, errs.Invalidf("architecture layer %d must be a number, got %s %s", i, typeName(e), pyJSON(e))
		}
		out[i] = w
	}
	return out, nil
}

// number reads an int or float (not a bool, string or null).
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return 0, false
		}
		return t, true
	case int:
		return float64(t), true
	case float32:
		return float64(t), true
	}
	return 0, false
}

func num0(v any) float64 {
	f, _ := number(v)
	return f
}

func (a Architecture) features() []float64 {
	if !a.Present {
		return make([]float64, 8)
	}
	n := float64(len(a.Layers))
	var f []float64
	if a.IsList {
		f = []float64{n / 20, sum(a.Layers) / 1e7, 0.02, n / 20}
	} else {
		f = []float64{a.Depth / 20, a.TotalParams / 1e7, a.Sparsity, n / 20}
	}
	if len(a.Layers) == 0 {
		return append(f, 0, 0, 0, 0)
	}
	mean, std := meanStd(a.Layers)
	lo, hi := minMax(a.Layers)
	return append(f, mean/1000, std/1000, hi/1000, lo/1000)
}

func performanceFeatures(exp map[string]any) []float64 {
	var src any
	if fp, ok := exp["final_performance"]; ok && truthy(fp) {
		src = fp
	} else if m, ok := exp["metrics"]; ok {
		src = m
	}
	d, ok := src.(map[string]any)
	if !ok {
		return make([]float64, 5)
	}
	return []float64{num0(d["accuracy"]), num0(d["loss"]) / 10, num0(d["precision"]), num0(d["recall"]), num0(d["f1_score"])}
}

// truthy is Python's truth value of a decoded JSON value.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int64:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// historyAccuracies reads val_accuracy, else test_accuracy, else 0 per epoch.
func historyAccuracies(v any) []float64 {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	accs := make([]float64, len(list))
	for i, e := range list {
		h, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if a, ok := number(h["val_accuracy"]); ok {
			accs[i] = a
		} else {
			accs[i] = num0(h["test_accuracy"])
		}
	}
	return accs
}

func historyFeatures(v any) (convergence, stability float64) {
	accs := historyAccuracies(v)
	if len(accs) == 0 {
		return 0.5, 0.5
	}
	final := accs[len(accs)-1]
	idx := len(accs)
	for i, a := range accs {
		if a >= 0.9*final {
			idx = i
			break
		}
	}
	convergence = float64(idx) / float64(len(accs))
	stability = 0.5
	if len(accs) > 5 {
		_, std := meanStd(accs[len(accs)-5:])
		stability = 1 - std
	}
	return convergence, stability
}

func growthFeatures(exp map[string]any) []float64 {
	list, ok := exp["growth_history"].([]any)
	if !ok {
		return []float64{0, 0}
	}
	if len(list) == 0 {
		return []float64{0, 0}
	}
	grown := 0
	for _, e := range list {
		if ev, ok := e.(map[string]any); ok && truthy(ev["growth_occurred"]) {
			grown++
		}
	}
	return []float64{float64(len(list)) / 10, float64(grown) / float64(len(list))}
}

var knownDatasets = []string{"mnist", "cifar10", "cifar100", "imagenet"}

func datasetFeatures(config any) []float64 {
	f := make([]float64, len(knownDatasets))
	cfg, ok := config.(map[string]any)
	if !ok {
		return f
	}
	name, _ := cfg["dataset"].(string)
	name = strings.ToLower(name)
	for i, d := range knownDatasets {
		if name == d {
			f[i] = 1
		}
	}
	return f
}

// EmbedArchitecture returns the architecture embedding of size dim
// (ArchitectureDim by default). Layout (16 raw features):
//
//	0-6   len/20, mean/1000, std/1000, max/1000, min/1000, first/10000, last/1000
//	7-12  ratios next/this: mean, std, min, max; bottleneck min(hidden)/first,
//	      expansion max(hidden)/first (1 and 1 with no hidden layer; [1,0,1,1,1,1] for one layer)
//	13-15 pyramid (never widens), hourglass (narrows to the middle, then widens), expanding (never narrows)
//
// A ratio over a zero-width layer is 0 instead of a division by zero. No
// layers gives the zero vector, not normalised.
func EmbedArchitecture(layers []float64, dim int) ([]float32, error) {
	if dim <= 0 {
		return nil, errs.Invalidf("embedding dimension must be positive, got %d", dim)
	}
	n := len(layers)
	if n == 0 {
		return make([]float32, dim), nil
	}
	mean, std := meanStd(layers)
	lo, hi := minMax(layers)
	f := []float64{float64(n) / 20, mean / 1000, std / 1000, hi / 1000, lo / 1000, layers[0] / 10000, layers[n-1] / 1000}
	if n == 1 {
		f = append(f, 1, 0, 1, 1, 1, 1)
	} else {
		ratios := make([]float64, n-1)
		for i := range ratios {
			ratios[i] = ratio(layers[i+1], layers[i])
		}
		rm, rs := meanStd(ratios)
		rlo, rhi := minMax(ratios)
		bottleneck, expansion := 1.0, 1.0
		if n > 2 {
			hlo, hhi := minMax(layers[1 : n-1])
			bottleneck, expansion = ratio(hlo, layers[0]), ratio(hhi, layers[0])
		}
		f = append(f, rm, rs, rlo, rhi, bottleneck, expansion)
	}
	if n > 2 {
		mid := n / 2
		pyramid, expanding, hourglass := true, true, true
		for i := 0; i < n-1; i++ {
			if layers[i+1] > layers[i] {
				pyramid = false
			}
			if layers[i+1] < layers[i] {
				expanding = false
			}
			if i < mid && layers[i+1] > layers[i] {
				hourglass = false
			}
			if i >= mid && layers[i+1] < layers[i] {
				hourglass = false
			}
		}
		f = append(f, b2f(pyramid), b2f(hourglass), b2f(expanding))
	} else {
		f = append(f, 0, 0, 0)
	}
	return finish(f, dim, true), nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// EmbedHypothesis returns the original's 128-d hypothesis vector: the SHA-256
// of "name description question prediction", one byte/255 per index 0-31, not
// normalised. It is a fingerprint for exact-match lookups, not a semantic embedding.
func EmbedHypothesis(h map[string]any) []float32 {
	parts := make([]string, 4)
	for i, k := range []string{"name", "description", "question", "prediction"} {
		v, err := plain(h[k])
		if err != nil {
			v = h[k] // hashed as its text
		}
		parts[i] = pyStr(v)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, " ")))
	out := make([]float32, HypothesisDim)
	for i, b := range sum {
		out[i] = float32(b) / 255
	}
	return out
}

// pyStr renders a value as Python's str() would for the JSON types, with null as "".
func pyStr(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e16 {
			return strconv.FormatFloat(t, 'f', 1, 64)
		}
		return strconv.FormatFloat(t, 'g', -1, 64)
	}
	return pyJSON(v)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// meanStd is numpy's mean and std (ddof=0).
func meanStd(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	m := sum(xs) / float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)))
}

func minMax(xs []float64) (float64, float64) {
	lo, hi := xs[0], xs[0]
	for _, x := range xs[1:] {
		lo = math.Min(lo, x)
		hi = math.Max(hi, x)
	}
	return lo, hi
}

// finish pads or truncates to dim, casts to float32 and L2-normalises (in
// float32, as numpy did) when the norm is positive.
func finish(f []float64, dim int, normalise bool) []float32 {
	out := make([]float32, dim)
	for i := 0; i < dim && i < len(f); i++ {
		out[i] = float32(f[i])
	}
	if !normalise {
		return out
	}
	var n2 float64
	for _, x := range out {
		n2 += float64(x) * float64(x)
	}
	if n2 > 0 {
		norm := float32(math.Sqrt(n2))
		for i := range out {
			out[i] /= norm
		}
	}
	return out
}
