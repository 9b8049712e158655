package search_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

// ---- a Chroma server that is down or dies mid-batch ----

func TestChromaServerDown(t *testing.T) {
	port := freePort(t) // nothing listens there
	start := time.Now()
	_, err := search.OpenChroma(context.Background(), search.ChromaOptions{Host: "127.0.0.1", Port: port, Name: "down", MaxRetries: 2})
	wantKind(t, err, errs.ErrUnavailable, "unreachable")
	if time.Since(start) > 15*time.Second {
		t.Fatalf("giving up took %v", time.Since(start))
	}
}

func vectors(n, dim int, seed int) []search.Record {
	recs := make([]search.Record, n)
	for i := range recs {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32((i*31+j*7+seed)%97) / 97
		}
		v[0] += 0.01 // never all zero
		recs[i] = search.Record{ID: fmt.Sprintf("rec-%06d", i), Embedding: v, Metadata: search.Metadata{"i": int64(i)}}
	}
	return recs
}

func TestChromaServerDiesMidBatch(t *testing.T) {
	ctx := context.Background()
	srv := startChroma(t)
	opts := search.ChromaOptions{Host: "127.0.0.1", Port: srv.port, Name: "midbatch", BatchSize: 100, MaxRetries: 1, Timeout: 5 * time.Second}
	st, err := search.OpenChroma(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	watcher, err := search.OpenChroma(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	recs := vectors(20000, 16, 1)
	done := make(chan error, 1)
	go func() { done <- st.Upsert(ctx, slices.Clone(recs)) }()
	// Kill the server (SIGKILL, a real crash) once it has taken a few chunks.
	for {
		n, err := watcher.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n >= 300 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the batch finished before the server could be killed: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	srv.kill()
	err = <-done
	var we *search.WriteError
	if !errors.As(err, &we) {
		t.Fatalf("want a *search.WriteError, got %T %v", err, err)
	}
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
	// The chunk in flight at the kill may have been stored without its reply
	// arriving: it is reported unconfirmed, so Written can trail the server's count.
	if len(we.Written) < 100 || len(we.Unconfirmed) == 0 || len(we.Written)+len(we.Unconfirmed) != len(recs) {
		t.Fatalf("written %d, unconfirmed %d of %d", len(we.Written), len(we.Unconfirmed), len(recs))
	}
	if !slices.Equal(append(slices.Clone(we.Written), we.Unconfirmed...), ids(recs)) {
		t.Fatal("written + unconfirmed must be the batch's ids in order")
	}
	// While it is down, reads fail clearly.
	_, qerr := st.Query(ctx, search.QueryRequest{Embedding: recs[0].Embedding, N: 3})
	wantKind(t, qerr, errs.ErrUnavailable, "unreachable")

	// After a restart every id reported written is there: no silent loss.
	srv.restart()
	st2, err := search.OpenChroma(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	got, err := st2.Get(ctx, search.GetRequest{IDs: we.Written})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(we.Written) {
		t.Fatalf("%d of %d written records survived the crash", len(got), len(we.Written))
	}
	// Writing the unconfirmed ones again completes the batch.
	var rest []search.Record
	for _, r := range recs[len(we.Written):] {
		rest = append(rest, r)
	}
	if err := st2.Upsert(ctx, rest); err != nil {
		t.Fatal(err)
	}
	if n, _ := st2.Count(ctx); n != len(recs) {
		t.Fatalf("count after completing %d", n)
	}
}

// ---- several processes writing one embedded store ----

// TestHelperProcess is the body of the child processes below; run
// directly it has nothing to do.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv("SND_SEARCH_HELPER")
	if role == "" {
		return
	}
	dir := os.Getenv("SND_SEARCH_DIR")
	writer, _ := strconv.Atoi(os.Getenv("SND_SEARCH_WRITER"))
	ctx := context.Background()
	st, err := search.OpenEmbedded(ctx, search.EmbeddedOptions{Dir: dir, Name: "shared"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	switch role {
	case "writer":
		const n, batch = 400, 20
		for b := 0; b < n/batch; b++ {
			recs := make([]search.Record, batch)
			for k := range recs {
				i := b*batch + k
				recs[k] = writerRecord(writer, i)
			}
			if err := st.Upsert(ctx, recs); err != nil {
				fail(err)
			}
			// Read between writes: syncing with the others must not disturb them.
			if _, err := st.Query(ctx, search.QueryRequest{Embedding: recs[0].Embedding, N: 5, Where: &search.Filter{Op: search.OpEq, Key: "writer", Values: []any{int64(writer)}}}); err != nil {
				fail(err)
			}
		}
		var del []string
		for i := 0; i < n; i += 10 {
			del = append(del, fmt.Sprintf("w%d-%04d", writer, i))
		}
		if err := st.Delete(ctx, search.DeleteRequest{IDs: del}); err != nil {
			fail(err)
		}
	case "crasher":
		// Writes big batches until killed.
		for b := 0; ; b++ {
			recs := make([]search.Record, 500)
			for k := range recs {
				recs[k] = writerRecord(writer, b*500+k)
			}
			if err := st.Upsert(ctx, recs); err != nil {
				fail(err)
			}
			fmt.Println("batch", b)
		}
	}
	st.Close()
	os.Exit(0)
}

func writerRecord(writer, i int) search.Record {
	v := []float32{float32(writer + 1), float32(i%50) + 1, float32(i) / 7, 1}
	return search.Record{
		ID:        fmt.Sprintf("w%d-%04d", writer, i),
		Embedding: v,
		Metadata:  search.Metadata{"writer": int64(writer), "i": int64(i), "tag": fmt.Sprintf("writer %d item %d", writer, i)},
		Document:  fmt.Sprintf("document of writer %d item %d", writer, i),
	}
}

func helperProcess(t *testing.T, role, dir string, writer int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SND_SEARCH_HELPER="+role, "SND_SEARCH_DIR="+dir, "SND_SEARCH_WRITER="+strconv.Itoa(writer))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func TestEmbeddedConcurrentProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reader, err := search.OpenEmbedded(ctx, search.EmbeddedOptions{Dir: dir, Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if n, err := reader.Count(ctx); err != nil || n != 0 {
		t.Fatalf("count %d %v", n, err)
	}
	// Load the reader's index now so it must follow the writers incrementally.
	if _, err := reader.Get(ctx, search.GetRequest{}); err != nil {
		t.Fatal(err)
	}
	const writers = 4
	var wg sync.WaitGroup
	outs := make([][]byte, writers)
	errsOut := make([]error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			outs[w], errsOut[w] = helperProcess(t, "writer", dir, w).CombinedOutput()
		}(w)
	}
	// Read while they write: counts only grow until the deletes start.
	stop := make(chan struct{})
	var readErr error
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := reader.Query(ctx, search.QueryRequest{Embedding: []float32{1, 1, 1, 1}, N: 10}); err != nil {
				readErr = err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	for w := 0; w < writers; w++ {
		if errsOut[w] != nil {
			t.Fatalf("writer %d: %v\n%s", w, errsOut[w], outs[w])
		}
	}
	if readErr != nil {
		t.Fatalf("reader during writes: %v", readErr)
	}
	want := writers * (400 - 40)
	check := func(st search.Store, who string) {
		if n, err := st.Count(ctx); err != nil || n != want {
			t.Fatalf("%s: count %d (%v), want %d", who, n, err, want)
		}
		all, err := st.Get(ctx, search.GetRequest{Include: search.IncludeMetadatas | search.IncludeEmbeddings | search.IncludeDocuments})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != want {
			t.Fatalf("%s: get returned %d records", who, len(all))
		}
		for _, r := range all {
			w, i := int(r.Metadata["writer"].(int64)), int(r.Metadata["i"].(int64))
			exp := writerRecord(w, i)
			if i%10 == 0 || r.ID != exp.ID || !slices.Equal(r.Embedding, exp.Embedding) || r.Document != exp.Document || r.Metadata["tag"] != exp.Metadata["tag"] {
				t.Fatalf("%s: record %s is wrong or should be deleted: %+v", who, r.ID, r)
			}
		}
	}
	check(reader, "reader open during the writes")
	fresh, err := search.OpenEmbedded(ctx, search.EmbeddedOptions{Dir: dir, Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	check(fresh, "fresh reader")
}

func TestEmbeddedSurvivesKilledWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cmd := helperProcess(t, "crasher", dir, 1)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for a few committed batches, then kill it while it writes the next.
	buf := make([]byte, 4096)
	seen := ""
	for len(seen) < len("batch 0\nbatch 1\nbatch 2\n") {
		n, err := stdout.Read(buf)
		if err != nil {
			t.Fatalf("crasher ended early: %v (%s)", err, seen)
		}
		seen += string(buf[:n])
	}
	time.Sleep(15 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	st, err := search.OpenEmbedded(ctx, search.EmbeddedOptions{Dir: dir, Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1500 || n%500 != 0 {
		t.Fatalf("after a killed writer the store has %d records: batches must be all or nothing", n)
	}
	all, err := st.Get(ctx, search.GetRequest{Include: search.IncludeMetadatas | search.IncludeEmbeddings})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		exp := writerRecord(1, int(r.Metadata["i"].(int64)))
		if r.ID != exp.ID || !slices.Equal(r.Embedding, exp.Embedding) {
			t.Fatalf("record %s corrupted: %+v", r.ID, r)
		}
	}
	// And it still takes writes.
	if err := st.Upsert(ctx, []search.Record{writerRecord(9, 0)}); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddedFollowsOtherHandles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(space search.Space) search.Store {
		st, err := search.OpenEmbedded(ctx, search.EmbeddedOptions{Dir: dir, Name: "follow", Space: space})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(""), open("")
	if a.Space() != search.Cosine {
		t.Fatalf("default space %s", a.Space())
	}
	if err := a.Upsert(ctx, vectors(50, 4, 0)); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Count(ctx); n != 50 {
		t.Fatalf("b sees %d", n)
	}
	hits, err := b.Query(ctx, search.QueryRequest{Embedding: []float32{1, 0, 0, 0}, N: 3})
	if err != nil || len(hits) != 3 {
		t.Fatalf("%v %v", hits, err)
	}
	if err := a.Delete(ctx, search.DeleteRequest{Where: &search.Filter{Op: search.OpLt, Key: "i", Values: []any{int64(10)}}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Count(ctx); n != 40 {
		t.Fatalf("b sees %d after a's delete", n)
	}
	if err := b.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.Count(ctx); n != 0 {
		t.Fatalf("a sees %d after b's reset", n)
	}
	if err := a.Upsert(ctx, []search.Record{{ID: "x", Embedding: []float32{1, 2}}}); err != nil {
		t.Fatalf("after reset a new dimension is allowed: %v", err)
	}
	if hits, err := b.Query(ctx, search.QueryRequest{Embedding: []float32{1, 2}, N: 1}); err != nil || len(hits) != 1 || hits[0].ID != "x" {
		t.Fatalf("b after a's write post-reset: %v %v", hits, err)
	}
	// Another space on an existing collection is a conflict, not silently ignored.
	_, err = search.OpenEmbedded(ctx, search.EmbeddedOptions{Dir: dir, Name: "follow", Space: search.L2})
	wantKind(t, err, errs.ErrConflict, "space cosine")
	// Closed stores say so.
	c := open("")
	c.Close()
	_, err = c.Count(ctx)
	wantKind(t, err, errs.ErrClosed, "closed")
}

// TestSearchEmbeddedParallelQueries covers the multi-core scan (more than
// 32k candidates) and queries racing writes in one process.
func TestEmbeddedParallelQueries(t *testing.T) {
	ctx := context.Background()
	st, err := search.OpenEmbedded(ctx, search.EmbeddedOptions{Dir: t.TempDir(), Name: "big"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs := vectors(40000, 8, 3)
	for i := range recs {
		recs[i].Embedding[i%8] += float32(i%1000) / 1000 // spread the vectors out
	}
	if err := st.Upsert(ctx, slices.Clone(recs)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	extra := vectors(200, 8, 9)
	for i := range extra {
		extra[i].ID = fmt.Sprintf("extra-%d", i)
	}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				if _, err := st.Query(ctx, search.QueryRequest{Embedding: recs[g*100+k].Embedding, N: 10}); err != nil {
					errc <- err
					return
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for s := 0; s < len(extra); s += 20 {
			if err := st.Upsert(ctx, slices.Clone(extra[s:s+20])); err != nil {
				errc <- err
				return
			}
		}
	}()
	wg.Wait()
	recs = append(recs, extra...)
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for _, qi := range []int{0, 12345, 39999} {
		q := recs[qi].Embedding
		type ref struct {
			id string
			d  float64
		}
		refs := make([]ref, len(recs))
		for i, r := range recs {
			refs[i] = ref{r.ID, search.Distance(search.Cosine, q, r.Embedding)}
		}
		sort.Slice(refs, func(a, b int) bool {
			if refs[a].d != refs[b].d {
				return refs[a].d < refs[b].d
			}
			return refs[a].id < refs[b].id
		})
		hits, err := st.Query(ctx, search.QueryRequest{Embedding: q, N: 10})
		if err != nil {
			t.Fatal(err)
		}
		for k, h := range hits {
			if h.ID != refs[k].id && math.Abs(float64(h.Distance)-refs[k].d) > 1e-6 {
				t.Fatalf("query %d rank %d: got %s %.7f, want %s %.7f", qi, k, h.ID, h.Distance, refs[k].id, refs[k].d)
			}
		}
	}
}
