package timeseries_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/hdf5"

	"github.com/structure-net/structure-net-data/core/errs"
	ts "github.com/structure-net/structure-net-data/core/timeseries"
)

var backends = []string{ts.BackendHDF5, ts.BackendJSON}

func openStore(t *testing.T, dir, backend string) *ts.Store {
	t.Helper()
	s, err := ts.Open(ts.Options{Dir: dir, Backend: backend, ChunkRows: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The deterministic history every test and helper process writes: row i
// holds epoch i, lossAt(i), accAt(i), ...
func lossAt(i int) float64 { return 1/float64(i+1) + float64(i)*1e-6 }
func accAt(i int) float64  { return float64(i%100) / 100 }

func epochs(lo, hi int) *ts.Table {
	n := hi - lo
	t := &ts.Table{Rows: n, Columns: []ts.Column{
		{Name: "epoch", Kind: ts.KindInt64, I: make([]int64, n)},
		{Name: "loss", Kind: ts.KindFloat64, F: make([]float64, n)},
		{Name: "val_acc", Kind: ts.KindFloat64, F: make([]float64, n)},
		{Name: "improved", Kind: ts.KindBool, B: make([]bool, n)},
		{Name: "note", Kind: ts.KindString, S: make([]string, n), Valid: make([]bool, n)},
	}}
	for k := 0; k < n; k++ {
		i := lo + k
		t.Columns[0].I[k] = int64(i)
		t.Columns[1].F[k] = lossAt(i)
		t.Columns[2].F[k] = accAt(i)
		t.Columns[3].B[k] = i%2 == 0
		if i%3 == 0 {
			t.Columns[4].S[k], t.Columns[4].Valid[k] = "n"+strconv.Itoa(i), true
		}
	}
	return t
}

// checkRows verifies that h holds rows `want` (history positions) of epochs.
func checkRows(t *testing.T, h *ts.History, want []int) {
	t.Helper()
	if h.Table.Rows != len(want) {
		t.Fatalf("%d rows, want %d", h.Table.Rows, len(want))
	}
	cols := map[string]*ts.Column{}
	for i := range h.Table.Columns {
		cols[h.Table.Columns[i].Name] = &h.Table.Columns[i]
	}
	for k, i := range want {
		note := cols["note"]
		present := note.Valid == nil || note.Valid[k]
		if cols["epoch"].I[k] != int64(i) || cols["loss"].F[k] != lossAt(i) || cols["val_acc"].F[k] != accAt(i) ||
			cols["improved"].B[k] != (i%2 == 0) || present != (i%3 == 0) || (present && note.S[k] != "n"+strconv.Itoa(i)) {
			t.Fatalf("row %d (position %d) is wrong: epoch %d loss %v acc %v improved %v note %q/%v",
				k, i, cols["epoch"].I[k], cols["loss"].F[k], cols["val_acc"].F[k], cols["improved"].B[k], note.S[k], present)
		}
	}
}

func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

func TestRoundTripAndSelections(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			s := openStore(t, t.TempDir(), backend)
			if err := s.Put("exp_001", epochs(0, 300), json.RawMessage(`{"model":"resnet50"}`)); err != nil {
				t.Fatal(err)
			}
			h, err := s.Read("exp_001", ts.All())
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, h, seq(0, 300))
			if string(h.Metadata) != `{"model":"resnet50"}` || h.TotalRows != 300 || h.Backend != backend {
				t.Fatalf("metadata %s rows %d backend %s", h.Metadata, h.TotalRows, h.Backend)
			}
			neg := func(v int64) *int64 { return &v }
			for name, tc := range map[string]struct {
				sel  ts.Selection
				want []int
			}{
				"last 10":      {ts.Last(10), seq(290, 300)},
				"index -1":     {ts.Selection{Kind: "index", Index: -1}, []int{299}},
				"index 0":      {ts.Selection{Kind: "index", Index: 0}, []int{0}},
				"step 7":       {ts.Selection{Kind: "slice", Start: neg(5), Stop: neg(60), Step: neg(7)}, []int{5, 12, 19, 26, 33, 40, 47, 54}},
				"reverse":      {ts.Selection{Kind: "slice", Start: neg(-2), Stop: neg(-6), Step: neg(-1)}, []int{298, 297, 296, 295}},
				"list":         {ts.Selection{Kind: "list", Indices: []int64{250, -300, 3, 3, 130}}, []int{250, 0, 3, 3, 130}},
				"contig list":  {ts.Selection{Kind: "list", Indices: []int64{12, 10, 11}}, []int{12, 10, 11}},
				"empty":        {ts.Selection{Kind: "slice", Start: neg(50), Stop: neg(10)}, nil},
				"past the end": {ts.Selection{Kind: "slice", Start: neg(280), Stop: neg(1000)}, seq(280, 300)},
			} {
				h, err := s.Read("exp_001", tc.sel)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				checkRows(t, h, tc.want)
			}
			if _, err := s.Read("exp_001", ts.Selection{Kind: "index", Index: 300}); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("out of range: %v", err)
			}
			if _, err := s.Read("nope", ts.All()); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
		})
	}
}

