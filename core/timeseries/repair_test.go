package timeseries_test

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/hdf5"

	"github.com/structure-net/structure-net-data/core/errs"
	ts "github.com/structure-net/structure-net-data/core/timeseries"
)

// killWriter starts a writer process appending to id, kills it (SIGKILL)
// once it has acknowledged at least rows appends, and returns how many it
// acknowledged.
func killWriter(t *testing.T, dir, backend, id string, rows int) int {
	t.Helper()
	cmd := helperCmd("append", dir, backend, id, 0)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	acked := 0
	for acked < rows && sc.Scan() {
		acked, _ = strconv.Atoi(sc.Text())
	}
	cmd.Process.Kill()
	for sc.Scan() {
		acked, _ = strconv.Atoi(sc.Text())
	}
	cmd.Wait()
	if acked < rows {
		t.Fatalf("writer stopped at %d rows: %s", acked, stderr.String())
	}
	return acked
}

// plainOpen opens an HDF5 file as h5py.File(path, "r") and h5dump do: read
// only, not in SWMR mode.
func plainOpen(path string) error {
	f, err := hdf5.OpenFile(path, hdf5.F_ACC_RDONLY)
	if err == nil {
		f.Close()
	}
	return err
}

// A writer killed mid-append leaves a file plain HDF5 readers refuse;
// Repair makes it readable by them, with every committed row and no other.
func TestRepairAfterKilledWriter(t *testing.T) {
	dir := t.TempDir()
	acked := killWriter(t, dir, ts.BackendHDF5, "crashed", 150)
	s := openStore(t, dir, ts.BackendHDF5)
	sum, err := s.Summary("crashed")
	if err != nil {
		t.Fatal(err)
	}
	if err := plainOpen(sum.Path); err == nil {
		t.Fatal("the killed writer's file opened in plain read-only mode: the test shows nothing")
	}
	rep, err := s.Repair("crashed")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Repaired || !strings.Contains(rep.Damage, "open for writing") || rep.Path != sum.Path || rep.Backend != ts.BackendHDF5 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Rows < int64(acked) || rep.Rows > int64(acked)+1 {
		t.Fatalf("%d rows kept, %d acknowledged", rep.Rows, acked)
	}
	s.Close() // its read cache holds the file in SWMR mode, which a plain open refuses in one process
	if err := plainOpen(sum.Path); err != nil {
		t.Fatalf("after repair: %v", err)
	}
	s = openStore(t, dir, ts.BackendHDF5)
	h, err := s.Read("crashed", ts.All())
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, h, seq(0, int(rep.Rows)))
	// Clean now: a second repair changes nothing.
	again, err := s.Repair("crashed")
	if err != nil || again.Repaired || again.Damage != "" || again.Rows != rep.Rows {
		t.Fatalf("second repair %+v %v", again, err)
	}
}

// A writer that is alive also has the flags set: Repair refuses, naming it,
// and leaves its file alone.
func TestRepairRefusesALiveWriter(t *testing.T) {
	dir := t.TempDir()
	cmd := helperCmd("hold", dir, ts.BackendHDF5, "live", 0)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper said %q", line)
	}
	s := openStore(t, dir, ts.BackendHDF5)
	_, err := s.Repair("live")
	if !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Repair("never-written"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

// JSON histories: bytes after the last commit (an append cut short) are
// what a repair removes.
func TestRepairJSONTornTail(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, ts.BackendJSON)
	if err := s.Put("torn", epochs(0, 30), nil); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Summary("torn")
	if err != nil {
		t.Fatal(err)
	}
	clean, _ := os.ReadFile(sum.Path)
	f, err := os.OpenFile(sum.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"rows": {"start": 30, "n": 1, "columns": {"epoch": [30], "lo`)
	f.Close()
	rep, err := s.Repair("torn")
	if err != nil || !rep.Repaired || !strings.Contains(rep.Damage, "after the last commit") || rep.Rows != 30 {
		t.Fatalf("report %+v %v", rep, err)
	}
	after, _ := os.ReadFile(sum.Path)
	if len(after) != len(clean) {
		t.Fatalf("file is %d bytes after the repair, %d before the torn append", len(after), len(clean))
	}
	h, err := s.Read("torn", ts.All())
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, h, seq(0, 30))
}
