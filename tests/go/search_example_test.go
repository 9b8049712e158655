package dataset_test

import (
	"context"
	"fmt"
	"os"

	"github.com/structure-net/structure-net-data/core/search"
)

// Example_search indexes two experiments in an embedded store and asks for
// the best cifar10 run and the nearest architecture.
func Example_search() {
	dir, _ := os.MkdirTemp("", "search-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := search.Open(ctx, search.Config{PersistDirectory: dir})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	err = s.Index(ctx, []search.Item{
		{ID: "run-a", Experiment: map[string]any{"architecture": []int{3072, 512, 10}, "final_performance": map[string]any{"accuracy": 0.91}, "config": map[string]any{"dataset": "cifar10"}}},
		{ID: "run-b", Experiment: map[string]any{"architecture": []int{3072, 64, 10}, "final_performance": map[string]any{"accuracy": 0.83}, "config": map[string]any{"dataset": "cifar10"}}},
	})
	if err != nil {
		panic(err)
	}
	best, _ := s.ByPerformance(ctx, search.Dataset("cifar10"), search.Limit(1))
	fmt.Println(best[0].Description)
	near, _ := s.ByArchitecture(ctx, []int{3072, 80, 10}, search.Limit(1))
	fmt.Println(near[0].ID)
	// Output:
	// Experiment run-a | Type: unknown | Architecture: [3072, 512, 10] | Accuracy: 0.910 | Dataset: cifar10
	// run-b
}