func TestSummaryMatchesTheData(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			s := openStore(t, t.TempDir(), backend)
			tb := epochs(0, 200)
			tb.Columns[1].F[17] = math.NaN()
			tb.Columns[1].F[199] = math.NaN()
			if err := s.Put("e", tb, nil); err != nil {
				t.Fatal(err)
			}
			for lo := 200; lo < 230; lo += 10 {
				if err := s.Append("e", epochs(lo, lo+10), nil); err != nil {
					t.Fatal(err)
				}
			}
			sum, err := s.Summary("e")
			if err != nil {
				t.Fatal(err)
			}
			if sum.NumEpochs != 230 || sum.ExperimentID != "e" {
				t.Fatalf("%+v", sum)
			}
			// An independent computation over the values written.
			var minV, maxV, total float64 = math.Inf(1), math.Inf(-1), 0
			argmin, count := -1, 0
			for i := 0; i < 230; i++ {
				if i == 17 || i == 199 {
					continue
				}
				v := lossAt(i)
				total += v
				count++
				if v < minV {
					minV, argmin = v, i
				}
				maxV = math.Max(maxV, v)
			}
			byName := map[string]ts.ColumnSummary{}
			for _, c := range sum.Columns {
				byName[c.Name] = c
			}
			loss := byName["loss"]
			if loss.Count != int64(count) || loss.NaNCount != 2 || loss.Min != ts.Number(minV) || loss.Max != ts.Number(maxV) ||
				math.Abs(float64(loss.Mean.(ts.Number))-total/float64(count)) > 1e-15 || *loss.ArgMin != int64(argmin) ||
				loss.Final != ts.Number(lossAt(229)) || *loss.FinalIndex != 229 {
				t.Fatalf("loss summary %+v (min %v@%d max %v mean %v)", loss, minV, argmin, maxV, total/float64(count))
			}
			note := byName["note"]
			if note.Count != 77 || note.Missing != 153 || *note.FinalIndex != 228 {
				t.Fatalf("note summary %+v", note)
			}
			improved := byName["improved"]
			if improved.Final != false || improved.Mean != ts.Number(0.5) || improved.Max != true {
				t.Fatalf("bool summary %+v", improved)
			}
			if b := sum.Best["val_acc"]; b == nil || b.Mode != "max" || b.Value != ts.Number(0.99) || b.Index != 99 {
				t.Fatalf("best acc %+v", b)
			}
			if b := sum.Best["loss"]; b == nil || b.Mode != "min" || b.Index != int64(argmin) {
				t.Fatalf("best loss %+v", b)
			}
		})
	}
}

