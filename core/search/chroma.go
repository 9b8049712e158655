package search

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	chroma "github.com/amikos-tech/chroma-go/pkg/api/v2"
	chhttp "github.com/amikos-tech/chroma-go/pkg/commons/http"
	"github.com/amikos-tech/chroma-go/pkg/embeddings"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
	"github.com/structure-net/structure-net-data/core/logging"
)

// ChromaOptions configures OpenChroma.
type ChromaOptions struct {
	Host       string            // server host (required)
	Port       int               // default 8000
	SSL        bool              // https
	Headers    map[string]string // sent with every request
	AuthToken  string            // sent as "Authorization: Bearer <token>", or in AuthHeader
	AuthHeader string            // "Authorization" (default) or "X-Chroma-Token"
	Tenant     string            // default "default_tenant"; created when missing
	Database   string            // default "default_database"; created when missing
	Name       string            // collection name
	Space      Space             // "" keeps the stored space (cosine for a new collection)
	Timeout    time.Duration     // per request, default 30 s
	MaxRetries int               // retries of a transient failure, default 4 (-1: none)
	BatchSize  int               // records per request, default and maximum the server's max_batch_size
}

// WriteError reports a write that failed part-way on a server: the records
// in Written were stored; those in Unconfirmed may or may not have been.
// Upsert is idempotent, so writing Unconfirmed again is safe.
type WriteError struct {
	Written     []string
	Unconfirmed []string
	Cause       error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("chroma: upsert stopped after %d of %d records were written (not confirmed: %s): %v",
		len(e.Written), len(e.Written)+len(e.Unconfirmed), quoteList(e.Unconfirmed, 5), e.Cause)
}

// Unwrap exposes the cause's kind (usually ErrUnavailable).
func (e *WriteError) Unwrap() error { return e.Cause }

// precomputedEF is the embedding function of our collections: we always send
// vectors, and without an EF chroma-go would download an ONNX model.
type precomputedEF struct{}

var errNoText = errors.New("this collection stores precomputed embeddings: pass embeddings explicitly")

func (precomputedEF) EmbedDocuments(context.Context, []string) ([]embeddings.Embedding, error) {
	return nil, errNoText
}
func (precomputedEF) EmbedQuery(context.Context, string) (embeddings.Embedding, error) {
	return nil, errNoText
}
func (precomputedEF) Name() string { return "precomputed" }
func (precomputedEF) GetConfig() embeddings.EmbeddingFunctionConfig {
	return embeddings.EmbeddingFunctionConfig{}
}
func (precomputedEF) DefaultSpace() embeddings.DistanceMetric { return embeddings.COSINE }
func (precomputedEF) SupportedSpaces() []embeddings.DistanceMetric {
	return []embeddings.DistanceMetric{embeddings.COSINE, embeddings.L2, embeddings.IP}
}

// rawWhere sends a where clause we rendered ourselves: exact float operands
// (chroma-go's builders take float32) and the full grammar in one type.
type rawWhere struct{ b []byte }

func (w *rawWhere) String() string                               { return string(w.b) }
func (w *rawWhere) Validate() error                              { return nil }
func (w *rawWhere) MarshalJSON() ([]byte, error)                 { return w.b, nil }
func (w *rawWhere) UnmarshalJSON(b []byte) error                 { w.b = append([]byte(nil), b...); return nil }
func (w *rawWhere) Operator() chroma.WhereDocumentFilterOperator { return "" }
func (w *rawWhere) Operand() interface{}                         { return nil }

// wireMetadata sends metadata with floats written exactly (chroma-go writes
// "%.15f", which turns 1e-20 into 0) and nulls for keys to delete.
type wireMetadata struct {
	chroma.DocumentMetadata // never called: chroma-go only marshals our values
	raw                     []byte
}

func (m wireMetadata) MarshalJSON() ([]byte, error) { return m.raw, nil }

type chromaStore struct {
	o       ChromaOptions
	baseURL string
	client  chroma.Client
	httpc   *http.Client
	headers map[string]string
	batch   int
	version string

	mu    sync.Mutex // guards col, dim, space
	col   chroma.Collection
	dim   int
	space Space
}

