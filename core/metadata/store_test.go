package metadata_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/metadata"
)

func TestStoreRoundTrip(t *testing.T) {
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
}

func TestBadRecordsAreRejected(t *testing.T) {
	s, err := metadata.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cases := []struct {
		name string
		err  error
		msg  string
	}{
		{"dataset without a name", s.PutDataset(metadata.Dataset{DatasetName: "  "}), "dataset_name is empty"},
		{"negative samples", s.PutDataset(metadata.Dataset{DatasetName: "x", NumSamples: -1}), "must not be negative"},
		{"negative size", s.PutDataset(metadata.Dataset{DatasetName: "x", SizeBytes: -1}), "must not be negative"},
		{"usage without experiment", second(s.TrackUsage(metadata.Usage{DatasetName: "mnist"})), "experiment_id and dataset_name are required"},
		{"usage without dataset", second(s.TrackUsage(metadata.Usage{ExperimentID: "e"})), "experiment_id and dataset_name are required"},
		{"negative samples used", second(s.TrackUsage(metadata.Usage{ExperimentID: "e", DatasetName: "d", SamplesUsed: -5})), "samples_used must not be negative"},
		{"unknown dataset", second(s.GetDataset("nope")), `no metadata recorded for dataset "nope"`},
		{"empty directory", second(metadata.Open("")), "empty directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil || !strings.Contains(c.err.Error(), c.msg) {
				t.Fatalf("want an error mentioning %q, got %v", c.msg, c.err)
			}
			kind := errs.ErrInvalid
			if c.name == "unknown dataset" {
				kind = errs.ErrNotFound
			}
			if !errors.Is(c.err, kind) {
				t.Fatalf("%v is not %v", c.err, kind)
			}
		})
	}
	if h, err := s.History("", ""); err != nil || len(h) != 0 {
		t.Fatalf("rejected records were stored: %v %v", h, err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestCorruptDatabaseIsNeverReplaced(t *testing.T) {
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