// The two backends give the same rows and the same summary for the same
// sequence of writes, schema changes included.
func TestBackendsAgree(t *testing.T) {
	results := map[string][2]string{}
	for _, backend := range backends {
		s := openStore(t, t.TempDir(), backend)
		if err := s.Put("p", epochs(0, 100), json.RawMessage(`{"a":1}`)); err != nil {
			t.Fatal(err)
		}
		w, err := s.OpenWriter("p", nil)
		if err != nil {
			t.Fatal(err)
		}
		steps := []*ts.Table{
			epochs(100, 110),
			{Rows: 2, Columns: []ts.Column{{Name: "lr", Kind: ts.KindInt64, I: []int64{1, 2}}}},
			{Rows: 1, Columns: []ts.Column{{Name: "lr", Kind: ts.KindFloat64, F: []float64{0.5}}, {Name: "cfg", Kind: ts.KindJSON, S: []string{`{"x":[1,2]}`}}}},
			{Rows: 1, Columns: []ts.Column{{Name: "loss", Kind: ts.KindFloat64, F: []float64{math.Inf(1)}}}},
		}
		for _, st := range steps {
			if err := w.Append(st); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		h, err := s.Read("p", ts.All())
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := json.Marshal(tableJSON(h.Table))
		sum, err := s.Summary("p")
		if err != nil {
			t.Fatal(err)
		}
		sum.Backend, sum.Path, sum.Created, sum.Updated = "", "", "", ""
		sj, _ := ts.MarshalSummary(sum)
		results[backend] = [2]string{string(rows), string(sj)}
	}
	if results["hdf5"][0] != results["json"][0] {
		t.Fatalf("rows differ:\nhdf5 %s\njson %s", results["hdf5"][0], results["json"][0])
	}
	if results["hdf5"][1] != results["json"][1] {
		t.Fatalf("summaries differ:\nhdf5 %s\njson %s", results["hdf5"][1], results["json"][1])
	}
	if !strings.Contains(results["hdf5"][0], `"lr"`) || !strings.Contains(results["hdf5"][1], `"num_epochs":114`) {
		t.Fatalf("unexpected result %s", results["hdf5"][1])
	}
}

// tableJSON renders a table comparably (NaN and inf as strings).
func tableJSON(t *ts.Table) []map[string]any {
	out := make([]map[string]any, 0, len(t.Columns))
	for _, c := range t.Columns {
		m := map[string]any{"name": c.Name, "kind": c.Kind.String(), "valid": c.Valid, "i": c.I, "b": c.B, "s": c.S}
		f := make([]string, len(c.F))
		for i, v := range c.F {
			f[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		m["f"] = f
		out = append(out, m)
	}
	return out
}

func TestFilesAreReadableWithoutThisPackage(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, ts.BackendHDF5)
	if err := s.Put("exp/../gonum", epochs(0, 500), nil); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Summary("exp/../gonum")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(sum.Path) != dir {
		t.Fatalf("file %s is outside %s", sum.Path, dir)
	}
	readWithGonum := func(path string, flags int) {
		t.Helper()
		f, err := hdf5.OpenFile(path, flags)
		if err != nil {
			t.Fatalf("gonum open %s: %v", path, err)
		}
		defer f.Close()
		loss, err := f.OpenDataset("loss")
		if err != nil {
			t.Fatal(err)
		}
		defer loss.Close()
		dims, _, err := loss.Space().SimpleExtentDims()
		if err != nil || len(dims) != 1 {
			t.Fatalf("dims %v %v", dims, err)
		}
		got := make([]float64, dims[0])
		if err := loss.Read(&got); err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if v != lossAt(i) {
				t.Fatalf("gonum: loss[%d] = %v, want %v", i, v, lossAt(i))
			}
		}
		epoch, err := f.OpenDataset("epoch")
		if err != nil {
			t.Fatal(err)
		}
		defer epoch.Close()
		ep := make([]int64, dims[0])
		if err := epoch.Read(&ep); err != nil || ep[len(ep)-1] != int64(len(ep)-1) {
			t.Fatalf("gonum epoch %v %v", ep[len(ep)-1], err)
		}
	}
	// libhdf5 opens a file once per process: close the store, whose read
	// cache holds it in SWMR-read mode, before a plain read-only open.
	s.Close()
	readWithGonum(sum.Path, hdf5.F_ACC_RDONLY)
	// While a writer streams to it, an SWMR reader (flag 0x0040) sees every appended row.
	s = openStore(t, dir, ts.BackendHDF5)
	w, err := s.OpenWriter("exp/../gonum", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(epochs(500, 520)); err != nil {
		t.Fatal(err)
	}
	readWithGonum(sum.Path, hdf5.F_ACC_RDONLY|0x0040)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	readWithGonum(sum.Path, hdf5.F_ACC_RDONLY)
}

func TestHostileIDs(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "store")
			s := openStore(t, dir, backend)
			ids := []string{"../../etc/x", "/etc/passwd", "a/b/c", "..", ".", "ünï/实验", strings.Repeat("long-", 800), "-rf", "x\ny"}
			for i, id := range ids {
				if err := s.Put(id, epochs(0, i+1), nil); err != nil {
					t.Fatalf("%q: %v", id, err)
				}
			}
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(ids)
			slices.Sort(want)
			if !slices.Equal(list, want) {
				t.Fatalf("List = %q\nwant %q", list, want)
			}
			for i, id := range ids {
				h, err := s.Read(id, ts.All())
				if err != nil {
					t.Fatalf("%q: %v", id, err)
				}
				checkRows(t, h, seq(0, i+1))
			}
			// Nothing was written outside the store folder.
			entries, _ := os.ReadDir(parent)
			if len(entries) != 1 || entries[0].Name() != "store" {
				t.Fatalf("parent holds %v", entries)
			}
			for _, id := range ids {
				if err := s.Delete(id); err != nil {
					t.Fatalf("delete %q: %v", id, err)
				}
			}
			if list, _ := s.List(); len(list) != 0 {
				t.Fatalf("after delete: %q", list)
			}
			if err := s.Delete("../../etc/x"); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
			for _, bad := range []string{"", "a\x00b", "\xff"} {
				if err := s.Put(bad, epochs(0, 1), nil); !errors.Is(err, errs.ErrInvalid) {
					t.Fatalf("id %q: %v", bad, err)
				}
			}
		})
	}
}

