package timeseries

import (
	"bytes"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
)

func i64(v int64) *int64 { return &v }

// pySlice is Python's list(range(n))[start:stop:step], written the naive way
// (walk every candidate) so it checks resolveSlice's arithmetic.
func pySlice(n int64, start, stop, step *int64) []int64 {
	st := int64(1)
	if step != nil {
		st = *step
	}
	norm := func(p *int64, def int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += n
		}
		return v
	}
	var out []int64
	if st > 0 {
		b, e := max(norm(start, 0), 0), min(norm(stop, n), n)
		for i := b; i < e; i += st {
			out = append(out, i)
		}
	} else {
		b, e := min(norm(start, n-1), n-1), max(norm(stop, -1), -1)
		if stop != nil && *stop < -n {
			e = -1
		}
		for i := b; i > e; i += st {
			out = append(out, i)
		}
	}
	return out
}

func planRows(p rowPlan) []int64 {
	if p.explicit {
		return p.Rows
	}
	out := make([]int64, p.Count)
	for k := range out {
		out[k] = p.Start + int64(k)*p.Stride
	}
	if p.Reverse {
		slices.Reverse(out)
	}
	return out
}

func TestTimeseriesSliceResolutionMatchesPython(t *testing.T) {
	vals := []*int64{nil, i64(-25), i64(-11), i64(-10), i64(-3), i64(-1), i64(0), i64(1), i64(4), i64(9), i64(10), i64(30)}
	steps := []*int64{nil, i64(1), i64(2), i64(3), i64(-1), i64(-2), i64(-7)}
	for _, n := range []int64{0, 1, 10} {
		for _, a := range vals {
			for _, b := range vals {
				for _, st := range steps {
					p, err := resolveSlice(a, b, st, n)
					if err != nil {
						t.Fatal(err)
					}
					if got, want := planRows(p), pySlice(n, a, b, st); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
						t.Fatalf("n=%d [%v:%v:%v]: got %v want %v", n, deref(a), deref(b), deref(st), got, want)
					}
				}
			}
		}
	}
	if _, err := resolveSlice(nil, nil, i64(0), 5); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("step 0: %v", err)
	}
}

func deref(p *int64) any {
	if p == nil {
		return "None"
	}
	return *p
}

func TestTimeseriesIndexAndListSelection(t *testing.T) {
	p, err := Selection{Kind: "index", Index: -1}.resolve(5)
	if err != nil || !slices.Equal(planRows(p), []int64{4}) {
		t.Fatalf("-1: %v %v", planRows(p), err)
	}
	for _, bad := range []int64{5, -6} {
		if _, err := (Selection{Kind: "index", Index: bad}).resolve(5); !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("index %d: %v", bad, err)
		}
	}
	p, err = Selection{Kind: "list", Indices: []int64{3, -5, 3, 4}}.resolve(5)
	if err != nil || !slices.Equal(planRows(p), []int64{3, 0, 3, 4}) {
		t.Fatalf("list: %v %v", planRows(p), err)
	}
	uniq, pos := sortedUnique([]int64{3, 0, 3, 4})
	if !slices.Equal(uniq, []int64{0, 3, 4}) || !slices.Equal(pos, []int{1, 0, 1, 2}) {
		t.Fatalf("sortedUnique %v %v", uniq, pos)
	}
	if _, err := (Selection{Kind: "bogus"}).resolve(5); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("bogus kind: %v", err)
	}
}

func col(name string, k Kind) Column { return Column{Name: name, Kind: k} }

