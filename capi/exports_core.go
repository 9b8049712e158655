package main

/*
#include <stdlib.h>
#include "snd.h"

static inline void snd_call_log(snd_log_fn fn, int level, const char* json, void* user) {
	fn(level, json, user);
}
*/
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/rs/zerolog"
	"github.com/structure-net/structure-net-data/core/cmem"
	"github.com/structure-net/structure-net-data/core/dataset"
	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// Version is the library version, stamped by the build (the Makefile and
// python/hatch_build.py pass -ldflags "-X main.Version=..." from
// python/structure_net_data/_version.py); Python refuses a library whose
// version is not its own.
var Version = "unstamped"

//export snd_abi_version
func snd_abi_version() C.int { return C.SND_ABI_VERSION }

//export snd_version
func snd_version(jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, setJSON(jsonOut, map[string]any{"version": Version, "go": runtime.Version(), "abi": int(C.SND_ABI_VERSION)}))
}

//export snd_memory_stats
func snd_memory_stats(jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, setJSON(jsonOut, cmem.Default.Stats()))
}

//export snd_set_log_callback
func snd_set_log_callback(fn C.snd_log_fn, level C.int, user unsafe.Pointer, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	min := zerolog.Level(level) // 0 debug, 1 info, 2 warn, 3 error: zerolog's own numbering
	if min < zerolog.DebugLevel || min > zerolog.ErrorLevel {
		return fail(errOut, errs.Invalidf("log level %d out of range 0..3", int(level)))
	}
	if fn == nil {
		logging.SetSink(nil, min)
		return C.SND_OK
	}
	logging.SetSink(func(lvl zerolog.Level, record []byte) {
		cs := C.CString(string(record))
		C.snd_call_log(fn, C.int(lvl), cs, user) // user is the host's C pointer, passed back untouched
		C.free(unsafe.Pointer(cs))
	}, min)
	return C.SND_OK
}

//export snd_registry_register
func snd_registry_register(configJSON *C.snd_cchar, replace C.int, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	cfg, err := decodeConfig(configJSON)
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, dataset.Default.Register(cfg, replace != 0))
}

//export snd_registry_get
func snd_registry_get(name *C.snd_cchar, jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	cfg, err := dataset.Default.Get(goString(name))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, setJSON(jsonOut, cfg))
}

//export snd_registry_list
func snd_registry_list(jsonOut **C.char, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, setJSON(jsonOut, dataset.Default.Names()))
}

//export snd_registry_unregister
func snd_registry_unregister(name *C.snd_cchar, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	return status(errOut, dataset.Default.Unregister(goString(name)))
}
