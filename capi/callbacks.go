package main

/*
#include <stdlib.h>
#include "snd.h"

static inline void snd_call_progress(snd_progress_fn fn, const char* label, int64_t done, int64_t total, void* user) {
	fn(label, done, total, user);
}
*/
import "C"

import "unsafe"

// progressFunc adapts a host progress callback for the core: nil when fn is
// NULL. label (a file or split name) is passed as a C string valid during the
// call only; user is the host's pointer, passed back untouched.
func progressFunc(fn C.snd_progress_fn, user unsafe.Pointer) func(label string, done, total int64) {
	if fn == nil {
		return nil
	}
	return func(label string, done, total int64) {
		cs := C.CString(label)
		C.snd_call_progress(fn, cs, C.int64_t(done), C.int64_t(total), user)
		C.free(unsafe.Pointer(cs))
	}
}
