package search

import (
	"context"

	"github.com/structure-net/structure-net-data/core/errs"
)

// The JSON request forms of the searches, as the C API receives them: each
// parses its request (rejecting unknown fields), runs the search and encodes
// the results.

// SimilarRequest runs {"query", "n_results", "where", "where_document"}.
func (s *Searcher) SimilarRequest(ctx context.Context, request []byte) ([]byte, error) {
	req, err := ParseRequest("search_similar_experiments", request, "query", "n_results", "where", "where_document")
	if err != nil {
		return nil, err
	}
	query, err := req.Object("query")
	if err != nil {
		return nil, err
	}
	n, err := req.Int("n_results", 10)
	if err != nil {
		return nil, err
	}
	where, err := req.Where("where")
	if err != nil {
		return nil, err
	}
	wdoc, err := req.WhereDocument()
	if err != nil {
		return nil, err
	}
	return resultsOrErr(s.SimilarExperiments(ctx, query, n, where, wdoc))
}

// ArchitectureRequest runs {"architecture", "n_results", "where"}.
func (s *Searcher) ArchitectureRequest(ctx context.Context, request []byte) ([]byte, error) {
	req, err := ParseRequest("search_by_architecture", request, "architecture", "n_results", "where")
	if err != nil {
		return nil, err
	}
	n, err := req.Int("n_results", 10)
	if err != nil {
		return nil, err
	}
	where, err := req.Where("where")
	if err != nil {
		return nil, err
	}
	return resultsOrErr(s.ByArchitecture(ctx, req.Value("architecture"), n, where))
}

// PerformanceRequest runs {"min_accuracy", "max_parameters", "dataset", "n_results"}.
func (s *Searcher) PerformanceRequest(ctx context.Context, request []byte) ([]byte, error) {
	req, err := ParseRequest("search_by_performance", request, "min_accuracy", "max_parameters", "dataset", "n_results")
	if err != nil {
		return nil, err
	}
	minAcc, err := req.OptFloat("min_accuracy")
	if err != nil {
		return nil, err
	}
	maxParams, err := req.OptFloat("max_parameters")
	if err != nil {
		return nil, err
	}
	dataset, err := req.OptString("dataset")
	if err != nil {
		return nil, err
	}
	n, err := req.Int("n_results", 0)
	if err != nil {
		return nil, err
	}
	return resultsOrErr(s.ByPerformance(ctx, minAcc, maxParams, dataset, n))
}

// HypothesisRequest runs {"hypothesis_id", "n_results"}.
func (s *Searcher) HypothesisRequest(ctx context.Context, request []byte) ([]byte, error) {
	req, err := ParseRequest("search_by_hypothesis", request, "hypothesis_id", "n_results")
	if err != nil {
		return nil, err
	}
	hid, err := req.OptString("hypothesis_id")
	if err != nil {
		return nil, err
	}
	if hid == nil {
		return nil, errs.Invalidf("search_by_hypothesis: hypothesis_id is required")
	}
	n, err := req.Int("n_results", 0)
	if err != nil {
		return nil, err
	}
	return resultsOrErr(s.ByHypothesis(ctx, *hid, n))
}

func resultsOrErr(rs []Result, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return ResultsJSON(rs)
}
