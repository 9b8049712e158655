package main

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

// errInvalidHandle is mapped to SND_ERR_INVALID_HANDLE.
var errInvalidHandle = errs.Invalidf("invalid handle")

func newHandle(obj any) uint64 {
	handles.Lock()
	defer handles.Unlock()
	id := handles.next
	handles.next++
	handles.objs[id] = obj
	return id
}

// lookup returns the object behind id when it has type T.
func lookup[T any](id uint64) (T, error) {
	handles.Lock()
	defer handles.Unlock()
	obj, ok := handles.objs[id].(T)
	if !ok {
		var zero T
		return zero, &handleError{id}
	}
	return obj, nil
}

// release removes id and returns its object, so the caller can close it.
func release[T any](id uint64) (T, error) {
	handles.Lock()
	defer handles.Unlock()
	obj, ok := handles.objs[id].(T)
	if !ok {
		var zero T
		return zero, &handleError{id}
	}
	delete(handles.objs, id)
	return obj, nil
}

type handleError struct{ id uint64 }

func (e *handleError) Error() string {
	if e.id == 0 {
		return "handle is 0 (never opened)"
	}
	return "unknown or closed handle"
}
