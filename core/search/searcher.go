package search

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Config selects and configures the backend of a Searcher. It crosses the C
// API as JSON; zero values take the defaults.
type Config struct {
	// Backend is "embedded" or "chroma"; empty means chroma when Host is set.
	Backend          string `json:"backend"`
	PersistDirectory string `json:"persist_directory"` // embedded; default DefaultPersistDirectory()
	CollectionName   string `json:"collection_name"`   // default "structure_net_experiments"
	// ArchitectureCollection holds the architecture vectors; default
	// CollectionName + "_arch".
	ArchitectureCollection string `json:"architecture_collection"`
	EmbeddingDim           int    `json:"embedding_dim"`              // default 384
	ArchitectureDim        int    `json:"architecture_embedding_dim"` // default 128
	AllowReset             bool   `json:"allow_reset"`
	// MaxNResults rejects (never silently caps) larger n_results; 0 means no limit.
	MaxNResults int `json:"max_n_results"`

	Host       string            `json:"host"`
	Port       int               `json:"port"`
	SSL        bool              `json:"ssl"`
	Headers    map[string]string `json:"headers"`
	AuthToken  string            `json:"auth_token"`
	AuthHeader string            `json:"auth_header"`
	Tenant     string            `json:"tenant"`
	Database   string            `json:"database"`
	Timeout    float64           `json:"timeout"` // seconds
	MaxRetries int               `json:"max_retries"`
	BatchSize  int               `json:"batch_size"`

	BusyTimeout float64 `json:"busy_timeout"` // seconds, embedded
}

// DefaultPersistDirectory is $SND_CHROMA_DIR, else <user cache>/structure-net-data/chroma.
func DefaultPersistDirectory() string {
	if d := os.Getenv("SND_CHROMA_DIR"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "structure-net-data", "chroma")
}

// EnsureDefaults fills zero fields.
func (c *Config) EnsureDefaults() {
	if c.Backend == "" {
		c.Backend = "embedded"
		if c.Host != "" {
			c.Backend = "chroma"
		}
	}
	if c.CollectionName == "" {
		c.CollectionName = "structure_net_experiments"
	}
	if c.ArchitectureCollection == "" {
		c.ArchitectureCollection = c.CollectionName + "_arch"
	}
	if c.EmbeddingDim == 0 {
		c.EmbeddingDim = ExperimentDim
	}
	if c.ArchitectureDim == 0 {
		c.ArchitectureDim = ArchitectureDim
	}
	if c.Backend == "embedded" && c.PersistDirectory == "" {
		c.PersistDirectory = DefaultPersistDirectory()
	}
}

// Validate checks a config after EnsureDefaults.
func (c *Config) Validate() error {
	switch c.Backend {
	case "embedded", "chroma":
	default:
		return errs.Invalidf("backend must be \"embedded\" or \"chroma\", got %q", c.Backend)
	}
	if c.Backend == "chroma" && c.Host == "" {
		return errs.Invalidf("the chroma backend needs a host")
	}
	if c.EmbeddingDim < 0 || c.ArchitectureDim < 0 || c.MaxNResults < 0 || c.Timeout < 0 || c.BusyTimeout < 0 {
		return errs.Invalidf("dimensions, max_n_results and timeouts must not be negative")
	}
	if err := ValidateCollectionName(c.CollectionName); err != nil {
		return err
	}
	return ValidateCollectionName(c.ArchitectureCollection)
}

