package search_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

// A service author's view: experiments as ordinary Go values, searches with
// plain arguments and options.

type layers []int

func goSearcher(t *testing.T) *search.Searcher {
	t.Helper()
	ctx := context.Background()
	s, err := search.Open(ctx, search.Config{PersistDirectory: t.TempDir(), MaxNResults: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	items := []search.Item{
		{ID: "wide", Experiment: map[string]any{
			"architecture":      []int{784, 512, 10},
			"final_performance": map[string]float64{"accuracy": 0.97},
			"config":            map[string]any{"dataset": "mnist", "epochs": 20, "lr": float32(0.5)},
		}},
		{ID: "narrow", Experiment: map[string]any{
			"architecture":      layers{784, 40, 10}, // a named slice type
			"final_performance": map[string]any{"accuracy": 0.91},
			"config":            map[string]any{"dataset": "mnist"},
			"hypothesis_id":     "h1",
		}, Metadata: map[string]any{"team": "a", "seed": uint8(3)}},
		{ID: "cifar", Experiment: map[string]any{
			"architecture":      [3]int64{3072, 256, 10}, // an array
			"final_performance": map[string]any{"accuracy": 0.6},
			"config":            map[string]any{"dataset": "cifar10"},
			"hypothesis_id":     "h1",
		}},
		{ID: "untrained", Experiment: map[string]any{"config": map[string]any{"dataset": "mnist"}}},
	}
	if err := s.Index(ctx, items); err != nil {
		t.Fatal(err)
	}
	return s
}

func resultIDs(rs []search.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestSearchesWithGoValues(t *testing.T) {
	s := goSearcher(t)
	ctx := context.Background()
	must := func(rs []search.Result, err error) []search.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	where, err := search.ParseWhere(map[string]any{"team": map[string]any{"$in": []string{"a", "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		got  []search.Result
		want []string
	}{
		{"architecture []int", must(s.ByArchitecture(ctx, []int{784, 40, 10}, search.Limit(1))), []string{"narrow"}},
		{"architecture default limit", must(s.ByArchitecture(ctx, []int{784, 500, 10})), []string{"wide", "narrow", "cifar"}},
		{"architecture filtered", must(s.ByArchitecture(ctx, []int{784, 40, 10}, search.Dataset("cifar10"))), []string{"cifar"}},
		{"performance", must(s.ByPerformance(ctx)), []string{"wide", "narrow", "cifar", "untrained"}},
		{"performance bounded", must(s.ByPerformance(ctx, search.MinAccuracy(0.9), search.Dataset("mnist"))), []string{"wide", "narrow"}},
		{"min accuracy 0 still needs an accuracy", must(s.ByPerformance(ctx, search.MinAccuracy(0))), []string{"wide", "narrow", "cifar"}},
		{"max parameters", must(s.ByPerformance(ctx, search.MaxParameters(784*40+40+40*10+10))), []string{"narrow"}},
		{"hypothesis", must(s.ByHypothesis(ctx, "h1")), []string{"narrow", "cifar"}},
		{"hypothesis limited", must(s.ByHypothesis(ctx, "h1", search.Limit(1))), []string{"narrow"}},
		{"where from Go values", must(s.ByPerformance(ctx, search.Where(where))), []string{"narrow"}},
		{"where document", must(s.ByPerformance(ctx, search.WhereDocument(&search.DocFilter{Op: "$contains", Text: "cifar10"}))), []string{"cifar"}},
		{"similar", must(s.SimilarExperiments(ctx, map[string]any{"architecture": []int{784, 512, 10},
			"final_performance": map[string]any{"accuracy": 0.97}, "config": map[string]any{"dataset": "mnist", "epochs": 20}}, search.Limit(1))), []string{"wide"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := resultIDs(c.got); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	near := must(s.ByArchitecture(ctx, []int{784, 40, 10}, search.Limit(1)))[0]
	if !near.Scored || near.Similarity < 0.99999 || near.Distance > 1e-5 || near.Metadata["team"] != "a" || near.Metadata["seed"] != int64(3) {
		t.Fatalf("nearest %+v", near)
	}
	if best := must(s.ByPerformance(ctx, search.Limit(1)))[0]; best.Scored || best.Metadata["config.lr"] != 0.5 || best.Metadata["epochs"] != int64(20) {
		t.Fatalf("best %+v", best)
	}
	e, err := s.Get(ctx, "wide")
	if err != nil {
		t.Fatal(err)
	}
	data, err := e.Data()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Document, `"architecture":[784,512,10]`) || data["config"].(map[string]any)["lr"] != 0.5 {
		t.Fatalf("document %s, data %v", e.Document, data)
	}
}

func TestSearchOptionErrors(t *testing.T) {
	s := goSearcher(t)
	ctx := context.Background()
	nan := func() float64 { var z float64; return z / z }()
	cases := []struct {
		name string
		err  error
		msg  string
	}{
		{"limit 0", second(s.ByPerformance(ctx, search.Limit(0))), "n_results must be positive, got 0"},
		{"limit over the cap", second(s.SimilarExperiments(ctx, nil, search.Limit(21))), "exceeds max_n_results 20"},
		{"NaN accuracy", second(s.ByPerformance(ctx, search.MinAccuracy(nan))), "min_accuracy is NaN"},
		{"NaN parameters", second(s.ByPerformance(ctx, search.MaxParameters(nan))), "max_parameters is NaN"},
		{"no layers", second(s.ByArchitecture(ctx, nil)), "no layers"},
		{"documents of architectures", second(s.ByArchitecture(ctx, []int{1, 2}, search.WhereDocument(&search.DocFilter{Op: "$contains", Text: "x"}))), "where_document does not apply"},
		{"a channel in an experiment", s.Index(ctx, []search.Item{{ID: "x", Experiment: map[string]any{"config": map[string]any{"c": make(chan int)}}}}), "config.c: a chan int cannot be used"},
		{"no experiment", s.Index(ctx, []search.Item{{ID: "x"}}), `experiment "x" has no data`},
		{"bad where value", second(search.ParseWhere(map[string]any{"a": struct{}{}})), "where: a: a struct {} cannot be used"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !errors.Is(c.err, errs.ErrInvalid) || !strings.Contains(c.err.Error(), c.msg) {
				t.Fatalf("want an invalid-argument error mentioning %q, got %v", c.msg, c.err)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }
