// Package errs owns the small set of error kinds that every core package wraps
// its errors in, so that the C API can map any error to one status code and the
// Python package to one exception class without parsing messages.
//
// An error's kind is the outermost one: Corruptf("%s: %w", path, notFound)
// is a corrupt-data error that still reports errors.Is(err, ErrNotFound).
// Only %w makes an argument a cause; an error formatted with %v contributes
// its text and nothing else.
package errs

import (
	"errors"
	"fmt"
)

// The kinds. Every error returned across a package boundary wraps at least one;
// KindOf picks the outermost.
var (
	ErrInvalid     = errors.New("errs: invalid argument")
	ErrNotFound    = errors.New("errs: not found")
	ErrCorrupt     = errors.New("errs: corrupt data")
	ErrIO          = errors.New("errs: i/o error")
	ErrClosed      = errors.New("errs: closed")
	ErrUnsupported = errors.New("errs: unsupported")
	ErrInternal    = errors.New("errs: internal error")
	ErrChecksum    = errors.New("errs: checksum mismatch")
	ErrConflict    = errors.New("errs: conflict")
	ErrUnavailable = errors.New("errs: unavailable")
	ErrOutOfMemory = errors.New("errs: out of memory")
)

// Kinds lists every kind; capi maps each to its status code.
var Kinds = []error{ErrInvalid, ErrNotFound, ErrCorrupt, ErrIO, ErrClosed, ErrUnsupported, ErrInternal, ErrChecksum, ErrConflict, ErrUnavailable, ErrOutOfMemory}

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

// OutOfMemoryf returns an ErrOutOfMemory error with a formatted message.
func OutOfMemoryf(format string, args ...any) error { return wrap(ErrOutOfMemory, format, args...) }

// kindError is a kind plus fmt.Errorf's error for the message; its text is
// the message alone, so users read "mnist: train-images-idx3-ubyte: bad magic
// 0x1234", not the kind. The causes are the %w arguments, kept by fmt.Errorf.
type kindError struct {
	kind error
	msg  error
}

func (e *kindError) Error() string { return e.msg.Error() }

// Unwrap lists the kind first, so the kind is found before any cause's.
func (e *kindError) Unwrap() []error { return []error{e.kind, e.msg} }

func wrap(kind error, format string, args ...any) error {
	return &kindError{kind, fmt.Errorf(format, args...)}
}

// KindOf returns the outermost kind an error wraps, or ErrInternal when it
// wraps none. It walks the tree in the order errors.Is does (depth first,
// each node before its causes) and stops at the first kind it meets.
func KindOf(err error) error {
	if k := outermost(err); k != nil {
		return k
	}
	return ErrInternal
}

func outermost(err error) error {
	for err != nil {
		for _, k := range Kinds {
			if err == k {
				return k
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if k := outermost(e); k != nil {
					return k
				}
			}
			return nil
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return nil
		}
	}
	return nil
}