func TestOneWriterPerExperiment(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, backend)
			w, err := s.OpenWriter("run", nil)
			if err != nil {
				t.Fatal(err)
			}
			other := openStore(t, dir, backend)
			if _, err := other.OpenWriter("run", nil); !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), "pid") {
				t.Fatalf("second writer: %v", err)
			}
			if err := other.Put("run", epochs(0, 1), nil); !errors.Is(err, errs.ErrConflict) {
				t.Fatalf("put during writing: %v", err)
			}
			if err := other.Delete("run"); !errors.Is(err, errs.ErrConflict) {
				t.Fatalf("delete during writing: %v", err)
			}
			// Other experiments are not blocked.
			if err := other.Put("other", epochs(0, 3), nil); err != nil {
				t.Fatal(err)
			}
			if err := w.Append(epochs(0, 5)); err != nil {
				t.Fatal(err)
			}
			// Reads go on while the writer holds the lock.
			h, err := other.Read("run", ts.All())
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, h, seq(0, 5))
			if err := w.Close(); err != nil || w.Close() != nil {
				t.Fatal(err)
			}
			if err := w.Append(epochs(5, 6)); !errors.Is(err, errs.ErrClosed) {
				t.Fatalf("append after close: %v", err)
			}
			if err := other.Append("run", epochs(5, 8), nil); err != nil {
				t.Fatal(err)
			}
			if err := other.Finish("run"); err != nil {
				t.Fatal(err)
			}
			h, err = s.Read("run", ts.All())
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, h, seq(0, 8))
		})
	}
}

func TestEmptyAndTypeChanges(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			s := openStore(t, t.TempDir(), backend)
			if err := s.Put("empty", &ts.Table{}, nil); err != nil {
				t.Fatal(err)
			}
			h, err := s.Read("empty", ts.Last(10))
			if err != nil || h.Table.Rows != 0 || h.TotalRows != 0 {
				t.Fatalf("%+v %v", h, err)
			}
			sum, err := s.Summary("empty")
			if err != nil || sum.NumEpochs != 0 || len(sum.Columns) != 0 {
				t.Fatalf("%+v %v", sum, err)
			}
			if _, err := s.Read("empty", ts.Selection{Kind: "index", Index: 0}); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("index into empty: %v", err)
			}
			// Streaming: an int column becomes float, a bool column refuses ints.
			a := &ts.Table{Rows: 1, Columns: []ts.Column{{Name: "lr", Kind: ts.KindInt64, I: []int64{1}}, {Name: "ok", Kind: ts.KindBool, B: []bool{true}}}}
			b := &ts.Table{Rows: 1, Columns: []ts.Column{{Name: "lr", Kind: ts.KindFloat64, F: []float64{0.25}}}}
			c := &ts.Table{Rows: 1, Columns: []ts.Column{{Name: "ok", Kind: ts.KindInt64, I: []int64{3}}}}
			for _, tb := range []*ts.Table{a, b} {
				if err := s.Append("types", tb, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Append("types", c, nil); !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), `"ok" holds bool`) {
				t.Fatalf("bool <- int: %v", err)
			}
			if err := s.Finish(""); err != nil {
				t.Fatal(err)
			}
			h, err = s.Read("types", ts.All())
			if err != nil {
				t.Fatal(err)
			}
			lr, ok := h.Table.Columns[0], h.Table.Columns[1]
			if lr.Kind != ts.KindFloat64 || !slices.Equal(lr.F, []float64{1, 0.25}) {
				t.Fatalf("lr %+v", lr)
			}
			if ok.Kind != ts.KindBool || !ok.B[0] || ok.Valid == nil || ok.Valid[1] {
				t.Fatalf("ok %+v", ok)
			}
		})
	}
}