// OpenStore opens one collection of the configured backend.
func OpenStore(ctx context.Context, c Config, name string) (Store, error) {
	switch c.Backend {
	case "chroma":
		return OpenChroma(ctx, ChromaOptions{
			Host: c.Host, Port: c.Port, SSL: c.SSL, Headers: c.Headers, AuthToken: c.AuthToken, AuthHeader: c.AuthHeader,
			Tenant: c.Tenant, Database: c.Database, Name: name, Space: Cosine,
			Timeout: seconds(c.Timeout), MaxRetries: c.MaxRetries, BatchSize: c.BatchSize,
		})
	default:
		return OpenEmbedded(ctx, EmbeddedOptions{Dir: c.PersistDirectory, Name: name, Space: Cosine, BusyTimeout: seconds(c.BusyTimeout)})
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Searcher indexes experiments and answers the guide's searches. Experiments
// live in one collection (experiment vectors, metadata, the original JSON as
// document); their architectures in a second one (architecture vectors, the
// same metadata), so architecture search compares architecture vectors.
type Searcher struct {
	cfg  Config
	exp  Store
	arch Store
}

// Open opens (creating when missing) both collections.
func Open(ctx context.Context, c Config) (*Searcher, error) {
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	exp, err := OpenStore(ctx, c, c.CollectionName)
	if err != nil {
		return nil, err
	}
	arch, err := OpenStore(ctx, c, c.ArchitectureCollection)
	if err != nil {
		exp.Close()
		return nil, err
	}
	return &Searcher{cfg: c, exp: exp, arch: arch}, nil
}

// Config is the effective configuration.
func (s *Searcher) Config() Config { return s.cfg }

// Experiments is the experiment collection (for raw vector access).
func (s *Searcher) Experiments() Store { return s.exp }

// Architectures is the architecture collection.
func (s *Searcher) Architectures() Store { return s.arch }

// Close closes both collections.
func (s *Searcher) Close() error {
	err1 := s.exp.Close()
	err2 := s.arch.Close()
	if err1 != nil {
		return err1
	}
	return err2
}

// Item is one experiment to index: Data is its JSON object, Metadata the
// additional metadata (typed as DecodeJSON types it; see DecodeItems).
type Item struct {
	ID       string
	Data     json.RawMessage
	Metadata map[string]any
}

// Index embeds and upserts experiments (re-indexing an id replaces it). The
// document stored is Data itself, so Get returns the original experiment. An
// empty batch is a no-op. It writes both collections at once; experiments
// without layers are removed from the architecture one. Each collection's
// write is atomic on the embedded store; if one fails after the other
// succeeded, indexing the batch again repairs it.
func (s *Searcher) Index(ctx context.Context, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	prepared := make([]preparedItem, len(items))
	// Decoding and embedding are independent per experiment: use every core.
	workers := min(runtime.GOMAXPROCS(0), (len(items)+255)/256)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(items); i += workers {
				prepared[i] = s.prepare(i, items[i])
			}
		}(w)
	}
	wg.Wait()
	expRecs := make([]Record, 0, len(items))
	var archRecs []Record
	var noArch []string
	for _, p := range prepared {
		if p.err != nil {
			return p.err
		}
		expRecs = append(expRecs, p.exp)
		if p.arch == nil {
			noArch = append(noArch, p.exp.ID)
		} else {
			archRecs = append(archRecs, *p.arch)
		}
	}
	// The collections are independent stores: write both at once. Either
	// failing leaves the other written; re-indexing (an upsert) repairs it.
	archDone := make(chan error, 1)
	go func() {
		err := s.arch.Upsert(ctx, archRecs)
		if err == nil && len(noArch) > 0 {
			err = s.arch.Delete(ctx, DeleteRequest{IDs: noArch})
		}
		archDone <- err
	}()
	expErr := s.exp.Upsert(ctx, expRecs)
	archErr := <-archDone
	if expErr != nil {
		return expErr
	}
	return archErr
}

type preparedItem struct {
	exp  Record
	arch *Record // nil when the experiment has no layers
	err  error
}

