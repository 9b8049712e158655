package search

import (
	"context"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/jsonvalue"
	"github.com/structure-net/structure-net-data/internal/parallel"
)

// Searcher indexes experiments and answers the guide's searches. Experiments
// live in one collection (experiment vectors, metadata, the experiment's JSON
// text as document); their architectures in a second one (architecture
// vectors, the same metadata), so architecture search compares architecture
// vectors.
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

// Item is one experiment to index.
type Item struct {
	ID string
	// Experiment is the experiment as maps, lists and scalars, e.g.
	// {"architecture": []int{784, 256, 10}, "final_performance":
	// {"accuracy": 0.95}, "config": {"dataset": "mnist"}}; see
	// ExperimentMetadata for the fields that become searchable.
	Experiment map[string]any
	// Metadata is additional searchable metadata; it overrides what is
	// derived from the experiment.
	Metadata map[string]any
	// Document is stored as the experiment's text and comes back from Get.
	// Empty means Experiment encoded as JSON (keys sorted, floats with a
	// decimal point); the C API passes the text it received, so Python gets
	// back its own dict, key order included.
	Document string
}

// Index embeds and upserts experiments (re-indexing an id replaces it). An
// empty batch is a no-op. It writes both collections at once; experiments
// without layers are removed from the architecture one. Each collection's
// write is atomic on the embedded store; if one fails after the other
// succeeded, indexing the batch again repairs it.
func (s *Searcher) Index(ctx context.Context, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	prepared := make([]preparedItem, len(items))
	// Embedding is independent per experiment: use every core.
	parallel.For(len(items), 256, func(i int) { prepared[i] = s.prepare(i, items[i]) })
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
		return preparedItem{err: errs.Invalidf("experiment %q: %w", it.ID, err)}
	}
	if err := ValidateID(it.ID); err != nil {
		return preparedItem{err: errs.Invalidf("experiment %d: %w", i, err)}
	}
	if it.Experiment == nil {
		return preparedItem{err: errs.Invalidf("experiment %q has no data", it.ID)}
	}
	exp, err := plainMap(it.Experiment, "experiment")
	if err != nil {
		return fail(err)
	}
	extra, err := plainMap(it.Metadata, "metadata")
	if err != nil {
		return fail(err)
	}
	meta, err := experimentMetadata(it.ID, exp, extra)
	if err != nil {
		return fail(err)
	}
	vec, err := embedExperiment(exp, s.cfg.EmbeddingDim)
	if err != nil {
		return fail(err)
	}
	doc := it.Document
	if doc == "" {
		b, err := jsonvalue.Marshal(exp)
		if err != nil {
			return fail(err)
		}
		doc = string(b)
	}
	p := preparedItem{exp: Record{ID: it.ID, Embedding: vec, Metadata: meta, Document: doc}}
	arch, _ := parseArchitecture(exp["architecture"])
	if len(arch.Layers) > 0 {
		avec, err := EmbedArchitecture(arch.Layers, s.cfg.ArchitectureDim)
		if err != nil {
			return fail(err)
		}
		p.arch = &Record{ID: it.ID, Embedding: avec, Metadata: meta}
	}
	return p
}

// Experiment is a stored experiment.
type Experiment struct {
	ID string
	// Document is the experiment's text as indexed (see Item.Document).
	Document string
	Metadata Metadata
}

// Data decodes Document into maps, lists and scalars (ints and floats kept
// apart). A document that is not JSON (written by another client) is an
// ErrInvalid error.
func (e *Experiment) Data() (map[string]any, error) {
	v, err := jsonvalue.Decode([]byte(e.Document))
	if err != nil {
		return nil, errs.Invalidf("experiment %q: its document is not JSON: %w", e.ID, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errs.Invalidf("experiment %q: its document is a JSON %s, not an object", e.ID, typeName(v))
	}
	return m, nil
}

// Get returns the experiment indexed under id, or an ErrNotFound error.
func (s *Searcher) Get(ctx context.Context, id string) (*Experiment, error) {
	recs, err := s.exp.Get(ctx, GetRequest{IDs: []string{id}, Include: IncludeMetadatas | IncludeDocuments})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errs.NotFoundf("no experiment indexed under id %q", id)
	}
	r := recs[0]
	return &Experiment{ID: r.ID, Document: r.Document, Metadata: r.Metadata}, nil
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