// Readers see either the old or the new history while Put replaces it.
func TestReplaceIsAtomicForReaders(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, ts.BackendHDF5)
	if err := s.Put("r", epochs(0, 100), nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		reader := openStore(t, dir, ts.BackendHDF5)
		for {
			select {
			case <-stop:
				return
			default:
			}
			h, err := reader.Read("r", ts.All())
			if err != nil {
				readErr = err
				return
			}
			if n := h.Table.Rows; n != 100 && n != 200 {
				readErr = fmt.Errorf("read %d rows", n)
				return
			}
		}
	}()
	for i := 0; i < 20; i++ {
		n := 100 * (1 + i%2)
		if err := s.Put("r", epochs(0, n), nil); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
}

// ---- real processes ---------------------------------------------------------------

func TestHelperProcess(t *testing.T) {
	role := os.Getenv("SND_TS_HELPER")
	if role == "" {
		return
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	s, err := ts.Open(ts.Options{Dir: os.Getenv("SND_TS_DIR"), Backend: os.Getenv("SND_TS_BACKEND"), ChunkRows: 64})
	if err != nil {
		fail(err)
	}
	id := os.Getenv("SND_TS_ID")
	limit, _ := strconv.Atoi(os.Getenv("SND_TS_ROWS"))
	switch role {
	case "append", "cycle":
		// Continue after whatever a killed predecessor committed.
		next := 0
		if h, err := s.Read(id, ts.Last(1)); err == nil {
			next = int(h.TotalRows)
		}
		w, err := s.OpenWriter(id, nil)
		if err != nil {
			fail(err)
		}
		for i := next; limit == 0 || i < limit; i++ {
			if err := w.Append(epochs(i, i+1)); err != nil {
				fail(err)
			}
			fmt.Println(i + 1)
			if role == "cycle" && i%40 == 39 {
				if err := w.Close(); err != nil {
					fail(err)
				}
				if w, err = s.OpenWriter(id, nil); err != nil {
					fail(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			fail(err)
		}
	case "hold":
		w, err := s.OpenWriter(id, nil)
		if err != nil {
			fmt.Println("conflict:", err)
			os.Exit(0)
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		w.Close()
	}
	s.Close()
	os.Exit(0)
}

func helperCmd(role, dir, backend, id string, rows int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SND_TS_HELPER="+role, "SND_TS_DIR="+dir, "SND_TS_BACKEND="+backend,
		"SND_TS_ID="+id, "SND_TS_ROWS="+strconv.Itoa(rows))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// A writer killed with SIGKILL at random moments (mid-append, mid-flush,
// mid-compaction) leaves a history that opens, holds every acknowledged row
// with its exact values and at most one more, and takes new appends.
func TestKilledWriterLosesAtMostTheEpochBeingWritten(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			for trial := 0; trial < 10; trial++ {
				role := []string{"append", "cycle"}[trial%2]
				cmd := helperCmd(role, dir, backend, "crash", 0)
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
				acked, target := 0, 5+rng.Intn(120)
				for sc.Scan() {
					acked, _ = strconv.Atoi(sc.Text())
					if acked >= target {
						break
					}
				}
				time.Sleep(time.Duration(rng.Intn(3000)) * time.Microsecond)
				cmd.Process.Kill()
				for sc.Scan() { // what it acknowledged before dying
					acked, _ = strconv.Atoi(sc.Text())
				}
				cmd.Wait()
				if acked < target {
					t.Fatalf("helper stopped early at %d: %s", acked, stderr.String())
				}
				s := openStore(t, dir, backend)
				h, err := s.Read("crash", ts.All())
				if err != nil {
					t.Fatalf("trial %d (%s): read after kill: %v", trial, role, err)
				}
				n := int(h.TotalRows)
				if n < acked || n > acked+1 {
					t.Fatalf("trial %d: %d rows after kill, %d acknowledged", trial, n, acked)
				}
				checkRows(t, h, seq(0, n))
				sum, err := s.Summary("crash")
				if err != nil || sum.NumEpochs != int64(n) || sum.Columns[1].Count != int64(n) {
					t.Fatalf("trial %d: summary %+v %v", trial, sum, err)
				}
				s.Close()
			}
			// A normal writer takes over and finishes the history.
			s := openStore(t, dir, backend)
			h, _ := s.Read("crash", ts.All())
			n := int(h.TotalRows)
			if err := s.Append("crash", epochs(n, n+10), nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Finish(""); err != nil {
				t.Fatal(err)
			}
			h, err := s.Read("crash", ts.All())
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, h, seq(0, n+10))
			leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
			if len(leftovers) != 0 {
				t.Fatalf("temp files left: %v", leftovers)
			}
		})
	}
}

func TestProcessesWriteDifferentExperimentsAndConflictOnOne(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	outs := make([][]byte, 3)
	errsOut := make([]error, 3)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			outs[w], errsOut[w] = helperCmd("append", dir, ts.BackendHDF5, fmt.Sprintf("exp-%d", w), 150).CombinedOutput()
		}(w)
	}
	// Read while they write.
	reader := openStore(t, dir, ts.BackendHDF5)
	deadline := time.Now().Add(20 * time.Second)
	last := 0
	for time.Now().Before(deadline) {
		h, err := reader.Read("exp-0", ts.Last(3))
		if err == nil {
			if int(h.TotalRows) < last {
				t.Fatalf("rows went back from %d to %d", last, h.TotalRows)
			}
			last = int(h.TotalRows)
			checkRows(t, h, seq(max(0, last-3), last))
			if last == 150 {
				break
			}
		} else if !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("read while writing: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	for w := 0; w < 3; w++ {
		if errsOut[w] != nil {
			t.Fatalf("writer %d: %v\n%s", w, errsOut[w], outs[w])
		}
		h, err := reader.Read(fmt.Sprintf("exp-%d", w), ts.All())
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, h, seq(0, 150))
	}

	// Same experiment: the second process is refused while the first holds it.
	first := helperCmd("hold", dir, ts.BackendHDF5, "shared", 0)
	stdin, _ := first.StdinPipe()
	out, _ := first.StdoutPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("first holder: %q", line)
	}
	second, err := helperCmd("hold", dir, ts.BackendHDF5, "shared", 0).Output()
	if err != nil || !strings.Contains(string(second), "conflict:") || !strings.Contains(string(second), "being written by another writer") {
		t.Fatalf("second writer: %q %v", second, err)
	}
	if err := reader.Put("shared", epochs(0, 1), nil); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("put while another process writes: %v", err)
	}
	stdin.Close()
	if err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := reader.Put("shared", epochs(0, 1), nil); err != nil {
		t.Fatalf("put after the holder exited: %v", err)
	}
}

