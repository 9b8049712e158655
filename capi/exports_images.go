package main

/*
#include <stdlib.h>
#include "snd.h"

static inline void snd_images_progress(snd_progress_fn fn, const char* file, int64_t done, int64_t total, void* user) {
	fn(file, done, total, user);
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/imagefolder"
	"github.com/structure-net/structure-net-data/core/transform"
)

//export snd_images_open
func snd_images_open(name *C.snd_cchar, optionsJSON *C.snd_cchar, out *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	var opt imagefolder.OpenOptions
	if err := decodeJSON(optionsJSON, "image dataset options", &opt); err != nil {
		return fail(errOut, err)
	}
	d, err := imagefolder.Open(dataset.Default, goString(name), opt)
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(newHandle(d))
	return C.SND_OK
}

//export snd_images_scan
func snd_images_scan(configJSON *C.snd_cchar, optionsJSON *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	var cfg dataset.Config
	if err := json.Unmarshal([]byte(goString(configJSON)), &cfg); err != nil {
		return fail(errOut, errs.Invalidf("dataset config is not valid JSON: %v", err))
	}
	var opt imagefolder.OpenOptions
	if err := decodeJSON(optionsJSON, "image dataset options", &opt); err != nil {
		return fail(errOut, err)
	}
	d, err := imagefolder.OpenConfig(&cfg, opt)
	if err != nil {
		return fail(errOut, err)
	}
	defer d.Close()
	return infoJSON(d, jsonOut, errOut)
}

func infoJSON(d *imagefolder.Dataset, jsonOut **C.char, errOut **C.char) C.int {
	b, err := json.Marshal(d.Info())
	if err != nil {
		return fail(errOut, errs.Invalidf("encode image dataset info: %v", err))
	}
	return status(errOut, setString(jsonOut, string(b)))
}

//export snd_images_info
func snd_images_info(h C.uint64_t, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	d, err := lookup[*imagefolder.Dataset](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	return infoJSON(d, jsonOut, errOut)
}

//export snd_images_close
func snd_images_close(h *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if h == nil || *h == 0 {
		return C.SND_OK
	}
	d, err := release[*imagefolder.Dataset](uint64(*h))
	if err != nil {
		return fail(errOut, err)
	}
	*h = 0
	return status(errOut, d.Close())
}

type prepareOptions struct {
	imagefolder.OpenOptions
	imagefolder.PrepareOptions
	Splits []string `json:"splits"`
}

//export snd_images_prepare
func snd_images_prepare(name *C.snd_cchar, optionsJSON *C.snd_cchar, progress C.snd_progress_fn, user unsafe.Pointer,
	jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	var opt prepareOptions
	if err := decodeJSON(optionsJSON, "prepare options", &opt); err != nil {
		return fail(errOut, err)
	}
	if opt.MaxSide < 0 {
		return fail(errOut, errs.Invalidf("max_side must be positive, got %d", opt.MaxSide))
	}
	opt.ForceReload = true // prepare from the folders, never from an older pack
	d, err := imagefolder.Open(dataset.Default, goString(name), opt.OpenOptions)
	if err != nil {
		return fail(errOut, err)
	}
	defer d.Close()
	if opt.Splits == nil {
		opt.Splits = []string{"train", "test"}
	}
	packs, counts := map[string]string{}, map[string]int{}
	for _, name := range opt.Splits {
		s, err := d.SplitByName(name)
		if err != nil {
			return fail(errOut, err)
		}
		if s == nil {
			continue
		}
		po := opt.PrepareOptions
		if progress != nil {
			label := C.CString(name)
			defer C.free(unsafe.Pointer(label))
			po.Progress = func(done, total int64) {
				C.snd_images_progress(progress, label, C.int64_t(done), C.int64_t(total), user)
			}
		}
		path, err := d.Prepare(context.Background(), s, po)
		if err != nil {
			return fail(errOut, err)
		}
		packs[name], counts[name] = path, s.Len()
	}
	b, _ := json.Marshal(map[string]any{"packs": packs, "images": counts, "skipped": d.Info()["skipped"]})
	return status(errOut, setString(jsonOut, string(b)))
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
	b, _ := json.Marshal(map[string]any{"shape": []int{c, h, w}, "steps": steps, "transforms": pipe.Names()})
	mem := C.malloc(C.size_t(4 * len(dst)))
	if mem == nil {
		return fail(errOut, errs.IOf("out of memory for %d floats", len(dst)))
	}
	copy(unsafe.Slice((*float32)(mem), len(dst)), dst)
	*out = (*C.float)(mem)
	*outLen = C.int64_t(len(dst))
	return status(errOut, setString(jsonOut, string(b)))
}