func (s *Searcher) prepare(i int, it Item) preparedItem {
	fail := func(err error) preparedItem {
		return preparedItem{err: errs.Invalidf("experiment %q: %v", it.ID, err)}
	}
	if err := ValidateID(it.ID); err != nil {
		return preparedItem{err: errs.Invalidf("experiment %d: %v", i, err)}
	}
	dec, err := DecodeJSON(it.Data)
	if err != nil {
		return fail(err)
	}
	exp, ok := dec.(map[string]any)
	if !ok {
		return fail(errs.Invalidf("data must be a JSON object, got %s", typeName(dec)))
	}
	meta, err := ExperimentMetadata(it.ID, exp, it.Metadata)
	if err != nil {
		return fail(err)
	}
	vec, err := EmbedExperiment(exp, s.cfg.EmbeddingDim)
	if err != nil {
		return fail(err)
	}
	// The document is the experiment's JSON text as received (Python sends it compact).
	p := preparedItem{exp: Record{ID: it.ID, Embedding: vec, Metadata: meta, Document: string(bytes.TrimSpace(it.Data))}}
	arch, _ := ParseArchitecture(exp["architecture"])
	if len(arch.Layers) > 0 {
		avec, err := EmbedArchitecture(arch.Layers, s.cfg.ArchitectureDim)
		if err != nil {
			return fail(err)
		}
		p.arch = &Record{ID: it.ID, Embedding: avec, Metadata: meta}
	}
	return p
}

// DecodeItems decodes a JSON array of {"id", "data", "metadata"}. Each data
// object is only delimited here (Index parses them in parallel); metadata is
// decoded with ints and floats kept apart.
func DecodeItems(b []byte) ([]Item, error) {
	p := &jsonParser{b: b}
	p.ws()
	if p.i >= len(b) || b[p.i] != '[' {
		return nil, errs.Invalidf("experiments must be a JSON list of {id, data, metadata}")
	}
	p.i++
	var items []Item
	for {
		p.ws()
		if p.i < len(b) && b[p.i] == ']' && len(items) == 0 {
			p.i++
			break
		}
		it, err := p.item(len(items))
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		p.ws()
		if p.i >= len(b) {
			return nil, p.fail("unexpected end of input in the experiment list")
		}
		if b[p.i] == ']' {
			p.i++
			break
		}
		if b[p.i] != ',' {
			return nil, p.fail("expected ',' or ']' after an experiment")
		}
		p.i++
	}
	p.ws()
	if p.i != len(b) {
		return nil, p.fail("trailing data after the experiment list")
	}
	return items, nil
}

func (p *jsonParser) item(n int) (Item, error) {
	var it Item
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return it, errs.Invalidf("experiment %d must be an object {id, data, metadata}", n)
	}
	p.i++
	hasID := false
	for {
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			break
		}
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return it, p.fail("expected a key")
		}
		key, err := p.str()
		if err != nil {
			return it, err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return it, p.fail("expected ':'")
		}
		p.i++
		switch key {
		case "data":
			start, end, err := p.skip()
			if err != nil {
				return it, err
			}
			it.Data = json.RawMessage(p.b[start:end])
		case "id", "metadata":
			v, err := p.value()
			if err != nil {
				return it, err
			}
			if key == "id" {
				s, ok := v.(string)
				if !ok {
					return it, errs.Invalidf("experiment %d: id must be a string, got %s", n, typeName(v))
				}
				it.ID, hasID = s, true
			} else if v != nil {
				m, ok := v.(map[string]any)
				if !ok {
					return it, errs.Invalidf("experiment %d: additional metadata must be a dict, got %s", n, typeName(v))
				}
				it.Metadata = m
			}
		default:
			return it, errs.Invalidf("experiment %d: unknown field %q (expected id, data, metadata)", n, key)
		}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ',' {
			p.i++
		}
	}
	if !hasID {
		return it, errs.Invalidf("experiment %d has no id", n)
	}
	if len(it.Data) == 0 {
		return it, errs.Invalidf("experiment %q has no data", it.ID)
	}
	return it, nil
}

