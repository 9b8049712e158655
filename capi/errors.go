package main

/*
#include <stdlib.h>
#include "snd.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// statusOf maps an error to its SND_ERR_* code. One switch, never renumbered.
func statusOf(err error) C.int {
	var he *handleError
	if errors.As(err, &he) {
		return C.SND_ERR_INVALID_HANDLE
	}
	switch errs.KindOf(err) {
	case errs.ErrInvalid:
		return C.SND_ERR_INVALID
	case errs.ErrNotFound:
		return C.SND_ERR_NOT_FOUND
	case errs.ErrCorrupt:
		return C.SND_ERR_CORRUPT
	case errs.ErrIO:
		return C.SND_ERR_IO
	case errs.ErrClosed:
		return C.SND_ERR_CLOSED
	case errs.ErrUnsupported:
		return C.SND_ERR_UNSUPPORTED
	case errs.ErrChecksum:
		return C.SND_ERR_CHECKSUM
	case errs.ErrConflict:
		return C.SND_ERR_CONFLICT
	case errs.ErrUnavailable:
		return C.SND_ERR_UNAVAILABLE
	default:
		return C.SND_ERR_INTERNAL
	}
}

// fail stores err's message in *errOut (when given) and returns its status.
func fail(errOut **C.char, err error) C.int {
	if errOut != nil {
		*errOut = C.CString(err.Error())
	}
	return statusOf(err)
}

// status converts a Go error into the C return convention.
func status(errOut **C.char, err error) C.int {
	if err == nil {
		return C.SND_OK
	}
	return fail(errOut, err)
}

// guard is deferred by every export: a panic becomes SND_ERR_INTERNAL with
// its message, and is logged with the stack, instead of killing the host process.
func guard(rc *C.int, errOut **C.char) {
	if r := recover(); r != nil {
		logging.L().Error().Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).Msg("recovered panic in C API")
		*rc = fail(errOut, fmt.Errorf("internal error (recovered panic): %v", r))
	}
}

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

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
