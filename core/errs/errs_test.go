package errs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/structure-net/structure-net-data/core/errs"
)

type customError struct{ cause error }

func (e *customError) Error() string { return "custom: " + e.cause.Error() }
func (e *customError) Unwrap() error { return e.cause }

func TestKindOfOutermostWins(t *testing.T) {
	notFound := errs.NotFoundf("experiment %q", "x")
	cases := []struct {
		name string
		err  error
		kind error
	}{
		{"plain kind", errs.Corruptf("bad magic"), errs.ErrCorrupt},
		{"every constructor", errs.Unavailablef("down"), errs.ErrUnavailable},
		{"corrupt wrapping not-found", errs.Corruptf("index: %w", notFound), errs.ErrCorrupt},
		{"invalid wrapping unavailable", errs.Invalidf("bad: %w", errs.Unavailablef("server gone")), errs.ErrInvalid},
		{"io wrapping corrupt", errs.IOf("read: %w", errs.Corruptf("truncated")), errs.ErrIO},
		{"unavailable wrapping checksum", errs.Unavailablef("last: %w", errs.Checksumf("md5")), errs.ErrUnavailable},
		{"kindless wrapper keeps the inner kind", fmt.Errorf("opening: %w", errs.Conflictf("locked")), errs.ErrConflict},
		{"custom wrapper keeps the inner kind", &customError{errs.Closedf("closed")}, errs.ErrClosed},
		{"bare sentinel", errs.ErrUnsupported, errs.ErrUnsupported},
		{"sentinel through %w", fmt.Errorf("x: %w", errs.ErrChecksum), errs.ErrChecksum},
		{"joined: the first branch first", errors.Join(errs.IOf("a"), errs.Invalidf("b")), errs.ErrIO},
		{"no kind", errors.New("plain"), errs.ErrInternal},
		{"%v hides the inner kind", fmt.Errorf("wrapped: %v", errs.Invalidf("x")), errs.ErrInternal},
		{"nil", nil, errs.ErrInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := errs.KindOf(c.err); got != c.kind {
				t.Fatalf("KindOf(%v) = %v, want %v", c.err, got, c.kind)
			}
		})
	}
}

func TestCausesOnlyThroughW(t *testing.T) {
	notFound := errs.NotFoundf("missing")
	cases := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"own kind", errs.Corruptf("x: %w", notFound), errs.ErrCorrupt, true},
		{"%w cause's kind", errs.Corruptf("x: %w", notFound), errs.ErrNotFound, true},
		{"%w cause itself", errs.Corruptf("x: %w", notFound), notFound, true},
		{"%w standard error", errs.Unavailablef("x: %w", context.Canceled), context.Canceled, true},
		{"two %w causes", errs.IOf("%w and %w", fs.ErrNotExist, context.DeadlineExceeded), context.DeadlineExceeded, true},
		{"%v cause is text only", errs.Corruptf("x: %v", notFound), errs.ErrNotFound, false},
		{"%v standard error is text only", errs.Unavailablef("x: %v", context.Canceled), context.Canceled, false},
		{"%s cause is text only", errs.Invalidf("x: %s", fs.ErrNotExist), fs.ErrNotExist, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := errors.Is(c.err, c.target); got != c.want {
				t.Fatalf("errors.Is(%v, %v) = %v, want %v", c.err, c.target, got, c.want)
			}
		})
	}
}

func TestMessagesAreTheTextAlone(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{errs.Invalidf("n_results must be positive, got %d", 0), "n_results must be positive, got 0"},
		{errs.Corruptf("index: %w", errs.NotFoundf("no %q", "x")), `index: no "x"`},
		{errs.IOf("read: %v", errors.New("disk gone")), "read: disk gone"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("message %q, want %q", got, c.want)
		}
	}
}

func TestSentinelsNameTheirPackage(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range errs.Kinds {
		msg := k.Error()
		if len(msg) < len("errs: ") || msg[:len("errs: ")] != "errs: " {
			t.Errorf("sentinel %q does not start with its package", msg)
		}
		if seen[msg] {
			t.Errorf("two sentinels read %q", msg)
		}
		seen[msg] = true
	}
}
