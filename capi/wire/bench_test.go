package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

// BenchmarkIndex measures what the hand-written JSON reader (core/jsonvalue)
// is for: snd_search_index end to end, from the JSON text Python sends to
// both collections written, for one batch of experiments shaped like the
// lab's (bench/bench_search.py's). The encoding/json arm puts the standard
// library in its place (UseNumber, then the same int/float typing), the
// rest unchanged. Run: go test -run '^$' -bench Index -count 6 ./capi/wire
func BenchmarkIndex(b *testing.B) {
	body := benchExperiments(5461) // Chroma's batch size, as the Python benchmark writes
	readers := []struct {
		name     string
		value    func([]byte) (any, error)
		elements func([]byte) ([][]byte, error)
		members  func([]byte) (map[string][]byte, error)
	}{
		{"reader=jsonvalue", decodeValue, decodeElements, decodeMembers},
		{"reader=encoding-json", stdValue, stdElements, stdMembers},
	}
	for _, r := range readers {
		b.Run(r.name, func(b *testing.B) {
			value, elements, members := decodeValue, decodeElements, decodeMembers
			decodeValue, decodeElements, decodeMembers = r.value, r.elements, r.members
			defer func() { decodeValue, decodeElements, decodeMembers = value, elements, members }()
			ctx := context.Background()
			s, err := search.Open(ctx, search.Config{PersistDirectory: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := Index(ctx, s, body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(5461*b.N)/b.Elapsed().Seconds(), "experiments/s")
		})
	}
}

// BenchmarkDecodeExperiments is the reading alone, for scale.
func BenchmarkDecodeExperiments(b *testing.B) {
	body := benchExperiments(5461)
	for _, r := range []struct {
		name   string
		decode func([]byte) (any, error)
	}{{"reader=jsonvalue", decodeValue}, {"reader=encoding-json", stdValue}} {
		b.Run(r.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := r.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchExperiments(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	datasets := []string{"mnist", "cifar10", "cifar100", "imagenet"}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		widths := []string{[]string{"784", "3072"}[rng.IntN(2)]}
		for d := 2 + rng.IntN(4); d > 0; d-- {
			widths = append(widths, strconv.Itoa(16+rng.IntN(2032)))
		}
		widths = append(widths, "10")
		acc := 0.5 + 0.49*rng.Float64()
		var hist []string
		for e := 0; e < 10; e++ {
			hist = append(hist, fmt.Sprintf(`{"epoch": %d, "val_accuracy": %v}`, e, acc*(0.6+0.4*float64(e)/9)))
		}
		fmt.Fprintf(&b, `{"id": "exp_%06d", "data": {"experiment_id": "exp_%06d", "experiment_type": "training", "architecture": [%s], `+
			`"final_performance": {"accuracy": %v, "loss": %v}, "config": {"dataset": %q, "epochs": %d, "lr": %v}, `+
			`"training_history": [%s], "hypothesis_id": "h%d"}, "metadata": null}`,
			i, i, strings.Join(widths, ", "), acc, 2*rng.Float64(), datasets[i%4], 5+rng.IntN(95), rng.Float64()/100,
			strings.Join(hist, ", "), i%50)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// stdValue is jsonvalue.Decode done by encoding/json.
func stdValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errs.Invalidf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errs.Invalidf("invalid JSON: trailing data")
	}
	return typeNumbers(v)
}

func typeNumbers(v any) (any, error) {
	switch t := v.(type) {
	case json.Number: // an int when written as one and it fits, else a float
		if i, err := t.Int64(); err == nil && !strings.ContainsAny(string(t), ".eE") {
			return i, nil
		}
		if f, err := t.Float64(); err == nil {
			return f, nil
		}
		return nil, errs.Invalidf("number %s is out of range", t)
	case map[string]any:
		for k, e := range t {
			var err error
			if t[k], err = typeNumbers(e); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, e := range t {
			var err error
			if t[i], err = typeNumbers(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func stdElements(b []byte) ([][]byte, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, errs.Invalidf("invalid JSON: %v", err)
	}
	out := make([][]byte, len(raw))
	for i, r := range raw {
		out[i] = r
	}
	return out, nil
}

func stdMembers(b []byte) (map[string][]byte, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, errs.Invalidf("invalid JSON: %v", err)
	}
	out := make(map[string][]byte, len(raw))
	for k, r := range raw {
		out[k] = r
	}
	return out, nil
}