// Readers in the process that writes: libhdf5 refuses to open one file
// read-only and read-write in the same process, so reads must go through
// the writer while it is open, and never race its opening or closing.
func TestSameProcessReadersFollowTheWriter(t *testing.T) {
	dir := t.TempDir()
	writerStore := openStore(t, dir, ts.BackendHDF5)
	readerStore := openStore(t, dir, ts.BackendHDF5)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				h, err := readerStore.Read("live", ts.Last(2))
				if errors.Is(err, errs.ErrNotFound) {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				n := int(h.TotalRows)
				if n < last || h.Table.Rows != min(n, 2) {
					errc <- fmt.Errorf("rows %d after %d, got %d", n, last, h.Table.Rows)
					return
				}
				if n > 0 && h.Table.Columns[0].I[h.Table.Rows-1] != int64(n-1) {
					errc <- fmt.Errorf("last epoch %d of %d rows", h.Table.Columns[0].I[h.Table.Rows-1], n)
					return
				}
				if _, err := readerStore.Summary("live"); err != nil {
					errc <- err
					return
				}
				last = n
			}
		}()
	}
	for round := 0; round < 4; round++ {
		w, err := writerStore.OpenWriter("live", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50; i++ {
			if err := w.Append(epochs(round*50+i, round*50+i+1)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := readerStore.OpenWriter("live", nil); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("second writer in the same process: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	h, err := readerStore.Read("live", ts.All())
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, h, seq(0, 200))
}

func TestConcurrentAppendsThroughOneStore(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			s := openStore(t, t.TempDir(), backend)
			var wg sync.WaitGroup
			errc := make(chan error, 8)
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < 25; i++ {
						tb := &ts.Table{Rows: 1, Columns: []ts.Column{{Name: "g", Kind: ts.KindInt64, I: []int64{int64(g)}}}}
						if err := s.Append("shared", tb, nil); err != nil {
							errc <- err
							return
						}
					}
				}(g)
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			if err := s.Finish(""); err != nil {
				t.Fatal(err)
			}
			h, err := s.Read("shared", ts.All())
			if err != nil {
				t.Fatal(err)
			}
			counts := map[int64]int{}
			for _, g := range h.Table.Columns[0].I {
				counts[g]++
			}
			if h.TotalRows != 200 || len(counts) != 8 || counts[3] != 25 {
				t.Fatalf("rows %d counts %v", h.TotalRows, counts)
			}
		})
	}
}
