package main

/*
#include <stdlib.h>
#include "snd.h"

static inline void snd_inventory_progress(snd_progress_fn fn, const char* file, int64_t done, int64_t total, void* user) {
	fn(file, done, total, user);
}
*/
import "C"

import (
	"context"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/imagefolder"
)

type filesOptions struct {
	DataDir     string            `json:"data_dir"`
	CacheDir    string            `json:"cache_dir"`
	MD5Override map[string]string `json:"md5_override"`
	Verify      bool              `json:"verify"`
}

//export snd_dataset_files
func snd_dataset_files(name *C.snd_cchar, optionsJSON *C.snd_cchar, progress C.snd_progress_fn, user unsafe.Pointer,
	jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	var opt filesOptions
	if err := decodeJSON(optionsJSON, "dataset files options", &opt); err != nil {
		return fail(errOut, err)
	}
	if opt.DataDir == "" {
		opt.DataDir = dataset.DefaultDataDir()
	}
	cfg, err := dataset.Default.Get(goString(name))
	if err != nil {
		return fail(errOut, err)
	}
	files, err := dataset.SourceFiles(cfg.Name, opt.DataDir, opt.MD5Override)
	if err != nil {
		return fail(errOut, err)
	}
	if opt.Verify {
		var report dataset.Progress
		if progress != nil {
			report = func(file string, done, total int64) {
				cs := C.CString(file)
				C.snd_inventory_progress(progress, cs, C.int64_t(done), C.int64_t(total), user)
				C.free(unsafe.Pointer(cs))
			}
		}
		if err := dataset.VerifyFiles(context.Background(), files, report); err != nil {
			return fail(errOut, err)
		}
	}
	caches, err := dataset.CacheFilesOf(cfg, opt.DataDir, opt.CacheDir)
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setJSON(jsonOut, map[string]any{"data_dir": opt.DataDir, "files": files, "caches": caches}))
}

//export snd_images_locate
func snd_images_locate(name *C.snd_cchar, optionsJSON *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	var opt imagefolder.OpenOptions
	if err := decodeJSON(optionsJSON, "image dataset options", &opt); err != nil {
		return fail(errOut, err)
	}
	cfg, err := dataset.Default.Get(goString(name))
	if err != nil {
		return fail(errOut, err)
	}
	loc, err := imagefolder.Locate(cfg, opt)
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setJSON(jsonOut, loc))
}

type cacheOptions struct {
	CacheDir string `json:"cache_dir"`
	Dataset  string `json:"dataset"` // only this dataset's files ("" for all)
	DryRun   bool   `json:"dry_run"` // snd_cache_remove: list, remove nothing
}

// cacheFiles lists decoded splits and prepared packs, of one dataset or all.
func cacheFiles(opt *cacheOptions) ([]dataset.CacheFile, error) {
	if opt.CacheDir == "" {
		opt.CacheDir = dataset.DefaultCacheDir()
	}
	decoded, err := dataset.ListCaches(opt.CacheDir)
	if err != nil {
		return nil, err
	}
	packs, err := imagefolder.ListPacks(opt.CacheDir)
	if err != nil {
		return nil, err
	}
	out := []dataset.CacheFile{} // [] in JSON, never null
	for _, f := range append(decoded, packs...) {
		if opt.Dataset == "" || f.Dataset == opt.Dataset {
			out = append(out, f)
		}
	}
	dataset.SortCacheFiles(out)
	return out, nil
}

//export snd_cache_list
func snd_cache_list(optionsJSON *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	var opt cacheOptions
	if err := decodeJSON(optionsJSON, "cache options", &opt); err != nil {
		return fail(errOut, err)
	}
	if opt.DryRun {
		return fail(errOut, errs.Invalidf("cache options: dry_run only applies to snd_cache_remove"))
	}
	files, err := cacheFiles(&opt)
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setJSON(jsonOut, map[string]any{"cache_dir": opt.CacheDir, "files": files}))
}

//export snd_cache_remove
func snd_cache_remove(optionsJSON *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	var opt cacheOptions
	if err := decodeJSON(optionsJSON, "cache options", &opt); err != nil {
		return fail(errOut, err)
	}
	files, err := cacheFiles(&opt)
	if err != nil {
		return fail(errOut, err)
	}
	if !opt.DryRun {
		if err := dataset.RemoveCacheFiles(opt.CacheDir, files); err != nil {
			return fail(errOut, err)
		}
	}
	return status(errOut, setJSON(jsonOut, map[string]any{"cache_dir": opt.CacheDir, "files": files, "removed": !opt.DryRun}))
}
