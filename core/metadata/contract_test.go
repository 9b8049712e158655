package metadata_test

// One contract for both backends: every test here runs against a SQLite file
// and a database on a real PostgreSQL server.

import (
	"bufio"
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/metadata"
)

// eachBackend runs fn once per backend with the URI of a fresh, empty database.
func eachBackend(t *testing.T, fn func(t *testing.T, uri string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, "sqlite://"+filepath.Join(t.TempDir(), "meta", "metadata.db"))
	})
	t.Run("postgresql", func(t *testing.T) {
		fn(t, sharedPG(t).freshDB(t))
	})
}

func mustOpen(t *testing.T, uri string) *metadata.Store {
	t.Helper()
	s, err := metadata.OpenURI(uri, metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens the database underneath the store, to tamper with it.
func rawDB(t *testing.T, uri string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", uri
	if path, ok := strings.CutPrefix(uri, "sqlite://"); ok {
		driver, dsn = "sqlite3", path
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestContractRoundTripAndConcurrentWriters(t *testing.T) {
	eachBackend(t, func(t *testing.T, uri string) {
		s := mustOpen(t, uri)
		if _, err := s.GetDataset("mnist"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("missing dataset: %v", err)
		}
		d := metadata.Dataset{DatasetName: "mnist", Version: "1.0", NumSamples: 70000, Shape: []int{1, 28, 28}, Checksum: "sha256:x",
			Statistics: map[string]any{"mean": []any{0.1307}}}
		if err := s.PutDataset(d); err != nil {
			t.Fatal(err)
		}
		d.NumSamples = 10
		if err := s.PutDataset(d); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetDataset("mnist")
		if err != nil || got.NumSamples != 10 || got.Checksum != "sha256:x" || got.Statistics["mean"].([]any)[0] != 0.1307 {
			t.Fatalf("got %+v, %v", got, err)
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
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
		for i := 1; i < len(all); i++ {
			if all[i].Timestamp < all[i-1].Timestamp {
				t.Fatalf("history out of time order at %d", i)
			}
		}
		st, err := s.Stats("mnist")
		if err != nil || st.TotalUses != 200 || st.UniqueExperiments != 8 || st.TotalSamplesUsed != 400 || st.SubsetDistribution["train"] != 8*13 {
			t.Fatalf("stats %+v, %v", st, err)
		}
		if st, err := s.Stats("never"); err != nil || st.TotalUses != 0 || st.FirstUsed != "" {
			t.Fatalf("stats of an unused dataset %+v, %v", st, err)
		}
		if _, err := s.TrackUsage(metadata.Usage{DatasetName: "mnist"}); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("usage without experiment: %v", err)
		}
		id, err := s.TrackUsage(metadata.Usage{UsageID: "fixed-id", ExperimentID: "e", DatasetName: "mnist"})
		if err != nil || id != "fixed-id" {
			t.Fatal(id, err)
		}
		if _, err := s.TrackUsage(metadata.Usage{UsageID: "fixed-id", ExperimentID: "other", DatasetName: "mnist"}); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("a reused usage id: %v, want ErrConflict", err)
		}
	})
}

func TestContractRecordsSurviveReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, uri string) {
		s, err := metadata.OpenURI(uri, metadata.Options{})
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.TrackUsage(metadata.Usage{ExperimentID: "e1", DatasetName: "cifar10", SubsetUsed: "train", SamplesUsed: 5, Transforms: []string{"flip"}})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		again := mustOpen(t, uri)
		h, err := again.History("cifar10", "e1")
		if err != nil || len(h) != 1 || h[0].UsageID != id || h[0].Transforms[0] != "flip" || h[0].SamplesUsed != 5 {
			t.Fatalf("after reopening: %+v, %v", h, err)
		}
	})
}

