// Package errs owns the small set of error kinds that every core package wraps
// its errors in, so that the C API can map any error to one status code and the
// Python package to one exception class without parsing messages.
package errs

import (
	"errors"
	"fmt"
)

// The kinds. Every error returned across a package boundary wraps exactly one.
var (
	ErrInvalid     = errors.New("invalid argument")
	ErrNotFound    = errors.New("not found")
	ErrCorrupt     = errors.New("corrupt data")
	ErrIO          = errors.New("i/o error")
	ErrClosed      = errors.New("closed")
	ErrUnsupported = errors.New("unsupported")
	ErrInternal    = errors.New("internal error")
	ErrChecksum    = errors.New("checksum mismatch")
	ErrConflict    = errors.New("conflict")
	ErrUnavailable = errors.New("unavailable")
)

// Kinds lists every kind in a fixed order; capi numbers them from this list.
var Kinds = []error{ErrInvalid, ErrNotFound, ErrCorrupt, ErrIO, ErrClosed, ErrUnsupported, ErrInternal, ErrChecksum, ErrConflict, ErrUnavailable}

// Invalidf returns an ErrInvalid error with a formatted message.
func Invalidf(format string, args ...any) error { return wrap(ErrInvalid, format, args...) }

// NotFoundf returns an ErrNotFound error with a formatted message.
func NotFoundf(format string, args ...any) error { return wrap(ErrNotFound, format, args...) }

// Corruptf returns an ErrCorrupt error with a formatted message.
func Corruptf(format string, args ...any) error { return wrap(ErrCorrupt, format, args...) }

// IOf returns an ErrIO error with a formatted message.
func IOf(format string, args ...any) error { return wrap(ErrIO, format, args...) }

// Closedf returns an ErrClosed error with a formatted message.
func Closedf(format string, args ...any) error { return wrap(ErrClosed, format, args...) }

// Unsupportedf returns an ErrUnsupported error with a formatted message.
func Unsupportedf(format string, args ...any) error { return wrap(ErrUnsupported, format, args...) }

// Checksumf returns an ErrChecksum error with a formatted message.
func Checksumf(format string, args ...any) error { return wrap(ErrChecksum, format, args...) }

// Conflictf returns an ErrConflict error with a formatted message.
func Conflictf(format string, args ...any) error { return wrap(ErrConflict, format, args...) }

// Unavailablef returns an ErrUnavailable error with a formatted message.
func Unavailablef(format string, args ...any) error { return wrap(ErrUnavailable, format, args...) }

// kindError carries a kind and a message; its text is the message alone so
// users read "mnist: train-images-idx3-ubyte: bad magic 0x1234", not the kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func wrap(kind error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	// Keep wrapped causes reachable for errors.Is/As.
	for _, a := range args {
		if cause, ok := a.(error); ok {
			return &kindCause{kindError{kind, msg}, cause}
		}
	}
	return &kindError{kind, msg}
}

type kindCause struct {
	kindError
	cause error
}

func (e *kindCause) Unwrap() []error { return []error{e.kind, e.cause} }

// KindOf returns the kind an error wraps, or ErrInternal when it wraps none.
func KindOf(err error) error {
	for _, k := range Kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrInternal
}
