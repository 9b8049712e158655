package main

/*
#include <stdlib.h>
#include "snd.h"
*/
import "C"

import (
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
)

// setString stores a malloc'd copy of s in *out.
func setString(out **C.char, s string) error {
	if out == nil {
		return errs.Invalidf("output pointer is NULL")
	}
	*out = C.CString(s)
	return nil
}

// goString converts a possibly-NULL C string.
func goString(s *C.snd_cchar) string {
	if s == nil {
		return ""
	}
	return C.GoString((*C.char)(unsafe.Pointer(s)))
}

//export snd_free
func snd_free(p unsafe.Pointer) {
	C.free(p)
}
