package main

/*
#include <stdlib.h>
#include "snd.h"
*/
import "C"

import (
	"context"
	"errors"
	"io"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/cmem"
	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/loader"
)

type openOptions struct {
	dataset.OpenOptions
	Mirrors     []string          `json:"mirrors"`
	MD5Override map[string]string `json:"md5_override"`
}

//export snd_dataset_open
func snd_dataset_open(name *C.snd_cchar, optionsJSON *C.snd_cchar, progress C.snd_progress_fn, user unsafe.Pointer, out *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	var opt openOptions
	if err := decodeJSON(optionsJSON, "dataset options", &opt); err != nil {
		return fail(errOut, err)
	}
	o := opt.OpenOptions
	o.Fetch.Mirrors = opt.Mirrors
	o.Fetch.MD5Override = opt.MD5Override
	o.Fetch.Progress = progressFunc(progress, user)
	d, err := dataset.Open(context.Background(), dataset.Default, goString(name), o)
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(newHandle(d))
	return C.SND_OK
}

//export snd_dataset_from_arrays
func snd_dataset_from_arrays(configJSON *C.snd_cchar, trainImages *C.snd_cu8, trainLabels *C.snd_ci64, nTrain C.int64_t,
	testImages *C.snd_cu8, testLabels *C.snd_ci64, nTest C.int64_t, out *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	cfg, err := decodeConfig(configJSON)
	if err != nil {
		return fail(errOut, err)
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return fail(errOut, err)
	}
	train, err := copySplit(cfg, trainImages, trainLabels, int64(nTrain), "train")
	if err != nil {
		return fail(errOut, err)
	}
	var test *dataset.Split
	if nTest > 0 || testImages != nil {
		if test, err = copySplit(cfg, testImages, testLabels, int64(nTest), "test"); err != nil {
			return fail(errOut, err)
		}
	}
	d, err := dataset.FromArrays(cfg, train, test)
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(newHandle(d))
	return C.SND_OK
}

// copySplit copies caller memory into Go memory during the call: nothing of
// the caller's is kept after it returns.
func copySplit(cfg *dataset.Config, images *C.snd_cu8, labels *C.snd_ci64, n int64, split string) (*dataset.Split, error) {
	shape := cfg.InputShape
	if len(shape) != 3 {
		return nil, errs.Invalidf("dataset %q: array datasets need a (C, H, W) input_shape, got %v", cfg.Name, shape)
	}
	per := int64(shape[0] * shape[1] * shape[2])
	if n < 0 || n > (1<<40)/per {
		return nil, errs.Invalidf("%s split: bad sample count %d", split, n)
	}
	if n > 0 && (images == nil || labels == nil) {
		return nil, errs.Invalidf("%s split: images or labels pointer is NULL", split)
	}
	s := &dataset.Split{N: int(n), C: shape[0], H: shape[1], W: shape[2]}
	if n > 0 {
		s.Images = C.GoBytes(unsafe.Pointer(images), C.int(n*per))
		s.Labels = append([]int64(nil), unsafe.Slice((*int64)(unsafe.Pointer(labels)), n)...)
	} else {
		s.Images, s.Labels = []byte{}, []int64{}
	}
	for i, l := range s.Labels {
		if l < 0 || l >= int64(cfg.NumClasses) {
			return nil, errs.Invalidf("%s split: label %d of sample %d is outside [0, %d)", split, l, i, cfg.NumClasses)
		}
	}
	return s, nil
}

//export snd_dataset_info
func snd_dataset_info(h C.uint64_t, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	d, err := lookup[*dataset.Data](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	info := map[string]any{"config": d.Config, "files": d.Files, "sources": d.Sources, "checksum": d.Checksum(), "cache_hits": d.CacheHits}
	size := 0
	for _, s := range []struct {
		key   string
		split *dataset.Split
	}{{"train", d.Train}, {"test", d.Test}} {
		n := 0
		if s.split != nil {
			n = s.split.N
			size += len(s.split.Images) + 8*len(s.split.Labels)
		}
		info[s.key+"_samples"] = n
	}
	info["size_bytes"] = size
	return status(errOut, setJSON(jsonOut, info))
}

//export snd_dataset_export_split
func snd_dataset_export_split(h C.uint64_t, split *C.snd_cchar, outArray *C.struct_ArrowArray, outSchema *C.struct_ArrowSchema, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	d, err := lookup[*dataset.Data](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	s, err := d.SplitByName(goString(split))
	if err != nil {
		return fail(errOut, err)
	}
	if s == nil {
		return fail(errOut, errs.NotFoundf("dataset %q has no %s split", d.Config.Name, goString(split)))
	}
	rec := s.Record(cmem.Default)
	defer rec.Release()
	return status(errOut, exportRecord(rec, outArray, outSchema))
}

//export snd_dataset_close
func snd_dataset_close(h *C.uint64_t, errOut **C.char) C.int {
	return closeHandle[*dataset.Data](h, errOut)
}

//export snd_loader_open
func snd_loader_open(h C.uint64_t, split *C.snd_cchar, optionsJSON *C.snd_cchar, out *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	var opts loader.SplitOptions
	if err := decodeJSON(optionsJSON, "loader options", &opts); err != nil {
		return fail(errOut, err)
	}
	d, err := lookup[loader.SplitOpener](uint64(h)) // array datasets and image folders
	if err != nil {
		return fail(errOut, err)
	}
	l, err := d.OpenLoader(goString(split), opts)
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(newHandle(l))
	return C.SND_OK
}

//export snd_loader_schema
func snd_loader_schema(h C.uint64_t, outSchema *C.struct_ArrowSchema, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	l, err := lookup[*loader.Loader](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, exportSchema(l.Schema(), outSchema))
}

//export snd_loader_next
func snd_loader_next(h C.uint64_t, outArray *C.struct_ArrowArray, done *C.int, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if done == nil {
		return fail(errOut, errs.Invalidf("done is NULL"))
	}
	l, err := lookup[*loader.Loader](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	if outArray == nil || outArray.release != nil {
		return fail(errOut, errs.Invalidf("out_array must be a zero-initialized ArrowArray"))
	}
	rec, err := l.Next()
	if errors.Is(err, io.EOF) {
		*done = 1
		return C.SND_OK
	}
	if err != nil {
		return fail(errOut, err)
	}
	defer rec.Release()
	*done = 0
	return status(errOut, exportRecord(rec, outArray, nil))
}

//export snd_loader_info
func snd_loader_info(h C.uint64_t, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(l *loader.Loader) error { return setJSON(jsonOut, l.Info()) })
}

//export snd_loader_set_epoch
func snd_loader_set_epoch(h C.uint64_t, epoch C.int64_t, errOut **C.char) C.int {
	return onHandle(h, errOut, func(l *loader.Loader) error { return l.SetEpoch(int(epoch)) })
}

//export snd_loader_state
func snd_loader_state(h C.uint64_t, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(l *loader.Loader) error { return setJSON(jsonOut, l.State()) })
}

//export snd_loader_restore
func snd_loader_restore(h C.uint64_t, stateJSON *C.snd_cchar, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	l, err := lookup[*loader.Loader](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	var s loader.State
	if err := decodeJSON(stateJSON, "loader state", &s); err != nil {
		return fail(errOut, err)
	}
	return status(errOut, l.Restore(s))
}

//export snd_loader_close
func snd_loader_close(h *C.uint64_t, errOut **C.char) C.int {
	return closeHandle[*loader.Loader](h, errOut)
}