func TestTimeseriesMergePromotesIntToFloatAndRejectsOtherChanges(t *testing.T) {
	s := Schema{{Name: "epoch", Dataset: "epoch", Kind: KindInt64}, {Name: "lr", Dataset: "lr", Kind: KindInt64}}
	lr := col("lr", KindFloat64)
	lr.F = []float64{0.5}
	ep := col("epoch", KindInt64)
	ep.I = []int64{7}
	out, aligned, changed, err := merge(s, &Table{Rows: 1, Columns: []Column{lr, ep}}, 3)
	if err != nil || !changed {
		t.Fatalf("merge: changed=%v err=%v", changed, err)
	}
	if out[1].Kind != KindFloat64 || out[0].Kind != KindInt64 {
		t.Fatalf("kinds: %+v", out)
	}
	if aligned.Columns[0].Name != "epoch" || aligned.Columns[1].F[0] != 0.5 {
		t.Fatalf("aligned in schema order: %+v", aligned.Columns)
	}
	// Floats arriving in a float column as ints are converted, no change.
	fs := Schema{{Name: "lr", Dataset: "lr", Kind: KindFloat64}}
	li := col("lr", KindInt64)
	li.I = []int64{2}
	_, aligned, changed, err = merge(fs, &Table{Rows: 1, Columns: []Column{li}}, 1)
	if err != nil || changed || aligned.Columns[0].F[0] != 2 {
		t.Fatalf("int into float: %v %v %+v", err, changed, aligned.Columns[0])
	}
	for _, tc := range []struct{ have, got Kind }{
		{KindBool, KindInt64}, {KindInt64, KindBool}, {KindFloat64, KindString}, {KindString, KindJSON}, {KindJSON, KindFloat64},
	} {
		c := col("x", tc.got)
		switch tc.got {
		case KindInt64:
			c.I = []int64{1}
		case KindBool:
			c.B = []bool{true}
		case KindFloat64:
			c.F = []float64{1}
		default:
			c.S = []string{`"a"`}
		}
		_, _, _, err := merge(Schema{{Name: "x", Dataset: "x", Kind: tc.have}}, &Table{Rows: 1, Columns: []Column{c}}, 1)
		if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), `column "x" holds `+tc.have.String()) {
			t.Fatalf("%v <- %v: %v", tc.have, tc.got, err)
		}
	}
}

func TestTimeseriesMergeAddsMasksForMissingNonFloatValues(t *testing.T) {
	s := Schema{{Name: "epoch", Dataset: "epoch", Kind: KindInt64}, {Name: "loss", Dataset: "loss", Kind: KindFloat64}}
	note := col("note", KindString)
	note.S = []string{"warmup"}
	out, aligned, changed, err := merge(s, &Table{Rows: 1, Columns: []Column{note}}, 4)
	if err != nil || !changed {
		t.Fatal(err)
	}
	// epoch is absent from the batch: it needs a mask; loss becomes NaN; note
	// is new after 4 rows: masked too.
	if !out[0].Masked || out[1].Masked || !out[2].Masked || out[2].Kind != KindString {
		t.Fatalf("schema %+v", out)
	}
	if !math.IsNaN(aligned.Columns[1].F[0]) || aligned.Columns[0].Valid[0] {
		t.Fatalf("aligned %+v", aligned.Columns)
	}
	// A new float column is never masked: NaN marks its missing rows.
	f := col("acc", KindFloat64)
	f.F = []float64{0.5}
	out, _, _, err = merge(nil, &Table{Rows: 1, Columns: []Column{f}}, 9)
	if err != nil || out[0].Masked {
		t.Fatalf("%+v %v", out, err)
	}
	// All-missing columns of unknown type are not created.
	null := Column{Name: "val_loss", Kind: KindNull, Valid: []bool{false}}
	out, _, changed, err = merge(nil, &Table{Rows: 1, Columns: []Column{null}}, 0)
	if err != nil || changed || len(out) != 0 {
		t.Fatalf("null column: %+v %v %v", out, changed, err)
	}
}

