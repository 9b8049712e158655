package parallel_test

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/structure-net/structure-net-data/internal/parallel"
)

func TestForCallsEachIndexOnce(t *testing.T) {
	for _, c := range []struct{ n, perWorker int }{{0, 256}, {1, 256}, {255, 256}, {257, 256}, {10000, 256}, {7, 1}, {5, 0}} {
		calls := make([]atomic.Int32, c.n)
		var running, most atomic.Int32
		parallel.For(c.n, c.perWorker, func(i int) {
			now := running.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			calls[i].Add(1)
			running.Add(-1)
		})
		for i := range calls {
			if got := calls[i].Load(); got != 1 {
				t.Fatalf("n=%d: index %d called %d times", c.n, i, got)
			}
		}
		if limit := int32(runtime.GOMAXPROCS(0)); most.Load() > limit {
			t.Fatalf("n=%d: %d calls at once, more than GOMAXPROCS=%d", c.n, most.Load(), limit)
		}
	}
}
