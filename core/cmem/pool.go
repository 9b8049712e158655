// Package cmem owns the C-heap memory that batches are built in. Buffers
// handed to Python through the Arrow C Data Interface must not live on the Go
// heap (the cgo pointer rules forbid C keeping Go pointers), so every exported
// buffer comes from a Pool: C malloc'd, 64-byte aligned, recycled by size when
// the consumer's release callback returns it.
package cmem

/*
#include <stdlib.h>
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/structure-net/structure-net-data/core/errs"
)

const alignment = 64

// Pool is an arrow memory.Allocator over C memory that keeps freed buffers on
// a per-size free list, so a steady-state loader allocates nothing. It is safe
// for concurrent use.
type Pool struct {
	mu       sync.Mutex
	free     map[int][]unsafe.Pointer
	keepMax  int // buffers kept per size
	live     atomic.Int64
	pooled   atomic.Int64
	reusedN  atomic.Int64
	mallocsN atomic.Int64
}

// NewPool returns a pool that keeps up to keepPerSize idle buffers of each size.
func NewPool(keepPerSize int) *Pool {
	if keepPerSize < 0 {
		keepPerSize = 0
	}
	return &Pool{free: map[int][]unsafe.Pointer{}, keepMax: keepPerSize}
}

// Default is the process-wide pool used by loaders.
var Default = NewPool(32)

// Allocate returns a zero-length-checked byte slice over C memory. The
// contents are not zeroed when a buffer is reused; producers overwrite every byte.
func (p *Pool) Allocate(size int) []byte {
	if size <= 0 {
		return []byte{}
	}
	p.mu.Lock()
	if list := p.free[size]; len(list) > 0 {
		ptr := list[len(list)-1]
		p.free[size] = list[:len(list)-1]
		p.mu.Unlock()
		p.pooled.Add(-int64(size))
		p.live.Add(int64(size))
		p.reusedN.Add(1)
		return unsafe.Slice((*byte)(ptr), size)
	}
	p.mu.Unlock()
	var ptr unsafe.Pointer
	if C.posix_memalign(&ptr, alignment, C.size_t(size)) != 0 || ptr == nil {
		// arrow's Allocator has no error result: the C API's guard turns
		// this panic into SND_ERR_OUT_OF_MEMORY.
		panic(errs.OutOfMemoryf("cmem: out of C memory allocating %d bytes", size))
	}
	p.live.Add(int64(size))
	p.mallocsN.Add(1)
	return unsafe.Slice((*byte)(ptr), size)
}

// Reallocate grows or shrinks b, preserving its prefix.
func (p *Pool) Reallocate(size int, b []byte) []byte {
	if size == len(b) {
		return b
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free returns b to the pool, or to C when the pool for its size is full.
func (p *Pool) Free(b []byte) {
	size := len(b)
	if size == 0 {
		return
	}
	ptr := unsafe.Pointer(&b[0])
	p.live.Add(-int64(size))
	p.mu.Lock()
	if len(p.free[size]) < p.keepMax {
		p.free[size] = append(p.free[size], ptr)
		p.mu.Unlock()
		p.pooled.Add(int64(size))
		return
	}
	p.mu.Unlock()
	C.free(ptr)
}

// Trim releases every idle buffer back to C.
func (p *Pool) Trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for size, list := range p.free {
		for _, ptr := range list {
			C.free(ptr)
			p.pooled.Add(-int64(size))
		}
		delete(p.free, size)
	}
}

// Stats reports the pool's bytes: live (handed out, not yet freed) and pooled (idle).
type Stats struct {
	LiveBytes   int64 `json:"live_bytes"`
	PooledBytes int64 `json:"pooled_bytes"`
	Mallocs     int64 `json:"mallocs"`
	Reuses      int64 `json:"reuses"`
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats {
	return Stats{p.live.Load(), p.pooled.Load(), p.mallocsN.Load(), p.reusedN.Load()}
}
