package search_test

import (
	"context"
	"fmt"
	"os"

	"github.com/structure-net/structure-net-data/core/search"
)

// Index two experiments in an embedded store, then ask for the best cifar10
// run and for the nearest architecture.
func Example() {
	dir, err := os.MkdirTemp("", "search-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := search.Open(ctx, search.Config{PersistDirectory: dir})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	err = s.Index(ctx, []search.Item{
		{ID: "run-a", Experiment: map[string]any{
			"architecture":      []int{3072, 512, 10},
			"final_performance": map[string]any{"accuracy": 0.91},
			"config":            map[string]any{"dataset": "cifar10"},
		}},
		{ID: "run-b", Experiment: map[string]any{
			"architecture":      []int{3072, 64, 10},
			"final_performance": map[string]any{"accuracy": 0.83},
			"config":            map[string]any{"dataset": "cifar10"},
		}},
	})
	if err != nil {
		panic(err)
	}
	best, err := s.ByPerformance(ctx, search.Dataset("cifar10"), search.Limit(1))
	if err != nil {
		panic(err)
	}
	fmt.Println(best[0].Description)
	near, err := s.ByArchitecture(ctx, []int{3072, 80, 10}, search.Limit(1))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s (similarity %.2f)\n", near[0].ID, near[0].Similarity)
	// Output:
	// Experiment run-a | Type: unknown | Architecture: [3072, 512, 10] | Accuracy: 0.910 | Dataset: cifar10
	// run-b (similarity 1.00)
}

// Filters combine: a where clause in Chroma's grammar (here built from Go
// values) and the performance bounds must all hold.
func ExampleSearcher_ByPerformance() {
	dir, err := os.MkdirTemp("", "search-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := search.Open(ctx, search.Config{PersistDirectory: dir})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for i, acc := range []float64{0.95, 0.90, 0.70} {
		err := s.Index(ctx, []search.Item{{
			ID:         fmt.Sprintf("run-%d", i),
			Experiment: map[string]any{"final_performance": map[string]any{"accuracy": acc}, "config": map[string]any{"dataset": "mnist"}},
			Metadata:   map[string]any{"team": []string{"vision", "nlp", "vision"}[i]},
		}})
		if err != nil {
			panic(err)
		}
	}
	team, err := search.ParseWhere(map[string]any{"team": map[string]any{"$in": []string{"vision"}}})
	if err != nil {
		panic(err)
	}
	rs, err := s.ByPerformance(ctx, search.Where(team), search.MinAccuracy(0.8))
	if err != nil {
		panic(err)
	}
	for _, r := range rs {
		fmt.Println(r.ID, r.Metadata["accuracy"])
	}
	// Output:
	// run-0 0.95
}