// Result is one search hit.
type Result struct {
	ID string `json:"id"`
	// SimilarityScore is 1 - cosine distance = cos(query, hit), in [-1, 1];
	// null for searches without a query vector (performance, hypothesis).
	SimilarityScore *float64 `json:"similarity_score"`
	Distance        *float64 `json:"distance"`
	Metadata        Metadata `json:"metadata"`
	Description     string   `json:"description"`
	Accuracy        any      `json:"accuracy"`
	Parameters      any      `json:"parameters"`
	Dataset         any      `json:"dataset"`
	Architecture    any      `json:"architecture"`
	HypothesisID    any      `json:"hypothesis_id"`
}

func newResult(r Record, dist *float32) Result {
	res := Result{ID: r.ID, Metadata: r.Metadata, Description: Describe(r.Metadata)}
	if dist != nil {
		d := float64(*dist)
		sim := 1 - d
		res.Distance, res.SimilarityScore = &d, &sim
	}
	res.Accuracy = r.Metadata["accuracy"]
	res.Parameters = r.Metadata["parameters"]
	res.Dataset = r.Metadata["dataset"]
	res.Architecture = r.Metadata["architecture"]
	res.HypothesisID = r.Metadata["hypothesis_id"]
	if res.Metadata == nil {
		res.Metadata = Metadata{}
	}
	return res
}

func (s *Searcher) checkN(n int) error {
	if n <= 0 {
		return errs.Invalidf("n_results must be positive, got %d", n)
	}
	if s.cfg.MaxNResults > 0 && n > s.cfg.MaxNResults {
		return errs.Invalidf("n_results %d exceeds max_n_results %d", n, s.cfg.MaxNResults)
	}
	return nil
}

func (s *Searcher) query(ctx context.Context, st Store, vec []float32, n int, where *Filter, wdoc *DocFilter) ([]Result, error) {
	if err := s.checkN(n); err != nil {
		return nil, err
	}
	hits, err := st.Query(ctx, QueryRequest{Embedding: vec, N: n, Where: where, WhereDocument: wdoc, Include: IncludeMetadatas})
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(hits))
	for i, h := range hits {
		out[i] = newResult(h.Record, &h.Distance)
	}
	return out, nil
}

// SimilarExperiments returns the n experiments nearest to query (an
// experiment dict, embedded like indexed ones) among those matching filters.
func (s *Searcher) SimilarExperiments(ctx context.Context, query map[string]any, n int, where *Filter, wdoc *DocFilter) ([]Result, error) {
	vec, err := EmbedExperiment(query, s.cfg.EmbeddingDim)
	if err != nil {
		return nil, err
	}
	return s.query(ctx, s.exp, vec, n, where, wdoc)
}

// ByArchitecture returns the n experiments whose architecture vectors are
// nearest to arch's (a list of widths, a dict with layers, or its JSON text).
func (s *Searcher) ByArchitecture(ctx context.Context, arch any, n int, where *Filter) ([]Result, error) {
	a, err := ParseArchitecture(arch)
	if err != nil {
		return nil, err
	}
	if len(a.Layers) == 0 {
		return nil, errs.Invalidf("architecture has no layers to compare")
	}
	vec, err := EmbedArchitecture(a.Layers, s.cfg.ArchitectureDim)
	if err != nil {
		return nil, err
	}
	return s.query(ctx, s.arch, vec, n, where, nil)
}

// allMatching returns every record matching where, with metadata.
func (s *Searcher) allMatching(ctx context.Context, where *Filter) ([]Record, error) {
	return s.exp.Get(ctx, GetRequest{Where: where, Include: IncludeMetadatas})
}

// byAccuracy sorts by accuracy, best first (records without one last), then id.
func byAccuracy(recs []Record) {
	acc := func(r Record) (float64, bool) { return number(r.Metadata["accuracy"]) }
	sort.SliceStable(recs, func(i, j int) bool {
		ai, oki := acc(recs[i])
		aj, okj := acc(recs[j])
		if oki != okj {
			return oki
		}
		if oki && ai != aj {
			return ai > aj
		}
		return recs[i].ID < recs[j].ID
	})
}

