package metadata_test

// PostgreSQL-only behaviour: a server that restarts or goes away, and the
// errors a user sees for wrong credentials or an unreachable server.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/metadata"
)

// A server restart in the middle of eight writing processes: every write
// retries and succeeds, each record is stored exactly once.
func TestPostgresRestartMidRunLosesNothing(t *testing.T) {
	pg := sharedPG(t)
	uri := pg.freshDB(t)
	probe := mustOpen(t, uri)
	const n = 300
	runs := startWriters(t, uri, 4, n, 4)
	for deadline := time.Now().Add(60 * time.Second); ; {
		st, err := probe.Stats("cifar10")
		if err != nil {
			t.Fatal(err)
		}
		if st.TotalUses >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writers stalled at %d records", st.TotalUses)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pg.stop()
	time.Sleep(time.Second) // the writers meet a dead server for a while
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	if st, err := probe.Stats("cifar10"); err != nil || st.TotalUses >= 8*n {
		t.Fatalf("the restart did not happen mid-run (%v records, %v)", st, err)
	}
	for _, w := range runs {
		if err := w.cmd.Wait(); err != nil {
			t.Fatalf("writer %s: %v\n%s", w.name, err, w.out.String())
		}
	}
	ok, failed := outcome(runs)
	got := storedExperiments(t, uri)
	if len(failed) != 0 || len(ok) != 8*n || len(got) != 8*n {
		t.Fatalf("%d written, %d failed, %d stored; want %d written and stored", len(ok), len(failed), len(got), 8*n)
	}
	for id, c := range got {
		if c != 1 || !ok[id] {
			t.Fatalf("record %s stored %d times (reported written: %v)", id, c, ok[id])
		}
	}
}

// A server down for longer than the retry window: the write fails loudly,
// naming its record and the server; the store works again once the server is
// back, and nothing was stored behind the caller's back.
func TestPostgresWriteFailsLoudlyWhenTheServerStaysDown(t *testing.T) {
	pg := sharedPG(t)
	uri := pg.freshDB(t)
	s, err := metadata.OpenURI(uri, metadata.Options{RetryFor: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.TrackUsage(metadata.Usage{ExperimentID: "before", DatasetName: "mnist"}); err != nil {
		t.Fatal(err)
	}
	pg.stop()
	_, err = s.TrackUsage(metadata.Usage{UsageID: "u-lost-42", ExperimentID: "during", DatasetName: "mnist", SubsetUsed: "train"})
	if startErr := pg.start(); startErr != nil {
		t.Fatal(startErr)
	}
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("write to a stopped server: %v, want ErrUnavailable", err)
	}
	for _, want := range []string{"u-lost-42", `"during"`, fmt.Sprintf("127.0.0.1:%d", pg.port)} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), pgTestPassword) {
		t.Fatalf("error shows the password: %v", err)
	}
	if _, err := s.TrackUsage(metadata.Usage{ExperimentID: "after", DatasetName: "mnist"}); err != nil {
		t.Fatalf("the store did not recover when the server came back: %v", err)
	}
	h, err := s.History("mnist", "")
	if err != nil || len(h) != 2 || h[0].ExperimentID != "before" || h[1].ExperimentID != "after" {
		t.Fatalf("history %+v, %v", h, err)
	}
}

func TestPostgresConnectionErrorsNameTheServerNeverThePassword(t *testing.T) {
	pg := sharedPG(t)
	hostPort := fmt.Sprintf("127.0.0.1:%d", pg.port)
	cases := []struct {
		name, uri, mustName string
		kind                error
	}{
		{"wrong password", fmt.Sprintf("postgresql://%s:Wr0ng-secret-pw@%s/postgres", pgTestUser, hostPort), hostPort, errs.ErrInvalid},
		{"unknown user", fmt.Sprintf("postgresql://nobody_here:Wr0ng-secret-pw@%s/postgres", hostPort), hostPort, errs.ErrInvalid},
		{"missing database", pg.uri("no_such_db"), "no_such_db", errs.ErrNotFound},
		{"nothing listening", fmt.Sprintf("postgresql://%s:%s@127.0.0.1:%d/postgres", pgTestUser, pgTestPassword, freePort()), "127.0.0.1:", errs.ErrUnavailable},
		{"bad port", "postgresql://snd:Wr0ng-secret-pw@127.0.0.1:notaport/db", "***", errs.ErrInvalid},
		{"unknown scheme", "mysql://snd:Wr0ng-secret-pw@127.0.0.1/db", "sqlite:///", errs.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := metadata.OpenURI(c.uri, metadata.Options{})
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want kind %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.mustName) {
				t.Fatalf("error %q does not name %q", err, c.mustName)
			}
			for _, secret := range []string{"Wr0ng-secret-pw", pgTestPassword} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows a password: %v", err)
				}
			}
		})
	}
}
