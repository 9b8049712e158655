package main

/*
#include "snd.h"
*/
import "C"

import (
	"sync"

	"github.com/structure-net/structure-net-data/core/errs"
)

// handles maps opaque ids to Go objects. Ids are never reused, so a stale id
// cannot reach a newer object, and a lookup of the wrong type fails cleanly.
var handles = struct {
	sync.Mutex
	next uint64
	objs map[uint64]any
}{next: 1, objs: map[uint64]any{}}

func newHandle(obj any) uint64 {
	handles.Lock()
	defer handles.Unlock()
	id := handles.next
	handles.next++
	handles.objs[id] = obj
	return id
}

// lookup returns the object behind id when it has type T.
func lookup[T any](id uint64) (T, error) { return find[T](id, false) }

// release removes id and returns its object, so the caller can close it.
func release[T any](id uint64) (T, error) { return find[T](id, true) }

func find[T any](id uint64, remove bool) (T, error) {
	handles.Lock()
	defer handles.Unlock()
	obj, ok := handles.objs[id].(T)
	if !ok {
		return obj, &handleError{id}
	}
	if remove {
		delete(handles.objs, id)
	}
	return obj, nil
}

type handleError struct{ id uint64 }

func (e *handleError) Error() string {
	if e.id == 0 {
		return "handle is 0 (never opened)"
	}
	return "unknown or closed handle"
}

// The bodies most exports share; each defers guard itself.

// openHandle is an snd_*_open: out is checked before anything is opened,
// then the object open returns gets a handle, stored in *out.
func openHandle[T any](out *C.uint64_t, errOut **C.char, open func() (T, error)) (rc C.int) {
	defer guard(&rc, errOut)
	if out == nil {
		return fail(errOut, errs.Invalidf("out is NULL"))
	}
	obj, err := open()
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(newHandle(obj))
	return C.SND_OK
}

// onHandle runs fn on the object behind h, which must have type T.
func onHandle[T any](h C.uint64_t, errOut **C.char, fn func(T) error) (rc C.int) {
	defer guard(&rc, errOut)
	obj, err := lookup[T](uint64(h))
	if err != nil {
		return fail(errOut, err)
	}
	return status(errOut, fn(obj))
}

// closeHandle is an snd_*_close: it releases *h, sets it to 0 and closes
// the object (when it has a Close method). NULL or 0 is a no-op; an unknown,
// closed or wrong-type handle is SND_ERR_INVALID_HANDLE.
func closeHandle[T any](h *C.uint64_t, errOut **C.char) (rc C.int) {
	defer guard(&rc, errOut)
	if h == nil || *h == 0 {
		return C.SND_OK
	}
	obj, err := release[T](uint64(*h))
	if err != nil {
		return fail(errOut, err)
	}
	*h = 0
	if c, ok := any(obj).(interface{ Close() error }); ok {
		return status(errOut, c.Close())
	}
	return C.SND_OK
}