func TestContractSchemaVersionIsRecordedAndNewerRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, uri string) {
		s := mustOpen(t, uri)
		if _, err := s.TrackUsage(metadata.Usage{ExperimentID: "e", DatasetName: "d"}); err != nil {
			t.Fatal(err)
		}
		db := rawDB(t, uri)
		var v int
		if err := db.QueryRow(`SELECT MAX(version) FROM snd_schema_version`).Scan(&v); err != nil || v != metadata.SchemaVersion {
			t.Fatalf("recorded version %d, %v", v, err)
		}
		if _, err := db.Exec(`INSERT INTO snd_schema_version(version, applied_at) VALUES(99, 'the future')`); err != nil {
			t.Fatal(err)
		}
		_, err := metadata.OpenURI(uri, metadata.Options{})
		if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), "schema version 99") || !strings.Contains(err.Error(), "upgrade") {
			t.Fatalf("a newer schema: %v", err)
		}
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM usage`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("the refused database was changed: %d records, %v", n, err)
		}
	})
}

// The first release made SQLite files without a version table: opening one
// records version 1 and keeps its records.
func TestSQLiteDatabaseFromBeforeVersioningIsMigrated(t *testing.T) {
	uri := "sqlite://" + filepath.Join(t.TempDir(), "metadata.db")
	db := rawDB(t, uri)
	for _, stmt := range []string{
		`CREATE TABLE datasets (name TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at TEXT NOT NULL)`,
		`CREATE TABLE usage (usage_id TEXT PRIMARY KEY, experiment_id TEXT NOT NULL, dataset_name TEXT NOT NULL,
			timestamp TEXT NOT NULL, subset_used TEXT NOT NULL, samples_used INTEGER NOT NULL, doc TEXT NOT NULL)`,
		`INSERT INTO usage VALUES ('old1', 'e0', 'mnist', '2020-01-01T00:00:00Z', 'train', 7,
			'{"usage_id":"old1","experiment_id":"e0","dataset_name":"mnist","timestamp":"2020-01-01T00:00:00Z","subset_used":"train","samples_used":7}')`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	s := mustOpen(t, uri)
	if _, err := s.TrackUsage(metadata.Usage{ExperimentID: "e1", DatasetName: "mnist", SubsetUsed: "test"}); err != nil {
		t.Fatal(err)
	}
	h, err := s.History("mnist", "")
	if err != nil || len(h) != 2 || h[0].UsageID != "old1" || h[0].SamplesUsed != 7 {
		t.Fatalf("history after migrating: %+v, %v", h, err)
	}
	var v int
	if err := db.QueryRow(`SELECT MAX(version) FROM snd_schema_version`).Scan(&v); err != nil || v != metadata.SchemaVersion {
		t.Fatalf("version after migrating: %d, %v", v, err)
	}
}

// Stores opening one empty database at the same moment all succeed: the
// schema is created once.
func TestContractConcurrentFirstOpens(t *testing.T) {
	eachBackend(t, func(t *testing.T, uri string) {
		var wg sync.WaitGroup
		errsSeen := make(chan error, 6)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := metadata.OpenURI(uri, metadata.Options{})
				if err == nil {
					_, err = s.TrackUsage(metadata.Usage{ExperimentID: "e", DatasetName: "d"})
					s.Close()
				}
				errsSeen <- err
			}()
		}
		wg.Wait()
		close(errsSeen)
		for err := range errsSeen {
			if err != nil {
				t.Fatal(err)
			}
		}
		var versions int
		if err := rawDB(t, uri).QueryRow(`SELECT COUNT(*) FROM snd_schema_version`).Scan(&versions); err != nil || versions != metadata.SchemaVersion {
			t.Fatalf("%d version rows, %v", versions, err)
		}
	})
}

// ---- many processes ------------------------------------------------------------------------------

// TestMetadataWriterProcess is a child process of the multi-process tests
// (the test binary re-executed); it does nothing in a normal run.
func TestMetadataWriterProcess(t *testing.T) {
	uri := os.Getenv("SND_TEST_WRITER_URI")
	if uri == "" {
		return
	}
	name := os.Getenv("SND_TEST_WRITER_NAME")
	n, _ := strconv.Atoi(os.Getenv("SND_TEST_WRITER_COUNT"))
	s, err := metadata.OpenURI(uri, metadata.Options{})
	if err != nil {
		fmt.Println("OPEN-FAILED", err)
		os.Exit(3)
	}
	defer s.Close()
	pause, _ := strconv.Atoi(os.Getenv("SND_TEST_WRITER_PAUSE_MS"))
	failed := 0
	for i := range n {
		time.Sleep(time.Duration(pause) * time.Millisecond)
		exp := fmt.Sprintf("%s-%d", name, i)
		if _, err := s.TrackUsage(metadata.Usage{ExperimentID: exp, DatasetName: "cifar10", SubsetUsed: "train", SamplesUsed: 1}); err != nil {
			fmt.Println("FAILED", exp, err)
			failed++
			continue
		}
		fmt.Println("OK", exp)
	}
	if failed > 0 {
		os.Exit(4)
	}
}

type writerRun struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer
}

// startWriters starts processes of two groups (two "nodes", each with its
// own HOME and TMPDIR) that record n usage records each.
func startWriters(t *testing.T, uri string, perGroup, n, pauseMS int) []*writerRun {
	var runs []*writerRun
	for _, node := range []string{"nodeA", "nodeB"} {
		home := filepath.Join(t.TempDir(), node)
		os.MkdirAll(home, 0o755)
		for p := range perGroup {
			w := &writerRun{name: fmt.Sprintf("%s-p%d", node, p)}
			w.cmd = exec.Command(os.Args[0], "-test.run=^TestMetadataWriterProcess$", "-test.count=1")
			w.cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+home, "SND_TEST_WRITER_URI="+uri,
				"SND_TEST_WRITER_NAME="+w.name, fmt.Sprintf("SND_TEST_WRITER_COUNT=%d", n), fmt.Sprintf("SND_TEST_WRITER_PAUSE_MS=%d", pauseMS))
			w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
			if err := w.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			runs = append(runs, w)
		}
	}
	return runs
}

// outcome is what the writers said: records they wrote and records they reported failed.
func outcome(runs []*writerRun) (ok, failed map[string]bool) {
	ok, failed = map[string]bool{}, map[string]bool{}
	for _, w := range runs {
		sc := bufio.NewScanner(bytes.NewReader(w.out.Bytes()))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "OK" {
				ok[f[1]] = true
			} else if len(f) >= 2 && f[0] == "FAILED" {
				failed[f[1]] = true
			}
		}
	}
	return ok, failed
}

func storedExperiments(t *testing.T, uri string) map[string]int {
	s := mustOpen(t, uri)
	h, err := s.History("cifar10", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, u := range h {
		got[u.ExperimentID]++
	}
	return got
}

func TestContractEightProcessesOnTwoNodesLoseNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, uri string) {
		mustOpen(t, uri) // create the schema first, as a deployment would
		const n = 60
		runs := startWriters(t, uri, 4, n, 0)
		for _, w := range runs {
			if err := w.cmd.Wait(); err != nil {
				t.Fatalf("writer %s: %v\n%s", w.name, err, w.out.String())
			}
		}
		got := storedExperiments(t, uri)
		if len(got) != 8*n {
			t.Fatalf("%d distinct records stored, want %d", len(got), 8*n)
		}
		for _, w := range runs {
			for i := range n {
				if c := got[fmt.Sprintf("%s-%d", w.name, i)]; c != 1 {
					t.Fatalf("record %s-%d stored %d times", w.name, i, c)
				}
			}
		}
	})
}

func TestOpenURIRejectsMalformedURIs(t *testing.T) {
	for _, uri := range []string{"", "sqlite://", "sqlite:///tmp/x.db?mode=ro", "metadata.db", "mysql://u@h/db"} {
		if _, err := metadata.OpenURI(uri, metadata.Options{}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("OpenURI(%q) = %v, want ErrInvalid", uri, err)
		}
	}
}
