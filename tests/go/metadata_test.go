package dataset_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/metadata"
)

func TestMetadataStoreRoundTrip(t *testing.T) {
	s, err := metadata.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetDataset("mnist"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("missing dataset: %v", err)
	}
	d := metadata.Dataset{DatasetName: "mnist", Version: "1.0", NumSamples: 70000, Shape: []int{1, 28, 28}, Checksum: "sha256:x"}
	if err := s.PutDataset(d); err != nil {
		t.Fatal(err)
	}
	d.NumSamples = 10
	if err := s.PutDataset(d); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDataset("mnist")
	if err != nil || got.NumSamples != 10 || got.Checksum != "sha256:x" {
		t.Fatalf("got %+v, %v", got, err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				split := []string{"train", "test"}[i%2]
				if _, err := s.TrackUsage(metadata.Usage{ExperimentID: fmt.Sprintf("e%d", w), DatasetName: "mnist", SubsetUsed: split, SamplesUsed: 2}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	all, _ := s.History("mnist", "")
	mine, _ := s.History("", "e3")
	if len(all) != 200 || len(mine) != 25 {
		t.Fatalf("history: %d total, %d for e3", len(all), len(mine))
	}
	st, err := s.Stats("mnist")
	if err != nil || st.TotalUses != 200 || st.UniqueExperiments != 8 || st.TotalSamplesUsed != 400 || st.SubsetDistribution["train"] != 8*13 {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if _, err := s.TrackUsage(metadata.Usage{DatasetName: "mnist"}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("usage without experiment: %v", err)
	}
}

func TestMetadataCorruptDatabaseIsNeverReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metadata.db")
	junk := []byte("not a database, just text that happens to be long enough to look like a file header........")
	os.WriteFile(path, junk, 0o644)
	if _, err := metadata.Open(dir); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(junk) {
		t.Fatal("the corrupt database was modified")
	}
}
