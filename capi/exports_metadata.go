package main

/*
#include "snd.h"
*/
import "C"

import (
	"encoding/json"
	"time"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/metadata"
)

//export snd_metadata_open
func snd_metadata_open(dir *C.snd_cchar, out *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	s, err := metadata.Open(goString(dir))
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(newHandle(s))
	return C.SND_OK
}

//export snd_metadata_open_uri
func snd_metadata_open_uri(uri *C.snd_cchar, retrySeconds C.double, out *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	retry := time.Duration(float64(retrySeconds) * float64(time.Second))
	s, err := metadata.OpenURI(goString(uri), metadata.Options{RetryFor: retry})
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(newHandle(s))
	return C.SND_OK
}

//export snd_metadata_put_dataset
func snd_metadata_put_dataset(h C.uint64_t, doc *C.snd_cchar, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := lookup[*metadata.Store](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	var d metadata.Dataset
	if err := decodeJSON(doc, "dataset metadata", &d); err != nil {
		return fail(errOut, err)
	}
	return status(errOut, s.PutDataset(d))
}

//export snd_metadata_get_dataset
func snd_metadata_get_dataset(h C.uint64_t, name *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := lookup[*metadata.Store](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	d, err := s.GetDataset(goString(name))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setJSON(jsonOut, d))
}

//export snd_metadata_track_usage
func snd_metadata_track_usage(h C.uint64_t, doc *C.snd_cchar, idOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := lookup[*metadata.Store](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	var u metadata.Usage
	if err := decodeJSON(doc, "usage record", &u); err != nil {
		return fail(errOut, err)
	}
	id, err := s.TrackUsage(u)
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setString(idOut, id))
}

//export snd_metadata_history
func snd_metadata_history(h C.uint64_t, datasetName *C.snd_cchar, experimentID *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := lookup[*metadata.Store](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	hist, err := s.History(goString(datasetName), goString(experimentID))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setJSON(jsonOut, hist))
}

//export snd_metadata_stats
func snd_metadata_stats(h C.uint64_t, datasetName *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	s, err := lookup[*metadata.Store](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	st, err := s.Stats(goString(datasetName))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setJSON(jsonOut, st))
}

//export snd_metadata_close
func snd_metadata_close(h *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if h == nil || *h == 0 {
		return C.SND_OK
	}
	s, err := release[*metadata.Store](uint64(*h))
	if err != nil {
		return fail(errOut, err)
	}
	*h = 0
	return status(errOut, s.Close())
}

// setJSON stores v, JSON-encoded, in *out.
func setJSON(out **C.char, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.Invalidf("encode result: %v", err)
	}
	return setString(out, string(b))
}
