package dataset_test

import (
	"context"
	"encoding/json"
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
		{ID: "run-a", Data: json.RawMessage(`{"architecture": [3072, 512, 10], "final_performance": {"accuracy": 0.91}, "config": {"dataset": "cifar10"}}`)},
		{ID: "run-b", Data: json.RawMessage(`{"architecture": [3072, 64, 10], "final_performance": {"accuracy": 0.83}, "config": {"dataset": "cifar10"}}`)},
	})
	if err != nil {
		panic(err)
	}
	ds := "cifar10"
	best, _ := s.ByPerformance(ctx, nil, nil, &ds, 1)
	fmt.Println(best[0].Description)
	near, _ := s.ByArchitecture(ctx, []any{int64(3072), int64(80), int64(10)}, 1, nil)
	fmt.Println(near[0].ID)
	// Output:
	// Experiment run-a | Type: unknown | Architecture: [3072, 512, 10] | Accuracy: 0.910 | Dataset: cifar10
	// run-b
}
