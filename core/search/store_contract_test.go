package search_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

// opener opens a fresh collection of one backend.
type opener func(t *testing.T, space search.Space) search.Store

var collectionSeq atomic.Int64

func collectionName() string {
	return fmt.Sprintf("contract_%d_%d", time.Now().UnixNano()%1_000_000, collectionSeq.Add(1))
}

func embeddedOpener(t *testing.T, space search.Space) search.Store {
	st, err := search.OpenEmbedded(context.Background(), search.EmbeddedOptions{Dir: t.TempDir(), Name: collectionName(), Space: space})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func chromaOpener(srv *chromaServer) opener {
	return func(t *testing.T, space search.Space) search.Store {
		st, err := search.OpenChroma(context.Background(), search.ChromaOptions{
			Host: "127.0.0.1", Port: srv.port, Name: collectionName(), Space: space,
			BatchSize: 16, // small, so every multi-record call below is chunked
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

// TestStoreContract runs one suite against the embedded store and against a
// real Chroma server through chroma-go: both must give the same answers.
func TestStoreContract(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { contract(t, embeddedOpener) })
	t.Run("chroma", func(t *testing.T) {
		srv := startChroma(t)
		contract(t, chromaOpener(srv))
	})
}

func contract(t *testing.T, open opener) {
	recs := fixture(60)
	t.Run("UpsertGetCount", func(t *testing.T) { upsertGetCount(t, open(t, search.Cosine), recs) })
	t.Run("UpsertReplacesWholeRecords", func(t *testing.T) { upsertReplacesWholeRecords(t, open(t, search.Cosine)) })
	t.Run("Filters", func(t *testing.T) { filters(t, open(t, search.Cosine), recs) })
	for _, space := range []search.Space{search.Cosine, search.L2, search.IP} {
		t.Run("Query/"+string(space), func(t *testing.T) { query(t, open(t, space), space, recs) })
	}
	t.Run("DeleteAndReset", func(t *testing.T) { deleteAndReset(t, open(t, search.Cosine), recs) })
	t.Run("BadInput", func(t *testing.T) { badInput(t, open(t, search.Cosine)) })
}

const fixtureDim = 8

// fixture builds n records with every metadata shape the filters probe.
func fixture(n int) []search.Record {
	rng := rand.New(rand.NewPCG(7, 11))
	recs := make([]search.Record, n)
	for i := range recs {
		v := make([]float32, fixtureDim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		if i%7 == 3 {
			v[fixtureDim-1], v[fixtureDim-2] = 0, 0 // trailing zeros are stored trimmed
		}
		m := search.Metadata{
			"i":   int64(i),
			"f":   float64(i)*0.5 + 0.25,
			"s":   []string{"a", "b", "c"}[i%3],
			"b":   i%2 == 0,
			"big": int64(1<<62) + int64(i),
			"u":   "ünï ✓",
		}
		if i%2 == 0 {
			m["mixed"] = int64(i)
		} else {
			m["mixed"] = float64(i) + 0.5
		}
		if i%3 == 0 {
			m["opt"] = int64(i % 4)
		}
		doc := fmt.Sprintf("doc %d alpha", i)
		if i%2 == 1 {
			doc = fmt.Sprintf("doc %d beta", i)
		}
		if i%5 == 0 {
			doc = ""
		}
		recs[i] = search.Record{ID: fmt.Sprintf("r%02d", i), Embedding: v, Metadata: m, Document: doc}
	}
	return recs
}

func upsertGetCount(t *testing.T, st search.Store, recs []search.Record) {
	ctx := context.Background()
	if n, err := st.Count(ctx); err != nil || n != 0 {
		t.Fatalf("new collection count %d %v", n, err)
	}
	if d, err := st.Dimension(ctx); err != nil || d != 0 {
		t.Fatalf("new collection dimension %d %v", d, err)
	}
	if err := st.Upsert(ctx, slices.Clone(recs)); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != len(recs) {
		t.Fatalf("count %d, want %d", n, len(recs))
	}
	if d, _ := st.Dimension(ctx); d != fixtureDim {
		t.Fatalf("dimension %d", d)
	}
	got, err := st.Get(ctx, search.GetRequest{IDs: []string{"r05", "missing", "r03", "r05"},
		Include: search.IncludeMetadatas | search.IncludeDocuments | search.IncludeEmbeddings})
	if err != nil {
		t.Fatal(err)
	}
	if ids := ids(got); !slices.Equal(ids, []string{"r05", "r03"}) {
		t.Fatalf("ids %v: want request order, missing skipped, repeats once", ids)
	}
	for _, g := range got {
		var want search.Record
		for _, r := range recs {
			if r.ID == g.ID {
				want = r
			}
		}
		if !sameVector(g.Embedding, want.Embedding) {
			t.Errorf("%s: embedding %v, want %v", g.ID, g.Embedding, want.Embedding)
		}
		if g.Document != want.Document {
			t.Errorf("%s: document %q, want %q", g.ID, g.Document, want.Document)
		}
		for k, v := range want.Metadata {
			if g.Metadata[k] != v {
				t.Errorf("%s: metadata %s = %#v (%T), want %#v (%T)", g.ID, k, g.Metadata[k], g.Metadata[k], v, v)
			}
		}
		if len(g.Metadata) != len(want.Metadata) {
			t.Errorf("%s: metadata %v, want %v", g.ID, g.Metadata, want.Metadata)
		}
	}
	// Include nothing: ids only.
	bare, err := st.Get(ctx, search.GetRequest{IDs: []string{"r01"}})
	if err != nil || len(bare) != 1 || bare[0].Metadata != nil || bare[0].Embedding != nil {
		t.Fatalf("bare get %+v %v", bare, err)
	}
}

func upsertReplacesWholeRecords(t *testing.T, st search.Store) {
	ctx := context.Background()
	if err := st.Upsert(ctx, []search.Record{{ID: "x", Embedding: []float32{1, 0, 0}, Metadata: search.Metadata{"a": int64(1), "b": "old"}, Document: "old doc"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Upsert(ctx, []search.Record{{ID: "x", Embedding: []float32{0, 1, 0}, Metadata: search.Metadata{"a": 2.5}}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, search.GetRequest{IDs: []string{"x"}, Include: search.IncludeMetadatas | search.IncludeDocuments | search.IncludeEmbeddings})
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	g := got[0]
	if len(g.Metadata) != 1 || g.Metadata["a"] != 2.5 || g.Document != "" || !sameVector(g.Embedding, []float32{0, 1, 0}) {
		t.Fatalf("re-upsert must replace the whole record, got %+v", g)
	}
	if n, _ := st.Count(ctx); n != 1 {
		t.Fatalf("count %d", n)
	}
	// Metadata values of every type survive exactly.
	meta := search.Metadata{"tiny": 1e-20, "third": 1.0 / 3, "two": 2.0, "neg": int64(-7), "max": int64(math.MaxInt64), "t": true, "f": false, "e": "", "q": `"quoted" \ back`}
	if err := st.Upsert(ctx, []search.Record{{ID: "types", Embedding: []float32{1, 1, 1}, Metadata: meta}}); err != nil {
		t.Fatal(err)
	}
	got, _ = st.Get(ctx, search.GetRequest{IDs: []string{"types"}, Include: search.IncludeMetadatas})
	for k, v := range meta {
		if got[0].Metadata[k] != v {
			t.Errorf("%s: got %#v (%T), want %#v (%T)", k, got[0].Metadata[k], got[0].Metadata[k], v, v)
		}
	}
}

// filterCases are where clauses the contract checks against Filter.Match on
// the fixture; want, when given, is the literal expectation too.
var filterCases = []struct {
	where string
	want  []string
}{
	{`{"s": "a"}`, nil},
	{`{"s": {"$ne": "a"}}`, nil},
	{`{"i": {"$gt": 55}}`, []string{"r56", "r57", "r58", "r59"}},
	{`{"i": {"$gte": 57}}`, []string{"r57", "r58", "r59"}},
	{`{"i": {"$lt": 2}}`, []string{"r00", "r01"}},
	{`{"i": {"$lte": 1}}`, []string{"r00", "r01"}},
	// Fractional operands on int metadata: the Chroma server truncates
	// them; the chroma backend rewrites the clause so both agree.
	{`{"i": {"$gt": 57.5}}`, []string{"r58", "r59"}},
	{`{"i": {"$gte": 57.5}}`, []string{"r58", "r59"}},
	{`{"i": {"$lt": 1.5}}`, []string{"r00", "r01"}},
	{`{"i": {"$lte": 1.5}}`, []string{"r00", "r01"}},
	{`{"i": {"$eq": 4.5}}`, []string{}},
	{`{"i": {"$ne": 4.5}}`, nil},
	{`{"i": {"$gt": -1.5}}`, nil},
	{`{"i": {"$lt": -0.5}}`, []string{}},
	{`{"i": {"$in": [1, 2.5, 3.0]}}`, []string{"r01", "r03"}},
	{`{"i": {"$nin": [1, 2.5, 3.0]}}`, nil},
	{`{"mixed": {"$gte": 56}}`, []string{"r56", "r57", "r58", "r59"}},
	{`{"mixed": {"$lt": 3.5}}`, []string{"r00", "r01", "r02"}},
	{`{"mixed": {"$eq": 8}}`, []string{"r08"}},
	{`{"mixed": {"$eq": 9.5}}`, []string{"r09"}},
	{`{"mixed": {"$in": [9.5, 10, 11]}}`, []string{"r09", "r10"}},
	{`{"f": {"$gte": 29.25}}`, []string{"r58", "r59"}},
	{`{"f": {"$lt": 1}}`, []string{"r00", "r01"}},
	{`{"b": true}`, nil},
	{`{"b": {"$ne": true}}`, nil},
	{`{"b": 1}`, []string{}},
	{`{"i": true}`, []string{}},
	{`{"opt": {"$ne": 3}}`, nil},
	{`{"opt": {"$nin": [0, 3]}}`, nil},
	{`{"opt": 3}`, []string{"r03", "r15", "r27", "r39", "r51"}},
	{`{"s": {"$in": ["a", "c"]}}`, nil},
	{`{"s": {"$in": ["a", 1, true]}}`, nil},
	{`{"$or": [{"s": "a"}, {"i": {"$lt": 2}}]}`, nil},
	{`{"$and": [{"s": "b"}, {"b": false}]}`, nil},
	{`{"s": "a", "i": {"$gte": 50}}`, []string{"r51", "r54", "r57"}},
	{`{"i": {"$gte": 3, "$lt": 6}}`, []string{"r03", "r04", "r05"}},
	{`{"$and": [{"$or": [{"s": "a"}, {"s": "b"}]}, {"i": {"$lt": 4}}]}`, []string{"r00", "r01", "r03"}},
	{`{"big": {"$gt": 4611686018427387962}}`, []string{"r59"}},
	{`{"u": "ünï ✓"}`, nil},
	{`{"nokey": "x"}`, []string{}},
}

func filters(t *testing.T, st search.Store, recs []search.Record) {
	ctx := context.Background()
	if err := st.Upsert(ctx, slices.Clone(recs)); err != nil {
		t.Fatal(err)
	}
	byID := map[string]search.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	for _, c := range filterCases {
		f := parseWhere(t, c.where)
		var want []string
		for _, r := range recs {
			if f.Match(r.Metadata) {
				want = append(want, r.ID)
			}
		}
		if c.want != nil && !slices.Equal(sorted(c.want), sorted(want)) {
			t.Fatalf("%s: reference gives %v, literal %v", c.where, want, c.want)
		}
		got, err := st.Get(ctx, search.GetRequest{Where: f})
		if err != nil {
			t.Fatalf("%s: %v", c.where, err)
		}
		if !slices.Equal(sorted(ids(got)), sorted(want)) {
			t.Errorf("%s: got %v, want %v", c.where, sorted(ids(got)), sorted(want))
		}
	}
	docCases := []string{
		`{"$contains": "alpha"}`,
		`{"$not_contains": "alpha"}`,
		`{"$and": [{"$contains": "doc"}, {"$contains": "1"}]}`,
		`{"$or": [{"$contains": "doc 2"}, {"$contains": "doc 3"}]}`,
	}
	for _, c := range docCases {
		d, err := search.ParseWhereDocument(decode(t, c))
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range recs {
			if d.Match(r.Document) {
				want = append(want, r.ID)
			}
		}
		got, err := st.Get(ctx, search.GetRequest{WhereDocument: d, Where: parseWhere(t, `{"i": {"$lt": 40}}`)})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		want = slices.DeleteFunc(want, func(id string) bool { return byID[id].Metadata["i"].(int64) >= 40 })
		if !slices.Equal(sorted(ids(got)), sorted(want)) {
			t.Errorf("where_document %s: got %v, want %v", c, sorted(ids(got)), sorted(want))
		}
	}
	// Paging covers every match exactly once.
	var paged []string
	for off := 0; ; off += 7 {
		page, err := st.Get(ctx, search.GetRequest{Where: parseWhere(t, `{"b": true}`), Limit: 7, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, ids(page)...)
		if len(page) < 7 {
			break
		}
	}
	if len(paged) != 30 || len(sorted(paged)) != len(slices.Compact(sorted(paged))) {
		t.Fatalf("paging gave %d ids (%v)", len(paged), paged)
	}
}

func query(t *testing.T, st search.Store, space search.Space, recs []search.Record) {
	ctx := context.Background()
	if st.Space() != space {
		t.Fatalf("space %s", st.Space())
	}
	if err := st.Upsert(ctx, slices.Clone(recs)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for qi := 0; qi < 5; qi++ {
		q := make([]float32, fixtureDim)
		for j := range q {
			q[j] = float32(rng.NormFloat64())
		}
		for _, w := range []string{`{}`, `{"s": {"$in": ["a", "b"]}}`, `{"i": {"$gte": 10.5}, "b": false}`} {
			f := parseWhere(t, w)
			type ref struct {
				id string
				d  float64
			}
			var refs []ref
			for _, r := range recs {
				if f.Match(r.Metadata) {
					refs = append(refs, ref{r.ID, search.Distance(space, q, r.Embedding)})
				}
			}
			sort.Slice(refs, func(a, b int) bool { return refs[a].d < refs[b].d })
			hits, err := st.Query(ctx, search.QueryRequest{Embedding: q, N: 5, Where: f, Include: search.IncludeMetadatas})
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) != min(5, len(refs)) {
				t.Fatalf("%s: %d hits, want %d", w, len(hits), min(5, len(refs)))
			}
			for k, h := range hits {
				if h.ID != refs[k].id || math.Abs(float64(h.Distance)-refs[k].d) > 1e-4*math.Max(1, math.Abs(refs[k].d)) {
					t.Fatalf("%s query %d rank %d: got %s %.6f, want %s %.6f", w, qi, k, h.ID, h.Distance, refs[k].id, refs[k].d)
				}
				if !f.Match(h.Metadata) {
					t.Fatalf("%s: hit %s does not match the filter", w, h.ID)
				}
			}
		}
	}
	// More results than records: all of them, nearest first.
	hits, err := st.Query(ctx, search.QueryRequest{Embedding: recs[0].Embedding, N: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != len(recs) {
		t.Fatalf("n_results beyond the count: %d hits", len(hits))
	}
	if space == search.Cosine && (hits[0].ID != "r00" || math.Abs(float64(hits[0].Distance)) > 1e-5) {
		t.Fatalf("a record's own vector must be nearest at distance 0, got %s %v", hits[0].ID, hits[0].Distance)
	}
	// A filter matching nothing.
	hits, err = st.Query(ctx, search.QueryRequest{Embedding: recs[0].Embedding, N: 3, Where: parseWhere(t, `{"s": "zzz"}`)})
	if err != nil || len(hits) != 0 {
		t.Fatalf("empty match: %v %v", hits, err)
	}
}

func deleteAndReset(t *testing.T, st search.Store, recs []search.Record) {
	ctx := context.Background()
	if err := st.Upsert(ctx, slices.Clone(recs)); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, search.DeleteRequest{IDs: []string{"r00", "r01", "nope"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, search.DeleteRequest{Where: parseWhere(t, `{"s": "c"}`)}); err != nil {
		t.Fatal(err)
	}
	left, err := st.Get(ctx, search.GetRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range recs {
		if r.ID != "r00" && r.ID != "r01" && r.Metadata["s"] != "c" {
			want = append(want, r.ID)
		}
	}
	if !slices.Equal(sorted(ids(left)), want) {
		t.Fatalf("after deletes: %v, want %v", sorted(ids(left)), want)
	}
	if n, _ := st.Count(ctx); n != len(want) {
		t.Fatalf("count %d, want %d", n, len(want))
	}
	hits, err := st.Query(ctx, search.QueryRequest{Embedding: recs[0].Embedding, N: 100})
	if err != nil || len(hits) != len(want) {
		t.Fatalf("query after deletes: %d hits %v", len(hits), err)
	}
	if err := st.Delete(ctx, search.DeleteRequest{}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("delete without a selector: %v", err)
	}
	if err := st.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != 0 {
		t.Fatalf("count after reset %d", n)
	}
	// A reset collection accepts another dimension.
	if err := st.Upsert(ctx, []search.Record{{ID: "new", Embedding: []float32{1, 2, 3}}}); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.Dimension(ctx); d != 3 {
		t.Fatalf("dimension after reset %d", d)
	}
}

func badInput(t *testing.T, st search.Store) {
	ctx := context.Background()
	if err := st.Upsert(ctx, nil); err != nil {
		t.Fatalf("empty batch must be a no-op: %v", err)
	}
	if err := st.Upsert(ctx, []search.Record{{ID: "a", Embedding: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, st.Upsert(ctx, []search.Record{{ID: "b", Embedding: []float32{1, 2, 3}}}), errs.ErrInvalid, "expects 2")
	wantKind(t, st.Upsert(ctx, []search.Record{{ID: "c", Embedding: []float32{1, 2}}, {ID: "d", Embedding: []float32{1, 2}}, {ID: "c", Embedding: []float32{2, 1}}}), errs.ErrInvalid, `duplicate ids in one batch: "c"`)
	wantKind(t, st.Upsert(ctx, []search.Record{{ID: "", Embedding: []float32{1, 2}}}), errs.ErrInvalid, "empty")
	wantKind(t, st.Upsert(ctx, []search.Record{{ID: "n", Embedding: []float32{float32(math.NaN()), 2}}}), errs.ErrInvalid, "finite")
	wantKind(t, st.Upsert(ctx, []search.Record{{ID: "m", Embedding: []float32{1, 2}, Metadata: search.Metadata{"x": math.Inf(1)}}}), errs.ErrInvalid, "infinity")
	wantKind(t, st.Upsert(ctx, []search.Record{{ID: "k", Embedding: []float32{1, 2}, Metadata: search.Metadata{"#doc": "x"}}}), errs.ErrInvalid, "reserved")
	_, err := st.Query(ctx, search.QueryRequest{Embedding: []float32{1, 2, 3}, N: 1})
	wantKind(t, err, errs.ErrInvalid, "expects 2")
	_, err = st.Query(ctx, search.QueryRequest{Embedding: []float32{1, 2}, N: 0})
	wantKind(t, err, errs.ErrInvalid, "n_results")
	if n, _ := st.Count(ctx); n != 1 {
		t.Fatalf("failed batches must write nothing: count %d", n)
	}
	// Odd ids round-trip unchanged.
	odd := []string{"with space", "slash/and\\back", "quote\"'", "unicode-ünï-✓-😀", "percent%20?&=#", "..", "\t\n", "a,b;c", "$eq", "very-long-" + string(make([]byte, 0)) + fmt.Sprint(math.MaxInt64)}
	var batch []search.Record
	for i, id := range odd {
		batch = append(batch, search.Record{ID: id, Embedding: []float32{float32(i + 1), 1}, Metadata: search.Metadata{"n": int64(i)}})
	}
	if err := st.Upsert(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, search.GetRequest{IDs: odd, Include: search.IncludeMetadatas})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), odd) {
		t.Fatalf("odd ids: got %q, want %q", ids(got), odd)
	}
	for i, g := range got {
		if g.Metadata["n"] != int64(i) {
			t.Fatalf("%q: metadata %v", g.ID, g.Metadata)
		}
	}
	if err := st.Delete(ctx, search.DeleteRequest{IDs: odd[:3]}); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != 1+len(odd)-3 {
		t.Fatalf("count after deleting odd ids %d", n)
	}
}
