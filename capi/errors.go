package main

/*
#include "snd.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// statusCodes maps each kind to its SND_ERR_* code; never renumbered.
var statusCodes = map[error]C.int{
	errs.ErrInvalid:     C.SND_ERR_INVALID,
	errs.ErrNotFound:    C.SND_ERR_NOT_FOUND,
	errs.ErrCorrupt:     C.SND_ERR_CORRUPT,
	errs.ErrIO:          C.SND_ERR_IO,
	errs.ErrClosed:      C.SND_ERR_CLOSED,
	errs.ErrUnsupported: C.SND_ERR_UNSUPPORTED,
	errs.ErrInternal:    C.SND_ERR_INTERNAL,
	errs.ErrChecksum:    C.SND_ERR_CHECKSUM,
	errs.ErrConflict:    C.SND_ERR_CONFLICT,
	errs.ErrUnavailable: C.SND_ERR_UNAVAILABLE,
	errs.ErrOutOfMemory: C.SND_ERR_OUT_OF_MEMORY,
}

// statusOf maps an error to its SND_ERR_* code: a handle error, else its
// outermost kind's code.
func statusOf(err error) C.int {
	var he *handleError
	if errors.As(err, &he) {
		return C.SND_ERR_INVALID_HANDLE
	}
	if code, ok := statusCodes[errs.KindOf(err)]; ok {
		return code
	}
	return C.SND_ERR_INTERNAL // a kind added to errs without a code here (the tests catch it)
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
// its message, and is logged with the stack, instead of killing the host
// process. A panic with an out-of-memory error (cmem's, when C memory runs
// out) is SND_ERR_OUT_OF_MEMORY.
func guard(rc *C.int, errOut **C.char) {
	if r := recover(); r != nil {
		logging.L().Error().Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).Msg("recovered panic in C API")
		if e, ok := r.(error); ok && errs.KindOf(e) == errs.ErrOutOfMemory {
			*rc = fail(errOut, e)
			return
		}
		*rc = fail(errOut, fmt.Errorf("internal error (recovered panic): %v", r))
	}
}
