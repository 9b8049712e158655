// Package parallel runs independent jobs on every core: the one loop that
// experiment indexing (core/search) and decoding its JSON (capi/wire) share.
package parallel

import (
	"runtime"
	"sync"
)

// For calls fn(i) for every i in [0, n), on up to GOMAXPROCS goroutines
// with at least perWorker jobs each (fewer jobs than that run on one), and
// returns when all calls have. Calls must not depend on each other.
func For(n, perWorker int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+perWorker-1)/max(perWorker, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				fn(i)
			}
		})
	}
	wg.Wait()
}
