package main

/*
#include <stdlib.h>
#include "snd.h"
*/
import "C"

import (
	"context"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/imagefolder"
	"github.com/structure-net/structure-net-data/core/transform"
)

//export snd_images_open
func snd_images_open(name *C.snd_cchar, optionsJSON *C.snd_cchar, out *C.uint64_t, errOut **C.char) C.int {
	return openHandle(out, errOut, func() (*imagefolder.Dataset, error) {
		var opt imagefolder.OpenOptions
		if err := decodeJSON(optionsJSON, "image dataset options", &opt); err != nil {
			return nil, err
		}
		return imagefolder.Open(dataset.Default, goString(name), opt)
	})
}

//export snd_images_scan
func snd_images_scan(configJSON *C.snd_cchar, optionsJSON *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	cfg, err := decodeConfig(configJSON)
	if err != nil {
		return fail(errOut, err)
	}
	var opt imagefolder.OpenOptions
	if err := decodeJSON(optionsJSON, "image dataset options", &opt); err != nil {
		return fail(errOut, err)
	}
	d, err := imagefolder.OpenConfig(cfg, opt)
	if err != nil {
		return fail(errOut, err)
	}
	defer d.Close()
	return status(errOut, setJSON(jsonOut, d.Info()))
}

//export snd_images_info
func snd_images_info(h C.uint64_t, jsonOut **C.char, errOut **C.char) C.int {
	return onHandle(h, errOut, func(d *imagefolder.Dataset) error { return setJSON(jsonOut, d.Info()) })
}

//export snd_images_close
func snd_images_close(h *C.uint64_t, errOut **C.char) C.int {
	return closeHandle[*imagefolder.Dataset](h, errOut)
}

//export snd_images_prepare
func snd_images_prepare(name *C.snd_cchar, optionsJSON *C.snd_cchar, progress C.snd_progress_fn, user unsafe.Pointer,
	jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	var opt imagefolder.PrepareSplitsOptions
	if err := decodeJSON(optionsJSON, "prepare options", &opt); err != nil {
		return fail(errOut, err)
	}
	report, err := imagefolder.PrepareSplits(context.Background(), dataset.Default, goString(name), opt, progressFunc(progress, user))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setJSON(jsonOut, report))
}

type applyOptions struct {
	Transforms []transform.Spec `json:"transforms"`
	Seed       uint64           `json:"seed"`
	Mean       []float64        `json:"mean"`
	Std        []float64        `json:"std"`
	Size       [2]int           `json:"size"`
	Channels   int              `json:"channels"`
	DCTScaling bool             `json:"dct_scaling"`
}

//export snd_images_apply
func snd_images_apply(data *C.snd_cu8, n C.int64_t, optionsJSON *C.snd_cchar, out **C.float, outLen *C.int64_t,
	jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil || outLen == nil || jsonOut == nil {
		return fail(errOut, errs.Invalidf("out, out_len and json_out must not be NULL"))
	}
	if n < 0 || (n > 0 && data == nil) || n > 1<<31 {
		return fail(errOut, errs.Invalidf("bad image buffer (%d bytes)", int64(n)))
	}
	var opt applyOptions
	if err := decodeJSON(optionsJSON, "transform options", &opt); err != nil {
		return fail(errOut, err)
	}
	if opt.Channels == 0 {
		opt.Channels = 3
	}
	pipe, err := transform.CompileImage(opt.Transforms, opt.Channels, opt.Mean, opt.Std,
		transform.ImageOptions{DCTScaling: opt.DCTScaling, Size: opt.Size})
	if err != nil {
		return fail(errOut, err)
	}
	var buf []byte
	if n > 0 {
		buf = C.GoBytes(unsafe.Pointer(data), C.int(n)) // nothing of the caller's is kept
	}
	dec, err := imagefolder.NewDecoder(buf)
	if err != nil {
		return fail(errOut, err)
	}
	c, h, w := pipe.OutShape()
	dst := make([]float32, c*h*w)
	var steps []transform.Step
	if err := pipe.ApplyTrace(dec, dst, opt.Seed, &steps); err != nil {
		return fail(errOut, err)
	}
	if err := setJSON(jsonOut, map[string]any{"shape": []int{c, h, w}, "steps": steps, "transforms": pipe.Names()}); err != nil {
		return fail(errOut, err)
	}
	mem := C.malloc(C.size_t(4 * len(dst)))
	if mem == nil {
		C.free(unsafe.Pointer(*jsonOut))
		*jsonOut = nil
		return fail(errOut, errs.OutOfMemoryf("out of memory for %d floats", len(dst)))
	}
	copy(unsafe.Slice((*float32)(mem), len(dst)), dst)
	*out = (*C.float)(mem)
	*outLen = C.int64_t(len(dst))
	return C.SND_OK
}
