package main

/*
#include <stdlib.h>
#include "snd.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/search"
)

func searchLookup(h C.uint64_t) (*search.Searcher, error) {
	return lookup[*search.Searcher](uint64(h))
}

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

func searchSetJSON(out **C.char, b []byte, err error) error {
	if err != nil {
		return err
	}
	return setString(out, string(b))
}

// searchReport fills *reportOut when err is a partial server write.
func searchReport(reportOut **C.char, err error) {
	var we *search.WriteError
	if reportOut == nil || !errors.As(err, &we) {
		return
	}
	written, unconfirmed := we.Written, we.Unconfirmed
	if written == nil {
		written = []string{}
	}
	if unconfirmed == nil {
		unconfirmed = []string{}
	}
	b, _ := json.Marshal(map[string]any{"written": written, "unconfirmed": unconfirmed})
	*reportOut = C.CString(string(b))
}

//export snd_search_open
func snd_search_open(configJSON *C.snd_cchar, out *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	var cfg search.Config
	if text := goString(configJSON); text != "" {
		dec := json.NewDecoder(stringsReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return fail(errOut, errs.Invalidf("search config: %v", err))
		}
	}
	s, err := search.Open(context.Background(), cfg)
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(newHandle(s))
	return C.SND_OK
}

//export snd_search_close
func snd_search_close(h *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if h == nil || *h == 0 {
		return C.SND_OK
	}
	s, err := release[*search.Searcher](uint64(*h))
	if err != nil {
		return fail(errOut, err)
	}
	*h = 0
	return status(errOut, s.Close())
}

//export snd_search_info
func snd_search_info(h C.uint64_t, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	ctx := context.Background()
	dim, err := s.Experiments().Dimension(ctx)
	if err != nil {
		return fail(errOut, err)
	}
	cfg := s.Config()
	cfg.AuthToken = "" // never echo secrets
	cfg.Headers = nil
	info := map[string]any{"config": cfg, "backend": s.Experiments().Backend(), "space": s.Experiments().Space(), "dimension": dim}
	if v, ok := s.Experiments().(interface{ Version() string }); ok {
		info["server_version"] = v.Version()
	}
	b, err := json.Marshal(info)
	return status(errOut, searchSetJSON(jsonOut, b, err))
}

//export snd_search_index
func snd_search_index(h C.uint64_t, itemsJSON *C.snd_cchar, reportOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	items, err := search.DecodeItems([]byte(goString(itemsJSON)))
	if err != nil {
		return fail(errOut, err)
	}
	err = s.Index(context.Background(), items)
	searchReport(reportOut, err)
	return status(errOut, err)
}

// searchRequest runs one JSON search request against the searcher behind h.
func searchRequest(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char,
	run func(*search.Searcher, context.Context, []byte) ([]byte, error)) error {
	s, err := searchLookup(h)
	if err != nil {
		return err
	}
	b, err := run(s, context.Background(), []byte(goString(requestJSON)))
	return searchSetJSON(resultsOut, b, err)
}

//export snd_search_similar
func snd_search_similar(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, searchRequest(h, requestJSON, resultsOut, (*search.Searcher).SimilarRequest))
}

//export snd_search_by_architecture
func snd_search_by_architecture(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, searchRequest(h, requestJSON, resultsOut, (*search.Searcher).ArchitectureRequest))
}

//export snd_search_by_performance
func snd_search_by_performance(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, searchRequest(h, requestJSON, resultsOut, (*search.Searcher).PerformanceRequest))
}

//export snd_search_by_hypothesis
func snd_search_by_hypothesis(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, searchRequest(h, requestJSON, resultsOut, (*search.Searcher).HypothesisRequest))
}

//export snd_search_get_experiment
func snd_search_get_experiment(h C.uint64_t, id *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	e, err := s.Get(context.Background(), goString(id))
	if err != nil {
		return fail(errOut, err)
	}
	b, err := search.ExperimentJSON(e)
	return status(errOut, searchSetJSON(jsonOut, b, err))
}

//export snd_search_delete_experiments
func snd_search_delete_experiments(h C.uint64_t, idsJSON *C.snd_cchar, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	var ids []string
	if err := json.Unmarshal([]byte(goString(idsJSON)), &ids); err != nil {
		return fail(errOut, errs.Invalidf("ids must be a JSON list of strings: %v", err))
	}
	return status(errOut, s.Delete(context.Background(), ids))
}

//export snd_search_count
func snd_search_count(h C.uint64_t, out *C.int64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	n, err := s.Count(context.Background())
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.int64_t(n)
	return C.SND_OK
}

//export snd_search_reset
func snd_search_reset(h C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, s.Reset(context.Background()))
}

//export snd_search_upsert
func snd_search_upsert(h C.uint64_t, recordsJSON *C.snd_cchar, vectors *C.snd_cf32, n C.int64_t, dim C.int64_t, reportOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	if n < 0 || dim < 0 {
		return fail(errOut, errs.Invalidf("n and dim must not be negative"))
	}
	vecs, err := searchFloats(vectors, int64(n)*int64(dim))
	if err != nil {
		return fail(errOut, err)
	}
	recs, err := search.RecordsFromJSON([]byte(goString(recordsJSON)), vecs, int(n), int(dim))
	if err != nil {
		return fail(errOut, err)
	}
	err = s.Experiments().Upsert(context.Background(), recs)
	searchReport(reportOut, err)
	return status(errOut, err)
}

//export snd_search_query
func snd_search_query(h C.uint64_t, query *C.snd_cf32, dim C.int64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	q, err := searchFloats(query, int64(dim))
	if err != nil {
		return fail(errOut, err)
	}
	req, err := search.ParseRequest("query", []byte(goString(requestJSON)), "n_results", "where", "where_document", "include")
	if err != nil {
		return fail(errOut, err)
	}
	n, err := req.Int("n_results", 10)
	if err != nil {
		return fail(errOut, err)
	}
	where, err := req.Where("where")
	if err != nil {
		return fail(errOut, err)
	}
	wdoc, err := req.WhereDocument()
	if err != nil {
		return fail(errOut, err)
	}
	inc, err := req.Include(search.IncludeMetadatas | search.IncludeDocuments)
	if err != nil {
		return fail(errOut, err)
	}
	hits, err := s.Experiments().Query(context.Background(), search.QueryRequest{
		Embedding: append([]float32(nil), q...), N: n, Where: where, WhereDocument: wdoc, Include: inc,
	})
	if err != nil {
		return fail(errOut, err)
	}
	recs := make([]search.Record, len(hits))
	dists := make([]float32, len(hits))
	for i, hit := range hits {
		recs[i], dists[i] = hit.Record, hit.Distance
	}
	b, err := search.RecordsJSON(recs, dists, inc)
	return status(errOut, searchSetJSON(resultsOut, b, err))
}

//export snd_search_get
func snd_search_get(h C.uint64_t, requestJSON *C.snd_cchar, resultsOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	req, err := search.ParseRequest("get", []byte(goString(requestJSON)), "ids", "where", "where_document", "limit", "offset", "include")
	if err != nil {
		return fail(errOut, err)
	}
	var g search.GetRequest
	ids, hasIDs, err := req.Strings("ids")
	if err != nil {
		return fail(errOut, err)
	}
	if hasIDs {
		g.IDs = append([]string{}, ids...)
	}
	if g.Where, err = req.Where("where"); err != nil {
		return fail(errOut, err)
	}
	if g.WhereDocument, err = req.WhereDocument(); err != nil {
		return fail(errOut, err)
	}
	if g.Limit, err = req.Int("limit", 0); err != nil {
		return fail(errOut, err)
	}
	if g.Offset, err = req.Int("offset", 0); err != nil {
		return fail(errOut, err)
	}
	if g.Include, err = req.Include(search.IncludeMetadatas | search.IncludeDocuments); err != nil {
		return fail(errOut, err)
	}
	recs, err := s.Experiments().Get(context.Background(), g)
	if err != nil {
		return fail(errOut, err)
	}
	b, err := search.RecordsJSON(recs, nil, g.Include)
	return status(errOut, searchSetJSON(resultsOut, b, err))
}

//export snd_search_delete
func snd_search_delete(h C.uint64_t, requestJSON *C.snd_cchar, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := searchLookup(h)
	if err != nil {
		return fail(errOut, err)
	}
	req, err := search.ParseRequest("delete", []byte(goString(requestJSON)), "ids", "where", "where_document")
	if err != nil {
		return fail(errOut, err)
	}
	var d search.DeleteRequest
	ids, hasIDs, err := req.Strings("ids")
	if err != nil {
		return fail(errOut, err)
	}
	if hasIDs {
		d.IDs = append([]string{}, ids...)
	}
	if d.Where, err = req.Where("where"); err != nil {
		return fail(errOut, err)
	}
	if d.WhereDocument, err = req.WhereDocument(); err != nil {
		return fail(errOut, err)
	}
	return status(errOut, s.Experiments().Delete(context.Background(), d))
}

func searchDecodeObject(s *C.snd_cchar, what string) (any, error) {
	text := goString(s)
	if text == "" {
		return nil, errs.Invalidf("%s is empty", what)
	}
	return search.DecodeJSON([]byte(text))
}

func searchWriteOut(out *C.float, vec []float32) error {
	if out == nil {
		return errs.Invalidf("out is NULL")
	}
	copy(unsafe.Slice((*float32)(unsafe.Pointer(out)), len(vec)), vec)
	return nil
}

//export snd_search_embed_experiment
func snd_search_embed_experiment(experimentJSON *C.snd_cchar, dim C.int64_t, out *C.float, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	v, err := searchDecodeObject(experimentJSON, "experiment JSON")
	if err != nil {
		return fail(errOut, err)
	}
	exp, ok := v.(map[string]any)
	if !ok {
		return fail(errOut, errs.Invalidf("experiment must be a JSON object"))
	}
	vec, err := search.EmbedExperiment(exp, int(dim))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, searchWriteOut(out, vec))
}

//export snd_search_embed_architecture
func snd_search_embed_architecture(architectureJSON *C.snd_cchar, dim C.int64_t, out *C.float, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	v, err := searchDecodeObject(architectureJSON, "architecture JSON")
	if err != nil {
		return fail(errOut, err)
	}
	a, err := search.ParseArchitecture(v)
	if err != nil {
		return fail(errOut, err)
	}
	vec, err := search.EmbedArchitecture(a.Layers, int(dim))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, searchWriteOut(out, vec))
}

//export snd_search_embed_hypothesis
func snd_search_embed_hypothesis(hypothesisJSON *C.snd_cchar, out *C.float, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	v, err := searchDecodeObject(hypothesisJSON, "hypothesis JSON")
	if err != nil {
		return fail(errOut, err)
	}
	hyp, ok := v.(map[string]any)
	if !ok {
		return fail(errOut, errs.Invalidf("hypothesis must be a JSON object"))
	}
	return status(errOut, searchWriteOut(out, search.EmbedHypothesis(hyp)))
}