func TestTimeseriesValidateRejectsBadTables(t *testing.T) {
	cases := map[string]*Table{
		"twice":        {Rows: 1, Columns: []Column{{Name: "a", Kind: KindInt64, I: []int64{1}}, {Name: "a", Kind: KindInt64, I: []int64{1}}}},
		"for 2 rows":   {Rows: 2, Columns: []Column{{Name: "a", Kind: KindInt64, I: []int64{1}}}},
		"empty":        {Rows: 1, Columns: []Column{{Name: "", Kind: KindInt64, I: []int64{1}}}},
		"valid JSON":   {Rows: 1, Columns: []Column{{Name: "j", Kind: KindJSON, S: []string{"{nope"}}}},
		"UTF-8":        {Rows: 1, Columns: []Column{{Name: "s", Kind: KindString, S: []string{"\xff"}}}},
		"unknown kind": {Rows: 1, Columns: []Column{{Name: "k", Kind: 42}}},
	}
	for want, tb := range cases {
		if err := tb.Validate(); !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
	// A float mask becomes NaN and is dropped; a full mask is dropped.
	tb := &Table{Rows: 2, Columns: []Column{
		{Name: "f", Kind: KindFloat64, F: []float64{1, 2}, Valid: []bool{true, false}},
		{Name: "i", Kind: KindInt64, I: []int64{1, 2}, Valid: []bool{true, true}},
	}}
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(tb.Columns[0].F[1]) || tb.Columns[0].Valid != nil || tb.Columns[1].Valid != nil {
		t.Fatalf("%+v", tb.Columns)
	}
}

func TestTimeseriesStatsIgnoreNaNAndHandleInf(t *testing.T) {
	c := Column{Name: "loss", Kind: KindFloat64, F: []float64{3, math.NaN(), 1, 2, math.NaN()}}
	s := newStats()
	s.update(&c, 10)
	sum := buildSummary("x", Schema{{Name: "loss", Kind: KindFloat64}}, []colStats{s}, 15).Columns[0]
	if sum.Count != 3 || sum.NaNCount != 2 || sum.Min != Number(1) || sum.Max != Number(3) || sum.Mean != Number(2) {
		t.Fatalf("%+v", sum)
	}
	// final is the last non-NaN value; indexes are history rows.
	if sum.Final != Number(2) || *sum.FinalIndex != 13 || *sum.ArgMin != 12 || *sum.ArgMax != 10 {
		t.Fatalf("%+v final_index=%d", sum, *sum.FinalIndex)
	}
	inf := Column{Name: "g", Kind: KindFloat64, F: []float64{1, math.Inf(1), 2}}
	s = newStats()
	s.update(&inf, 0)
	if !math.IsInf(s.mean(), 1) || !math.IsInf(s.Max, 1) || s.ArgMax != 1 {
		t.Fatalf("+inf: mean %v max %v", s.mean(), s.Max)
	}
	both := Column{Name: "g", Kind: KindFloat64, F: []float64{math.Inf(-1), math.Inf(1)}}
	s = newStats()
	s.update(&both, 0)
	if !math.IsNaN(s.mean()) || !math.IsInf(s.Min, -1) {
		t.Fatalf("±inf: mean %v min %v", s.mean(), s.Min)
	}
}

func TestTimeseriesCompensatedMean(t *testing.T) {
	// 1e8 + many 0.1s: a naive float64 running sum drifts, Neumaier does not.
	c := Column{Name: "x", Kind: KindFloat64, F: make([]float64, 1_000_001)}
	c.F[0] = 1e8
	for i := 1; i < len(c.F); i++ {
		c.F[i] = 0.1
	}
	s := newStats()
	for lo := 0; lo < len(c.F); lo += 1000 {
		part := c
		part.F = c.F[lo:min(lo+1000, len(c.F))]
		s.update(&part, int64(lo))
	}
	want := (1e8 + 1e5) / 1_000_001
	if got := s.mean(); math.Abs(got-want) > 1e-12*want {
		t.Fatalf("mean %.17g want %.17g", got, want)
	}
}

func TestTimeseriesBestModeFromName(t *testing.T) {
	for name, want := range map[string]string{
		"val_accuracy": "max", "acc": "max", "top1": "max", "F1": "max", "loss": "min", "val_loss": "min",
		"error_rate": "min", "perplexity": "min", "epoch": "", "lr": "",
	} {
		if got := bestMode(name); got != want {
			t.Errorf("%s: %q want %q", name, got, want)
		}
	}
}

func TestTimeseriesFileStemsAreSafeAndDistinct(t *testing.T) {
	ids := []string{
		"exp_001", "../../etc/passwd", "/abs/path", "a/b", `a\b`, ".", "..", "-rf", "ünïcødé-实验",
		strings.Repeat("x", MaxIDBytes), strings.Repeat("x", MaxIDBytes-1), "exp 001", "exp%001", "CON", "a\nb",
	}
	seen := map[string]string{}
	for _, id := range ids {
		if err := ValidateID(id); err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		stem := fileStem(id)
		if other, dup := seen[stem]; dup {
			t.Fatalf("%q and %q share stem %q", id, other, stem)
		}
		seen[stem] = id
		if len(stem) > prefixBytes+1+32 || strings.ContainsAny(stem, `/\.`+"\x00\n ") || strings.HasPrefix(stem, "-") {
			t.Fatalf("%q -> unsafe stem %q", id, stem)
		}
		if filepath.Base(stem) != stem || !filepath.IsLocal(stem+".h5") {
			t.Fatalf("%q -> %q is not a local name", id, stem)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxIDBytes+1), "\xff\xfe", "a\x00b"} {
		if err := ValidateID(bad); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("%q accepted: %v", bad, err)
		}
	}
}

