package search

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/structure-net/structure-net-data/core/errs"
)

// Result is one search hit.
type Result struct {
	ID string
	// Scored is true for the searches by a query vector (SimilarExperiments,
	// ByArchitecture): Distance is the cosine distance 1-cos(query, hit) and
	// Similarity = 1-Distance = cos(query, hit), in [-1, 1]. ByPerformance
	// and ByHypothesis rank by accuracy and leave all three zero.
	Scored     bool
	Distance   float64
	Similarity float64
	Metadata   Metadata // never nil
	// Description is the readable one-line summary (see Describe).
	Description string
}

// An Option narrows or sizes a search. Every search takes every option; the
// filters of several options must all hold.
type Option func(*searchOptions)

type searchOptions struct {
	limit    int // 0: the search's default
	filters  []*Filter
	wdoc     *DocFilter
	problems []error // reported when the search runs
}

// Limit returns at most n results, n > 0. Without it, SimilarExperiments and
// ByArchitecture return 10 and ByPerformance and ByHypothesis every match.
func Limit(n int) Option {
	return func(o *searchOptions) {
		if n <= 0 {
			o.problems = append(o.problems, errs.Invalidf("n_results must be positive, got %d", n))
		}
		o.limit = n
	}
}

// Where keeps the experiments whose metadata matches f (see ParseWhere).
func Where(f *Filter) Option {
	return func(o *searchOptions) {
		if f != nil {
			o.filters = append(o.filters, f)
		}
	}
}

// WhereDocument keeps the experiments whose stored text matches d (see
// ParseWhereDocument). Architecture search has no documents to match, so it
// rejects this option.
func WhereDocument(d *DocFilter) Option {
	return func(o *searchOptions) {
		if d != nil && o.wdoc != nil {
			d = &DocFilter{Op: "$and", Subs: []*DocFilter{o.wdoc, d}}
		}
		o.wdoc = d
	}
}

// MinAccuracy keeps the experiments with an accuracy of at least a (so none
// without an accuracy).
func MinAccuracy(a float64) Option {
	return func(o *searchOptions) {
		if math.IsNaN(a) {
			o.problems = append(o.problems, errs.Invalidf("min_accuracy is NaN"))
			return
		}
		o.filters = append(o.filters, &Filter{Op: OpGte, Key: "accuracy", Values: []any{a}})
	}
}

// MaxParameters keeps the experiments with at most n parameters (so none
// without a parameter count).
func MaxParameters(n float64) Option {
	return func(o *searchOptions) {
		if math.IsNaN(n) {
			o.problems = append(o.problems, errs.Invalidf("max_parameters is NaN"))
			return
		}
		o.filters = append(o.filters, &Filter{Op: OpLte, Key: "parameters", Values: []any{numericOperand(n)}})
	}
}

// Dataset keeps the experiments that ran on the named dataset.
func Dataset(name string) Option {
	return func(o *searchOptions) {
		o.filters = append(o.filters, &Filter{Op: OpEq, Key: "dataset", Values: []any{name}})
	}
}

// numericOperand keeps an integral bound an int, so it compares exactly with int metadata.
func numericOperand(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// options applies opts; defaultLimit 0 means every match.
func (s *Searcher) options(defaultLimit int, opts []Option) (searchOptions, error) {
	o := searchOptions{limit: defaultLimit}
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.problems) > 0 {
		return o, o.problems[0]
	}
	if s.cfg.MaxNResults > 0 && o.limit > s.cfg.MaxNResults {
		return o, errs.Invalidf("n_results %d exceeds max_n_results %d", o.limit, s.cfg.MaxNResults)
	}
	return o, nil
}

// where is the conjunction of the options' filters, nil when there are none.
func (o *searchOptions) where() *Filter {
	switch len(o.filters) {
	case 0:
		return nil
	case 1:
		return o.filters[0]
	}
	return andOf(o.filters)
}

