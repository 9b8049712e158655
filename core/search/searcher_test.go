package search_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

func TestSearcherEmbedded(t *testing.T) {
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
		items = append(items, search.Item{ID: fmt.Sprintf("e%02d", i), Experiment: object(t, data), Document: data})
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
	sim, err := s.SimilarExperiments(ctx, items[4].Experiment, search.Limit(5), search.Where(parseWhere(t, `{"dataset": "mnist"}`)))
	if err != nil || sim[0].ID != "e04" || len(sim) != 5 {
		t.Fatalf("similar: %+v %v", sim, err)
	}
	for _, r := range sim {
		if r.Metadata["dataset"] != "mnist" || !r.Scored || r.Similarity > 1.000001 || r.Similarity < -1 {
			t.Fatalf("hit %+v", r)
		}
	}
	_, err = s.SimilarExperiments(ctx, map[string]any{}, search.Limit(51))
	wantKind(t, err, errs.ErrInvalid, "max_n_results")
	e, err := s.Get(ctx, "e03")
	if err != nil || e.Document != items[3].Document {
		t.Fatalf("get: %s %v", e.Document, err)
	}
	_, err = s.Get(ctx, "missing")
	wantKind(t, err, errs.ErrNotFound, "missing")
	// Re-indexing without an architecture drops it from the architecture collection.
	if err := s.Index(ctx, []search.Item{{ID: "e07", Experiment: object(t, `{"final_performance": {"accuracy": 0.1}}`)}}); err != nil {
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
	wantKind(t, s2.Reset(ctx), errs.ErrInvalid, "allow_reset")
}
