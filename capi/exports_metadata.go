package main

/*
#include "snd.h"
*/
import "C"

import (
	"time"

	"github.com/structure-net/structure-net-data/core/metadata"
)

//export snd_metadata_open
func snd_metadata_open(dir *C.snd_cchar, out *C.uint64_t, errOut **C.char) C.int {
	return openHandle(out, errOut, func() (*metadata.Store, error) { return metadata.Open(goString(dir)) })
}

//export snd_metadata_open_uri
func snd_metadata_open_uri(uri *C.snd_cchar, retrySeconds C.double, out *C.uint64_t, errOut **C.char) C.int {
	retry := time.Duration(float64(retrySeconds) * float64(time.Second))
	return openHandle(out, errOut, func() (*metadata.Store, error) {
		return metadata.OpenURI(goString(uri), metadata.Options{RetryFor: retry})
	})
}

//export snd_metadata_put_dataset
func snd_metadata_put_dataset(h C.uint64_t, doc *C.snd_cchar, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *metadata.Store) error {
		var d metadata.Dataset
		if err := decodeJSON(doc, "dataset metadata", &d); err != nil {
			return err
		}
		return s.PutDataset(d)
	})
}

//export snd_metadata_get_dataset
func snd_metadata_get_dataset(h C.uint64_t, name *C.snd_cchar, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *metadata.Store) error {
		d, err := s.GetDataset(goString(name))
		return setResult(jsonOut, d, err)
	})
}

//export snd_metadata_track_usage
func snd_metadata_track_usage(h C.uint64_t, doc *C.snd_cchar, idOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *metadata.Store) error {
		var u metadata.Usage
		if err := decodeJSON(doc, "usage record", &u); err != nil {
			return err
		}
		id, err := s.TrackUsage(u)
		if err != nil {
			return err
		}
		return setString(idOut, id)
	})
}

//export snd_metadata_history
func snd_metadata_history(h C.uint64_t, datasetName *C.snd_cchar, experimentID *C.snd_cchar, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *metadata.Store) error {
		hist, err := s.History(goString(datasetName), goString(experimentID))
		return setResult(jsonOut, hist, err)
	})
}

//export snd_metadata_stats
func snd_metadata_stats(h C.uint64_t, datasetName *C.snd_cchar, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(s *metadata.Store) error {
		st, err := s.Stats(goString(datasetName))
		return setResult(jsonOut, st, err)
	})
}

//export snd_metadata_close
func snd_metadata_close(h *C.uint64_t, errOut **C.char) C.int {
	return closeHandle[*metadata.Store](h, errOut)
}