// SimilarExperiments returns the experiments nearest to query (an experiment,
// even a partial one, embedded like indexed ones), nearest first.
func (s *Searcher) SimilarExperiments(ctx context.Context, query map[string]any, opts ...Option) ([]Result, error) {
	o, err := s.options(10, opts)
	if err != nil {
		return nil, err
	}
	vec, err := EmbedExperiment(query, s.cfg.EmbeddingDim)
	if err != nil {
		return nil, err
	}
	return s.nearest(ctx, s.exp, vec, o)
}

// ByArchitecture returns the experiments whose architecture vectors are
// nearest to the one of these layer widths, nearest first. Experiments
// without layers are not candidates.
func (s *Searcher) ByArchitecture(ctx context.Context, layers []int, opts ...Option) ([]Result, error) {
	o, err := s.options(10, opts)
	if err != nil {
		return nil, err
	}
	if o.wdoc != nil {
		return nil, errs.Invalidf("architecture search has no documents to filter: where_document does not apply")
	}
	if len(layers) == 0 {
		return nil, errs.Invalidf("architecture has no layers to compare")
	}
	widths := make([]float64, len(layers))
	for i, w := range layers {
		widths[i] = float64(w)
	}
	vec, err := EmbedArchitecture(widths, s.cfg.ArchitectureDim)
	if err != nil {
		return nil, err
	}
	return s.nearest(ctx, s.arch, vec, o)
}

func (s *Searcher) nearest(ctx context.Context, st Store, vec []float32, o searchOptions) ([]Result, error) {
	hits, err := st.Query(ctx, QueryRequest{Embedding: vec, N: o.limit, Where: o.where(), WhereDocument: o.wdoc, Include: IncludeMetadatas})
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(hits))
	for i, h := range hits {
		out[i] = newResult(h.Record)
		d := float64(h.Distance)
		out[i].Scored, out[i].Distance, out[i].Similarity = true, d, 1-d
	}
	return out, nil
}

// ByPerformance returns the most accurate experiments among all that match
// the options (MinAccuracy, MaxParameters, Dataset, Where...), best first;
// experiments without an accuracy come last, ties go by id.
func (s *Searcher) ByPerformance(ctx context.Context, opts ...Option) ([]Result, error) {
	o, err := s.options(0, opts)
	if err != nil {
		return nil, err
	}
	return s.mostAccurate(ctx, o)
}

// ByHypothesis returns the experiments of one hypothesis, most accurate
// first, as ByPerformance orders them.
func (s *Searcher) ByHypothesis(ctx context.Context, hypothesisID string, opts ...Option) ([]Result, error) {
	o, err := s.options(0, opts)
	if err != nil {
		return nil, err
	}
	o.filters = append([]*Filter{{Op: OpEq, Key: "hypothesis_id", Values: []any{hypothesisID}}}, o.filters...)
	return s.mostAccurate(ctx, o)
}

// mostAccurate ranks every match: nothing but a full scan knows the best.
func (s *Searcher) mostAccurate(ctx context.Context, o searchOptions) ([]Result, error) {
	recs, err := s.exp.Get(ctx, GetRequest{Where: o.where(), WhereDocument: o.wdoc, Include: IncludeMetadatas})
	if err != nil {
		return nil, err
	}
	acc := func(r Record) (float64, bool) { return number(r.Metadata["accuracy"]) }
	slices.SortStableFunc(recs, func(a, b Record) int {
		aa, aok := acc(a)
		ba, bok := acc(b)
		switch {
		case aok != bok:
			if aok {
				return -1
			}
			return 1
		case aok && aa != ba:
			return cmp.Compare(ba, aa)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if o.limit > 0 && len(recs) > o.limit {
		recs = recs[:o.limit]
	}
	out := make([]Result, len(recs))
	for i, r := range recs {
		out[i] = newResult(r)
	}
	return out, nil
}

func newResult(r Record) Result {
	m := r.Metadata
	if m == nil {
		m = Metadata{}
	}
	return Result{ID: r.ID, Metadata: m, Description: Describe(m)}
}
