package dataset_test

import (
	"testing"
	"time"
)

// waitFor polls cond for up to two seconds; background goroutines release
// buffers asynchronously after a loader stops.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
