package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/structure-net/structure-net-data/core/errs"
	"github.com/structure-net/structure-net-data/core/logging"
)

// headerCodes reads the SND_ERR_* codes from snd.h, the contract Python and
// C callers compile against.
func headerCodes(t *testing.T) map[string]int {
	t.Helper()
	text, err := os.ReadFile("snd.h")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	for _, m := range regexp.MustCompile(`#define SND_ERR_(\w+)\s+(\d+)`).FindAllStringSubmatch(string(text), -1) {
		codes[m[1]], _ = strconv.Atoi(m[2])
	}
	return codes
}

func TestStatusOfMatchesTheHeader(t *testing.T) {
	codes := headerCodes(t)
	cases := []struct {
		name string
		err  error
	}{
		{"INVALID", errs.Invalidf("x")},
		{"NOT_FOUND", errs.NotFoundf("x")},
		{"CORRUPT", errs.Corruptf("x")},
		{"IO", errs.IOf("x")},
		{"CLOSED", errs.Closedf("x")},
		{"UNSUPPORTED", errs.Unsupportedf("x")},
		{"CHECKSUM", errs.Checksumf("x")},
		{"CONFLICT", errs.Conflictf("x")},
		{"UNAVAILABLE", errs.Unavailablef("x")},
		{"OUT_OF_MEMORY", errs.OutOfMemoryf("x")},
		{"INVALID_HANDLE", &handleError{7}},
		{"INVALID_HANDLE", fmt.Errorf("lookup: %w", &handleError{0})},
		{"INTERNAL", errors.New("no kind")},
		{"CORRUPT", errs.Corruptf("index: %w", errs.NotFoundf("x"))}, // the outermost kind
		{"UNAVAILABLE", fmt.Errorf("call: %w", errs.Unavailablef("x"))},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, ok := codes[c.name]
			if !ok {
				t.Fatalf("snd.h has no SND_ERR_%s", c.name)
			}
			if got := int(statusOf(c.err)); got != want {
				t.Fatalf("statusOf(%v) = %d, want SND_ERR_%s = %d", c.err, got, c.name, want)
			}
		})
		seen[c.name] = true
	}
	for name := range codes {
		if !seen[name] {
			t.Errorf("SND_ERR_%s is not covered", name)
		}
	}
	for _, kind := range errs.Kinds {
		if got := int(statusOf(kind)); got == 0 || (got == codes["INTERNAL"]) != (kind == errs.ErrInternal) {
			t.Errorf("kind %v has status %d: every kind needs its own code", kind, got)
		}
	}
	if len(errs.Kinds)+1 != len(codes) { // + INVALID_HANDLE, which is capi's own
		t.Errorf("%d kinds for %d codes: a kind without a code, or a code without a kind", len(errs.Kinds), len(codes))
	}
}

func TestGuardTurnsPanicsIntoCodes(t *testing.T) {
	codes := headerCodes(t)
	var logged int
	logging.SetSink(func(zerolog.Level, []byte) { logged++ }, zerolog.ErrorLevel)
	defer logging.SetSink(nil, zerolog.WarnLevel) // the default
	run := func(fn func()) int {
		rc := statusOf(nil)
		func() {
			defer guard(&rc, nil)
			rc = 0
			fn()
		}()
		return int(rc)
	}
	cases := []struct {
		name  string
		panic any
		want  string
	}{
		{"a bug", "index out of range", "INTERNAL"},
		{"an error value", errs.Invalidf("x"), "INTERNAL"},
		{"C memory ran out", errs.OutOfMemoryf("cmem: out of C memory allocating 8 bytes"), "OUT_OF_MEMORY"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := run(func() { panic(c.panic) }); got != codes[c.want] {
				t.Fatalf("code %d, want SND_ERR_%s = %d", got, c.want, codes[c.want])
			}
		})
	}
	if got := run(func() {}); got != 0 {
		t.Fatalf("no panic: code %d", got)
	}
	if logged != len(cases) {
		t.Fatalf("%d panics logged, want %d", logged, len(cases))
	}
}