// OpenChroma connects to a Chroma server and gets or creates the collection.
// It fails with ErrUnavailable when the server cannot be reached.
func OpenChroma(ctx context.Context, o ChromaOptions) (Store, error) {
	if err := ValidateCollectionName(o.Name); err != nil {
		return nil, err
	}
	if o.Host == "" {
		return nil, errs.Invalidf("chroma: host is empty")
	}
	if o.Port == 0 {
		o.Port = 8000
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, errs.Invalidf("chroma: port %d out of range", o.Port)
	}
	if o.Tenant == "" {
		o.Tenant = chroma.DefaultTenant
	}
	if o.Database == "" {
		o.Database = chroma.DefaultDatabase
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 4
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	scheme := "http"
	if o.SSL {
		scheme = "https"
	}
	s := &chromaStore{o: o, baseURL: fmt.Sprintf("%s://%s/api/v2", scheme, net.JoinHostPort(o.Host, fmt.Sprint(o.Port)))}
	s.headers = map[string]string{}
	for k, v := range o.Headers {
		s.headers[k] = v
	}
	opts := []chroma.ClientOption{
		chroma.WithBaseURL(s.baseURL),
		chroma.WithTimeout(o.Timeout),
		chroma.WithDatabaseAndTenant(o.Database, o.Tenant),
	}
	if len(s.headers) > 0 {
		opts = append(opts, chroma.WithDefaultHeaders(s.headers))
	}
	if o.AuthToken != "" {
		header := chroma.AuthorizationTokenHeader
		switch strings.ToLower(o.AuthHeader) {
		case "", "authorization":
		case "x-chroma-token":
			header = chroma.XChromaTokenHeader
		default:
			return nil, errs.Invalidf("chroma: auth_header must be Authorization or X-Chroma-Token, got %q", o.AuthHeader)
		}
		opts = append(opts, chroma.WithAuth(chroma.NewTokenAuthCredentialsProvider(o.AuthToken, header)))
		h, _ := chroma.NewTokenAuthCredentialsProvider(o.AuthToken, header).Authenticate()
		for k, v := range h {
			s.headers[k] = v
		}
	}
	client, err := chroma.NewHTTPClient(opts...)
	if err != nil {
		return nil, errs.Invalidf("chroma: %v", err)
	}
	s.client = client
	s.httpc = &http.Client{Timeout: o.Timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	if err := s.connect(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

func (s *chromaStore) connect(ctx context.Context) error {
	err := s.retry(ctx, "connect", func() error {
		v, err := s.client.GetVersion(ctx)
		s.version = v
		return err
	})
	if err != nil {
		return err
	}
	if err := s.preflight(ctx); err != nil {
		return err
	}
	if err := s.ensureDatabase(ctx); err != nil {
		return err
	}
	return s.resolve(ctx, s.o.Space)
}

// preflight reads max_batch_size, which bounds every request's record count.
func (s *chromaStore) preflight(ctx context.Context) error {
	var limits struct {
		MaxBatchSize int `json:"max_batch_size"`
	}
	err := s.retry(ctx, "pre-flight", func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+"/pre-flight-checks", nil)
		if err != nil {
			return err
		}
		for k, v := range s.headers {
			req.Header.Set(k, v)
		}
		resp, err := s.httpc.Do(req)
		if err != nil {
			return chhttp.ChromaErrorFromHTTPResponse(nil, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 400 {
			return chhttp.ChromaErrorFromHTTPResponse(resp, nil)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return chhttp.ChromaErrorFromHTTPResponse(nil, err)
		}
		return json.Unmarshal(body, &limits)
	})
	if err != nil {
		return err
	}
	s.batch = limits.MaxBatchSize
	if s.batch <= 0 {
		s.batch = 5461
	}
	if s.o.BatchSize > 0 && s.o.BatchSize < s.batch {
		s.batch = s.o.BatchSize
	}
	return nil
}

func (s *chromaStore) ensureDatabase(ctx context.Context) error {
	tenant := chroma.NewTenant(s.o.Tenant)
	if s.o.Tenant != chroma.DefaultTenant {
		err := s.retry(ctx, "get tenant", func() error { _, err := s.client.GetTenant(ctx, tenant); return err })
		if errs.KindOf(err) == errs.ErrNotFound {
			err = s.retry(ctx, "create tenant", func() error { _, err := s.client.CreateTenant(ctx, tenant); return err })
		}
		if err != nil {
			return err
		}
	}
	db := chroma.NewDatabase(s.o.Database, tenant)
	err := s.retry(ctx, "get database", func() error { _, err := s.client.GetDatabase(ctx, db); return err })
	if errs.KindOf(err) == errs.ErrNotFound {
		err = s.retry(ctx, "create database", func() error { _, err := s.client.CreateDatabase(ctx, db); return err })
	}
	return err
}

// resolve gets or creates the collection and reads its space and dimension.
func (s *chromaStore) resolve(ctx context.Context, space Space) error {
	want := space
	if want == "" {
		want = Cosine
	}
	var col chroma.Collection
	err := s.retry(ctx, "get or create collection", func() error {
		var err error
		// hnsw:space must be set after the metadata option: that option
		// replaces the whole metadata map (go-dependencies.md, pitfall 1).
		col, err = s.client.GetOrCreateCollection(ctx, s.o.Name,
			chroma.WithEmbeddingFunctionCreate(precomputedEF{}),
			chroma.WithDisableEFConfigStorage(),
			chroma.WithCollectionMetadataCreate(chroma.NewMetadata(chroma.NewStringAttribute("created_by", "structure-net-data"))),
			chroma.WithHNSWSpaceCreate(embeddings.DistanceMetric(want)))
		return err
	})
	if err != nil {
		return err
	}
	got := collectionSpace(col)
	if space != "" && got != space {
		return errs.Conflictf("chroma: collection %q was created with space %s, not %s", s.o.Name, got, space)
	}
	s.mu.Lock()
	s.col, s.space, s.dim = col, got, col.Dimension()
	s.mu.Unlock()
	return nil
}

// collectionSpace reads hnsw:space from metadata, else the configuration;
// Chroma's default is l2.
func collectionSpace(col chroma.Collection) Space {
	if md := col.Metadata(); md != nil {
		if v, ok := md.GetString("hnsw:space"); ok {
			if sp, err := ParseSpace(v); err == nil {
				return sp
			}
		}
	}
	if cfg := col.Configuration(); cfg != nil {
		if h, ok := cfg.GetRaw("hnsw"); ok {
			if hm, ok := h.(map[string]any); ok {
				if v, ok := hm["space"].(string); ok {
					if sp, err := ParseSpace(v); err == nil {
						return sp
					}
				}
			}
		}
	}
	return L2
}

func (s *chromaStore) Name() string    { return s.o.Name }
func (s *chromaStore) Backend() string { return "chroma" }
func (s *chromaStore) Space() Space {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.space
}

// Version is the server's version string.
func (s *chromaStore) Version() string { return s.version }

func (s *chromaStore) collection() chroma.Collection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.col
}

// classify maps a chroma-go error to our kinds.
func (s *chromaStore) classify(what string, err error) error {
	if err == nil {
		return nil
	}
	if errs.KindOf(err) != errs.ErrInternal {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Unavailablef("chroma: %s at %s: %v", what, s.baseURL, err)
	}
	var ce *chhttp.ChromaError
	if errors.As(err, &ce) {
		switch {
		case ce.ErrorCode == 0:
			return errs.Unavailablef("chroma: %s: server at %s unreachable: %s", what, s.baseURL, ce.Message)
		case ce.ErrorCode == 401 || ce.ErrorCode == 403:
			return errs.Invalidf("chroma: %s: authentication failed (HTTP %d): check auth_token and headers: %s", what, ce.ErrorCode, ce.Message)
		case ce.ErrorCode == 404:
			return errs.NotFoundf("chroma: %s: %s", what, ce.Message)
		case ce.ErrorCode == 409:
			return errs.Conflictf("chroma: %s: %s", what, ce.Message)
		case ce.ErrorCode >= 500:
			return errs.Unavailablef("chroma: %s: server error (HTTP %d): %s", what, ce.ErrorCode, ce.Message)
		default:
			return errs.Invalidf("chroma: %s: rejected (HTTP %d): %s", what, ce.ErrorCode, ce.Message)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return errs.Unavailablef("chroma: %s: server at %s unreachable: %v", what, s.baseURL, err)
	}
	return errs.Invalidf("chroma: %s: %v", what, err)
}

func transient(err error) bool {
	var ce *chhttp.ChromaError
	if errors.As(err, &ce) {
		switch ce.ErrorCode {
		case 0, 429, 502, 503, 504:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// retry runs fn, retrying transient failures with exponential backoff and
// jitter (100 ms doubling, capped at 2 s).
func (s *chromaStore) retry(ctx context.Context, what string, fn func() error) error {
	delay := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if !transient(err) || attempt >= s.o.MaxRetries || ctx.Err() != nil {
			return s.classify(what, err)
		}
		logging.L().Warn().Err(err).Str("op", what).Int("attempt", attempt+1).Msg("chroma: transient failure, retrying")
		sleep := delay/2 + time.Duration(rand.Int64N(int64(delay)))
		select {
		case <-ctx.Done():
			return s.classify(what, ctx.Err())
		case <-time.After(sleep):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// withCollection runs fn on the collection, re-resolving it once when the
// server no longer knows it (another client reset it).
func (s *chromaStore) withCollection(ctx context.Context, what string, fn func(chroma.Collection) error) error {
	err := s.retry(ctx, what, func() error { return fn(s.collection()) })
	if errs.KindOf(err) != errs.ErrNotFound {
		return err
	}
	if rerr := s.resolve(ctx, ""); rerr != nil {
		return err
	}
	return s.retry(ctx, what, func() error { return fn(s.collection()) })
}

func (s *chromaStore) Dimension(ctx context.Context) (int, error) {
	var dim int
	err := s.retry(ctx, "get collection", func() error {
		col, err := s.client.GetCollection(ctx, s.o.Name, chroma.WithEmbeddingFunctionGet(precomputedEF{}))
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.col, s.dim = col, col.Dimension()
		dim = s.dim
		s.mu.Unlock()
		return nil
	})
	return dim, err
}

func (s *chromaStore) knownDim(ctx context.Context) (int, error) {
	s.mu.Lock()
	dim := s.dim
	s.mu.Unlock()
	if dim > 0 {
		return dim, nil
	}
	return s.Dimension(ctx)
}

func chunks[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}

func docIDs(ids []string) []chroma.DocumentID {
	out := make([]chroma.DocumentID, len(ids))
	for i, id := range ids {
		out[i] = chroma.DocumentID(id)
	}
	return out
}

func (s *chromaStore) Upsert(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	dim, err := s.knownDim(ctx)
	if err != nil {
		return err
	}
	if err := ValidateRecords(recs, dim); err != nil {
		return err
	}
	var written []string
	for ci, chunk := range chunks(recs, s.batch) {
		if err := s.upsertChunk(ctx, chunk); err != nil {
			if errs.KindOf(err) == errs.ErrInvalid && ci == 0 {
				return err // rejected before anything was written
			}
			var rest []string
			for _, r := range recs[len(written):] {
				rest = append(rest, r.ID)
			}
			return &WriteError{Written: written, Unconfirmed: rest, Cause: err}
		}
		for _, r := range chunk {
			written = append(written, r.ID)
		}
	}
	s.mu.Lock()
	if s.dim == 0 {
		s.dim = len(recs[0].Embedding)
	}
	s.mu.Unlock()
	return nil
}

// upsertChunk replaces whole records: Chroma's upsert merges metadata, so
// keys the old record had and the new one lacks are sent as null (deleted).
func (s *chromaStore) upsertChunk(ctx context.Context, chunk []Record) error {
	ids := make([]string, len(chunk))
	for i, r := range chunk {
		ids[i] = r.ID
	}
	old := map[string]Metadata{}
	err := s.withCollection(ctx, "read previous metadata", func(col chroma.Collection) error {
		res, err := col.Get(ctx, chroma.WithIDs(docIDs(ids)...), chroma.WithInclude(chroma.IncludeMetadatas))
		if err != nil {
			return err
		}
		metas := res.GetMetadatas()
		for i, id := range res.GetIDs() {
			if i < len(metas) {
				old[string(id)] = fromChromaMetadata(metas[i])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	embs := make([]embeddings.Embedding, len(chunk))
	metas := make([]chroma.DocumentMetadata, len(chunk))
	docs := make([]string, len(chunk))
	for i, r := range chunk {
		embs[i] = embeddings.NewEmbeddingFromFloat32(r.Embedding)
		raw, err := wireMetadataJSON(r.Metadata, old[r.ID])
		if err != nil {
			return err
		}
		metas[i] = wireMetadata{raw: raw}
		docs[i] = r.Document
	}
	return s.withCollection(ctx, "upsert", func(col chroma.Collection) error {
		return col.Upsert(ctx, chroma.WithIDs(docIDs(ids)...), chroma.WithEmbeddings(embs...),
			chroma.WithMetadatas(metas...), chroma.WithTexts(docs...))
	})
}

func wireMetadataJSON(m, old Metadata) ([]byte, error) {
	out := make(map[string]any, len(m)+len(old))
	for k := range old {
		if _, keep := m[k]; !keep {
			out[k] = nil
		}
	}
	for k, v := range m {
		out[k] = v
	}
	if len(out) == 0 {
		return []byte("null"), nil
	}
	return jsonvalue.Marshal(out)
}

func fromChromaMetadata(md chroma.DocumentMetadata) Metadata {
	impl, ok := md.(*chroma.DocumentMetadataImpl)
	if !ok || impl == nil {
		return nil
	}
	var out Metadata
	for _, k := range impl.Keys() {
		raw, ok := impl.GetRaw(k)
		if !ok || raw == nil {
			continue
		}
		if mv, isMV := raw.(chroma.MetadataValue); isMV {
			raw, _ = mv.GetRaw()
		}
		v, ok := scalar(raw)
		if !ok {
			if arr, err := json.Marshal(raw); err == nil {
				v = string(arr) // array metadata written by other clients
			} else {
				continue
			}
		}
		if out == nil {
			out = Metadata{}
		}
		out[k] = v
	}
	return out
}

func (s *chromaStore) filters(where *Filter, wdoc *DocFilter) (chroma.WhereFilter, chroma.WhereDocumentFilter, error) {
	var w chroma.WhereFilter
	var d chroma.WhereDocumentFilter
	if where != nil {
		b, err := jsonvalue.Marshal(where.chromaJSON())
		if err != nil {
			return nil, nil, err
		}
		w = &rawWhere{b}
	}
	if wdoc != nil {
		b, err := jsonvalue.Marshal(wdoc.chromaJSON())
		if err != nil {
			return nil, nil, err
		}
		d = &rawWhere{b}
	}
	return w, d, nil
}

func includes(inc Include, distances bool) []chroma.Include {
	var out []chroma.Include
	if inc&IncludeMetadatas != 0 {
		out = append(out, chroma.IncludeMetadatas)
	}
	if inc&IncludeDocuments != 0 {
		out = append(out, chroma.IncludeDocuments)
	}
	if inc&IncludeEmbeddings != 0 {
		out = append(out, chroma.IncludeEmbeddings)
	}
	if distances {
		out = append(out, chroma.IncludeDistances)
	}
	if len(out) == 0 {
		// chroma-go refuses an empty include; uris are null for our records.
		out = append(out, chroma.IncludeURIs)
	}
	return out
}

func (s *chromaStore) Query(ctx context.Context, req QueryRequest) ([]Hit, error) {
	dim, err := s.knownDim(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateQuery(&req, dim); err != nil {
		return nil, err
	}
	if dim == 0 {
		return nil, nil // empty collection
	}
	w, d, err := s.filters(req.Where, req.WhereDocument)
	if err != nil {
		return nil, err
	}
	var hits []Hit
	err = s.withCollection(ctx, "query", func(col chroma.Collection) error {
		opts := []chroma.CollectionQueryOption{
			chroma.WithQueryEmbeddings(embeddings.NewEmbeddingFromFloat32(req.Embedding)),
			chroma.WithNResults(req.N),
			chroma.WithInclude(includes(req.Include, true)...),
		}
		if w != nil {
			opts = append(opts, chroma.WithWhere(w))
		}
		if d != nil {
			opts = append(opts, chroma.WithWhereDocument(d))
		}
		res, err := col.Query(ctx, opts...)
		if err != nil {
			return err
		}
		hits = nil
		groups := res.GetIDGroups()
		if len(groups) == 0 {
			return nil
		}
		recs := toRecords(groups[0], group(res.GetMetadatasGroups()), group(res.GetDocumentsGroups()), group(res.GetEmbeddingsGroups()))
		dists := group(res.GetDistancesGroups())
		for i, r := range recs {
			h := Hit{Record: r}
			if i < len(dists) {
				h.Distance = float32(dists[i])
			}
			hits = append(hits, h)
		}
		return nil
	})
	return hits, err
}

func group[T any](g []T) T {
	var zero T
	if len(g) == 0 {
		return zero
	}
	return g[0]
}

func toRecords(ids chroma.DocumentIDs, metas chroma.DocumentMetadatas, docs chroma.Documents, embs embeddings.Embeddings) []Record {
	out := make([]Record, len(ids))
	for i, id := range ids {
		r := Record{ID: string(id)}
		if i < len(metas) && metas[i] != nil {
			r.Metadata = fromChromaMetadata(metas[i])
		}
		if i < len(docs) && docs[i] != nil {
			r.Document = docs[i].ContentString()
		}
		if i < len(embs) && embs[i] != nil {
			r.Embedding = embs[i].ContentAsFloat32()
		}
		out[i] = r
	}
	return out
}

func (s *chromaStore) getOnce(ctx context.Context, ids []string, w chroma.WhereFilter, d chroma.WhereDocumentFilter, limit, offset int, inc Include) ([]Record, error) {
	var out []Record
	err := s.withCollection(ctx, "get", func(col chroma.Collection) error {
		opts := []chroma.CollectionGetOption{chroma.WithInclude(includes(inc, false)...)}
		if ids != nil {
			opts = append(opts, chroma.WithIDs(docIDs(ids)...))
		}
		if w != nil {
			opts = append(opts, chroma.WithWhere(w))
		}
		if d != nil {
			opts = append(opts, chroma.WithWhereDocument(d))
		}
		if limit > 0 {
			opts = append(opts, chroma.WithLimit(limit))
		}
		if offset > 0 {
			opts = append(opts, chroma.WithOffset(offset))
		}
		res, err := col.Get(ctx, opts...)
		if err != nil {
			return err
		}
		out = toRecords(res.GetIDs(), res.GetMetadatas(), res.GetDocuments(), res.GetEmbeddings())
		return nil
	})
	return out, err
}

func (s *chromaStore) Get(ctx context.Context, req GetRequest) ([]Record, error) {
	if err := validateGet(&req); err != nil {
		return nil, err
	}
	w, d, err := s.filters(req.Where, req.WhereDocument)
	if err != nil {
		return nil, err
	}
	if req.IDs != nil {
		ids := uniqueIDs(req.IDs)
		if len(ids) == 0 {
			return nil, nil
		}
		byID := map[string]Record{}
		for _, c := range chunks(ids, s.batch) {
			recs, err := s.getOnce(ctx, c, w, d, 0, 0, req.Include)
			if err != nil {
				return nil, err
			}
			for _, r := range recs {
				byID[r.ID] = r
			}
		}
		var out []Record
		for _, id := range ids {
			if r, ok := byID[id]; ok {
				out = append(out, r)
			}
		}
		return page(out, req.Offset, req.Limit), nil
	}
	// Page through the server so no single response exceeds its batch size.
	var out []Record
	offset := req.Offset
	for {
		n := s.batch
		if req.Limit > 0 {
			n = min(n, req.Limit-len(out))
		}
		if n <= 0 {
			break
		}
		recs, err := s.getOnce(ctx, nil, w, d, n, offset, req.Include)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		offset += len(recs)
		if len(recs) < n {
			break
		}
	}
	return out, nil
}

func (s *chromaStore) Delete(ctx context.Context, req DeleteRequest) error {
	if err := validateDelete(&req); err != nil {
		return err
	}
	w, d, err := s.filters(req.Where, req.WhereDocument)
	if err != nil {
		return err
	}
	del := func(ids []string) error {
		return s.withCollection(ctx, "delete", func(col chroma.Collection) error {
			var opts []chroma.CollectionDeleteOption
			if ids != nil {
				opts = append(opts, chroma.WithIDs(docIDs(ids)...))
			}
			if w != nil {
				opts = append(opts, chroma.WithWhere(w))
			}
			if d != nil {
				opts = append(opts, chroma.WithWhereDocument(d))
			}
			return col.Delete(ctx, opts...)
		})
	}
	if req.IDs == nil {
		return del(nil)
	}
	ids := uniqueIDs(req.IDs)
	for _, c := range chunks(ids, s.batch) {
		if err := del(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *chromaStore) Count(ctx context.Context) (int, error) {
	var n int
	err := s.withCollection(ctx, "count", func(col chroma.Collection) error {
		var err error
		n, err = col.Count(ctx)
		return err
	})
	return n, err
}

func (s *chromaStore) Reset(ctx context.Context) error {
	space := s.Space()
	err := s.retry(ctx, "delete collection", func() error {
		return s.client.DeleteCollection(ctx, s.o.Name)
	})
	if err != nil && errs.KindOf(err) != errs.ErrNotFound {
		return err
	}
	return s.resolve(ctx, space)
}

func (s *chromaStore) Close() error {
	if err := s.client.Close(); err != nil {
		return errs.IOf("chroma: close: %v", err)
	}
	return nil
}