func TestTimeseriesDatasetNamesAreInjective(t *testing.T) {
	names := []string{"loss", "a/b", "a%2Fb", ".", "%2E", "_snd_masks", "%5Fsnd_masks", "_sndx", "_snd_x", "%", "%25"}
	seen := map[string]string{}
	for _, n := range names {
		d := datasetName(n)
		if strings.Contains(d, "/") || d == "." || strings.HasPrefix(d, internalPrefix) {
			t.Fatalf("%q -> %q", n, d)
		}
		if other, dup := seen[d]; dup {
			t.Fatalf("%q and %q -> %q", n, other, d)
		}
		seen[d] = n
	}
	if datasetName("val_loss") != "val_loss" {
		t.Fatal("plain names must stay as they are")
	}
}

func TestTimeseriesJSONTornTailIsIgnoredThenTruncated(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Backend: BackendJSON})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 3; i++ {
		tb := &Table{Rows: 1, Columns: []Column{{Name: "epoch", Kind: KindInt64, I: []int64{int64(i)}}}}
		if err := s.Append("run", tb, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish("run"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fileStem("run")+extJSON)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// What a writer killed halfway through its single write leaves.
	f.WriteString(`{"rows":{"start":3,"n":1,"columns":[{"name":"epoch","kind":"int64","int64":[3]}]}}` + "\n" + `{"commit":{"rows":4,"sch`)
	f.Close()
	h, err := s.Read("run", All())
	if err != nil || h.TotalRows != 3 || !slices.Equal(h.Table.Columns[0].I, []int64{0, 1, 2}) {
		t.Fatalf("read after torn tail: %+v %v", h, err)
	}
	sum, err := s.Summary("run")
	if err != nil || sum.NumEpochs != 3 {
		t.Fatalf("summary after torn tail: %+v %v", sum, err)
	}
	// The next writer cuts the tail and appends cleanly after row 2.
	tb := &Table{Rows: 1, Columns: []Column{{Name: "epoch", Kind: KindInt64, I: []int64{30}}}}
	if err := s.Append("run", tb, nil); err != nil {
		t.Fatal(err)
	}
	h, err = s.Read("run", All())
	if err != nil || !slices.Equal(h.Table.Columns[0].I, []int64{0, 1, 2, 30}) {
		t.Fatalf("after recovery: %+v %v", h, err)
	}
	// A damaged line with committed lines after it is corruption, not a tail.
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	lines[1] = "{garbage\n"
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644)
	s.Finish("")
	if _, err := s.Read("run", All()); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("damaged middle line: %v", err)
	}
}

func TestTimeseriesLZFRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	cases := map[string][]byte{
		"one byte":    {7},
		"two bytes":   {7, 8},
		"zeros":       make([]byte, 100_000),
		"random":      make([]byte, 70_000),
		"text":        []byte(strings.Repeat("the loss went down, the accuracy went up; ", 500)),
		"long repeat": append(bytes.Repeat([]byte{1, 2, 3}, 3000), bytes.Repeat([]byte{9}, 5000)...),
	}
	rng.Read(cases["random"])
	// Shuffled float64 epochs, as the HDF5 pipeline presents them to LZF.
	floats := make([]byte, 8*8000)
	for i := 0; i < 8000; i++ {
		bits := math.Float64bits(1/float64(i+1) + rng.Float64()*1e-3)
		for j := 0; j < 8; j++ {
			floats[j*8000+i] = byte(bits >> (8 * j))
		}
	}
	cases["shuffled floats"] = floats
	// Matches at the largest offset the format allows (8192 bytes back).
	far := make([]byte, 20_000)
	rng.Read(far[:8192])
	copy(far[8192:], far[:8192])
	cases["far matches"] = far
	for name, in := range cases {
		c := lzfCompress(in)
		if len(c) == 0 {
			if name != "random" {
				t.Fatalf("%s: did not compress", name)
			}
			continue
		}
		out, ok := lzfDecompress(c, len(in))
		if !ok || !bytes.Equal(out, in) {
			t.Fatalf("%s: round trip failed (%d -> %d bytes)", name, len(in), len(c))
		}
		if name == "zeros" && len(c) > len(in)/50 {
			t.Fatalf("zeros compressed to %d bytes", len(c))
		}
		if _, ok := lzfDecompress(c, len(in)-1); ok {
			t.Fatalf("%s: decompressing into a short buffer must fail", name)
		}
	}
	// Garbage must not be accepted as a stream reaching outside its output.
	if _, ok := lzfDecompress([]byte{0xE0, 0xFF, 0xFF}, 100); ok {
		t.Fatal("a back reference before the start was accepted")
	}
}
