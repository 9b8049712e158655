package search_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/structure-net/structure-net-data/core/jsonvalue"
	"github.com/structure-net/structure-net-data/core/search"
)

// decode reads test input written as JSON, ints and floats kept apart.
func decode(t testing.TB, s string) any {
	t.Helper()
	v, err := jsonvalue.Decode([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func object(t testing.TB, s string) map[string]any {
	t.Helper()
	m, ok := decode(t, s).(map[string]any)
	if !ok {
		t.Fatalf("%s is not an object", s)
	}
	return m
}

func closeTo(t *testing.T, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range got {
		w := 0.0
		if i < len(want) {
			w = want[i]
		}
		if math.Abs(float64(got[i])-w) > tol {
			t.Fatalf("index %d: got %.6f, want %.6f\ngot  %v", i, got[i], w, got[:min(len(got), 24)])
		}
	}
}

func wantKind(t *testing.T, err error, kind error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %v error containing %q, got nil", kind, substr)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("want kind %v, got %v (%T)", kind, err, err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not mention %q", err, substr)
	}
}

func parseWhere(t *testing.T, s string) *search.Filter {
	t.Helper()
	f, err := search.ParseWhere(decode(t, s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return f
}

func ids(recs []search.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// sameVector compares embeddings to within one float32 ulp: a Chroma server
// prints float32 values with 8 significant digits, one short of exact.
func sameVector(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > 1.2e-7*math.Max(1, math.Abs(float64(b[i]))) {
			return false
		}
	}
	return true
}
