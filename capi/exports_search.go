package main

/*
#include <stdlib.h>
#include "snd.h"
*/
import "C"

import (
	"context"
	"unsafe"

	"github.com/structure-net/structure-net-data/capi/wire"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

// The search exports convert C arguments and hand the JSON to capi/wire,
// which owns the wire format and makes the typed core/search call.

// searchFloats views n caller-owned floats; the core copies what it keeps.
func searchFloats(p *C.snd_cf32, n int64) ([]float32, error) {
	if n < 0 {
		return nil, errs.Invalidf("negative length %d", n)
	}
	if n == 0 {
		return nil, nil
	}
	if p == nil {
		return nil, errs.Invalidf("vector pointer is NULL")
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), n), nil
}

// searchWrite runs a write and fills *reportOut when a server failed part-way.
func searchWrite(reportOut **C.char, err error) error {
	if reportOut == nil {
		return err
	}
	report, ok, rerr := wire.WriteReport(err)
	if rerr != nil {
		return rerr
	}
	if ok {
		*reportOut = C.CString(string(report))
	}
	return err
}

//export snd_search_open
func snd_search_open(configJSON *C.snd_cchar, out *C.uint64_t, errOut **C.char) C.int {
	return openHandle(out, errOut, func() (*search.Searcher, error) {
		cfg, err := wire.Config([]byte(goString(configJSON)))
		if err != nil {
			return nil, err
		}
		return search.Open(context.Background(), cfg)
	})
}

//export snd_search_close
func snd_search_close(h *C.uint64_t, errOut **C.char) C.int {
	return closeHandle[*search.Searcher](h, errOut)
}

//export snd_search_info
func snd_search_info(h C.uint64_t, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		b, err := wire.Info(context.Background(), s)
		return setEncoded(jsonOut, b, err)
	})
}

//export snd_search_index
func snd_search_index(h C.uint64_t, itemsJSON *C.snd_cchar, reportOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		return searchWrite(reportOut, wire.Index(context.Background(), s, []byte(goString(itemsJSON))))
	})
}

// searchRequest answers one JSON search request with the searcher behind h.
func searchRequest(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char,
	run func(context.Context, *search.Searcher, []byte) ([]byte, error)) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		b, err := run(context.Background(), s, []byte(goString(requestJSON)))
		return setEncoded(resultsOut, b, err)
	})
}

//export snd_search_similar
func snd_search_similar(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) C.int {
	return searchRequest(h, requestJSON, resultsOut, errOut, wire.Similar)
}

//export snd_search_by_architecture
func snd_search_by_architecture(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) C.int {
	return searchRequest(h, requestJSON, resultsOut, errOut, wire.ByArchitecture)
}

//export snd_search_by_performance
func snd_search_by_performance(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) C.int {
	return searchRequest(h, requestJSON, resultsOut, errOut, wire.ByPerformance)
}

//export snd_search_by_hypothesis
func snd_search_by_hypothesis(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) C.int {
	return searchRequest(h, requestJSON, resultsOut, errOut, wire.ByHypothesis)
}

//export snd_search_get_experiment
func snd_search_get_experiment(h C.uint64_t, id *C.snd_cchar, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		b, err := wire.GetExperiment(context.Background(), s, goString(id))
		return setEncoded(jsonOut, b, err)
	})
}

//export snd_search_delete_experiments
func snd_search_delete_experiments(h C.uint64_t, idsJSON *C.snd_cchar, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		return wire.DeleteExperiments(context.Background(), s, []byte(goString(idsJSON)))
	})
}

//export snd_search_count
func snd_search_count(h C.uint64_t, out *C.int64_t, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		if out == nil {
			return errs.Invalidf("out is NULL")
		}
		n, err := s.Count(context.Background())
		if err != nil {
			return err
		}
		*out = C.int64_t(n)
		return nil
	})
}

//export snd_search_reset
func snd_search_reset(h C.uint64_t, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error { return s.Reset(context.Background()) })
}

//export snd_search_upsert
func snd_search_upsert(h C.uint64_t, recordsJSON *C.snd_cchar, vectors *C.snd_cf32, n C.int64_t, dim C.int64_t, reportOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		if n < 0 || dim < 0 {
			return errs.Invalidf("n and dim must not be negative")
		}
		vecs, err := searchFloats(vectors, int64(n)*int64(dim))
		if err != nil {
			return err
		}
		err = wire.Upsert(context.Background(), s.Experiments(), []byte(goString(recordsJSON)), vecs, int(n), int(dim))
		return searchWrite(reportOut, err)
	})
}

//export snd_search_query
func snd_search_query(h C.uint64_t, query *C.snd_cf32, dim C.int64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		q, err := searchFloats(query, int64(dim))
		if err != nil {
			return err
		}
		b, err := wire.Query(context.Background(), s.Experiments(), q, []byte(goString(requestJSON)))
		return setEncoded(resultsOut, b, err)
	})
}

//export snd_search_get
func snd_search_get(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		b, err := wire.Get(context.Background(), s.Experiments(), []byte(goString(requestJSON)))
		return setEncoded(resultsOut, b, err)
	})
}

//export snd_search_delete
func snd_search_delete(h C.uint64_t, requestJSON *C.snd_cchar, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *search.Searcher) error {
		return wire.Delete(context.Background(), s.Experiments(), []byte(goString(requestJSON)))
	})
}

func searchWriteOut(out *C.float, vec []float32, err error) error {
	if err != nil {
		return err
	}
	if out == nil {
		return errs.Invalidf("out is NULL")
	}
	copy(unsafe.Slice((*float32)(unsafe.Pointer(out)), len(vec)), vec)
	return nil
}

//export snd_search_embed_experiment
func snd_search_embed_experiment(experimentJSON *C.snd_cchar, dim C.int64_t, out *C.float, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	vec, err := wire.EmbedExperiment([]byte(goString(experimentJSON)), int(dim))
	return status(errOut, searchWriteOut(out, vec, err))
}

//export snd_search_embed_architecture
func snd_search_embed_architecture(architectureJSON *C.snd_cchar, dim C.int64_t, out *C.float, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	vec, err := wire.EmbedArchitecture([]byte(goString(architectureJSON)), int(dim))
	return status(errOut, searchWriteOut(out, vec, err))
}

//export snd_search_embed_hypothesis
func snd_search_embed_hypothesis(hypothesisJSON *C.snd_cchar, out *C.float, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	vec, err := wire.EmbedHypothesis([]byte(goString(hypothesisJSON)))
	return status(errOut, searchWriteOut(out, vec, err))
}