// ByPerformance returns the n most accurate experiments among all that reach
// minAccuracy, have at most maxParameters and ran on dataset (nil: no bound).
// n <= 0 returns every match.
func (s *Searcher) ByPerformance(ctx context.Context, minAccuracy *float64, maxParameters *float64, dataset *string, n int) ([]Result, error) {
	if n > 0 {
		if err := s.checkN(n); err != nil {
			return nil, err
		}
	}
	var subs []*Filter
	if minAccuracy != nil {
		if math.IsNaN(*minAccuracy) {
			return nil, errs.Invalidf("min_accuracy is NaN")
		}
		subs = append(subs, &Filter{Op: OpGte, Key: "accuracy", Values: []any{*minAccuracy}})
	}
	if maxParameters != nil {
		if math.IsNaN(*maxParameters) {
			return nil, errs.Invalidf("max_parameters is NaN")
		}
		subs = append(subs, &Filter{Op: OpLte, Key: "parameters", Values: []any{numericOperand(*maxParameters)}})
	}
	if dataset != nil {
		subs = append(subs, &Filter{Op: OpEq, Key: "dataset", Values: []any{*dataset}})
	}
	var where *Filter
	if len(subs) > 0 {
		where = andOf(subs)
	}
	recs, err := s.allMatching(ctx, where)
	if err != nil {
		return nil, err
	}
	byAccuracy(recs)
	if n > 0 && len(recs) > n {
		recs = recs[:n]
	}
	return results(recs), nil
}

// numericOperand keeps an integral bound an int, so it compares exactly with int metadata.
func numericOperand(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// ByHypothesis returns the experiments of one hypothesis, most accurate
// first; n <= 0 returns all of them.
func (s *Searcher) ByHypothesis(ctx context.Context, hypothesisID string, n int) ([]Result, error) {
	if n > 0 {
		if err := s.checkN(n); err != nil {
			return nil, err
		}
	}
	recs, err := s.allMatching(ctx, &Filter{Op: OpEq, Key: "hypothesis_id", Values: []any{hypothesisID}})
	if err != nil {
		return nil, err
	}
	byAccuracy(recs)
	if n > 0 && len(recs) > n {
		recs = recs[:n]
	}
	return results(recs), nil
}

func results(recs []Record) []Result {
	out := make([]Result, len(recs))
	for i, r := range recs {
		out[i] = newResult(r, nil)
	}
	return out
}

// Experiment is a stored experiment: the original JSON and its metadata.
type Experiment struct {
	ID         string          `json:"id"`
	Experiment json.RawMessage `json:"experiment"`
	Metadata   Metadata        `json:"metadata"`
}

// Get returns the experiment indexed under id, or ErrNotFound.
func (s *Searcher) Get(ctx context.Context, id string) (*Experiment, error) {
	recs, err := s.exp.Get(ctx, GetRequest{IDs: []string{id}, Include: IncludeMetadatas | IncludeDocuments})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errs.NotFoundf("no experiment indexed under id %q", id)
	}
	r := recs[0]
	doc := json.RawMessage(r.Document)
	if !json.Valid(doc) {
		// Indexed by another client with a text document: return it as a string.
		b, _ := json.Marshal(r.Document)
		doc = b
	}
	return &Experiment{ID: r.ID, Experiment: doc, Metadata: r.Metadata}, nil
}

// Delete removes experiments from both collections; missing ids are ignored.
func (s *Searcher) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.exp.Delete(ctx, DeleteRequest{IDs: ids}); err != nil {
		return err
	}
	return s.arch.Delete(ctx, DeleteRequest{IDs: ids})
}

// Count is the number of indexed experiments.
func (s *Searcher) Count(ctx context.Context) (int, error) { return s.exp.Count(ctx) }

// Reset deletes every experiment; it needs AllowReset.
func (s *Searcher) Reset(ctx context.Context) error {
	if !s.cfg.AllowReset {
		return errs.Invalidf("collection reset not allowed: set allow_reset=True in the config")
	}
	if err := s.exp.Reset(ctx); err != nil {
		return err
	}
	return s.arch.Reset(ctx)
}
