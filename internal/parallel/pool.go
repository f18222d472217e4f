// Package parallel runs loops on a persistent pool of worker goroutines,
// sized to GOMAXPROCS. Nested calls are safe: the caller always works on its
// own loop while it waits, so a worker blocked in an inner For never starves.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

type job struct {
	fn     func(lo, hi int)
	n      int
	chunk  int
	next   atomic.Int64 // next unclaimed chunk index
	chunks int64
	wg     sync.WaitGroup
}

// run claims chunks until none are left.
func (j *job) run() {
	for {
		c := j.next.Add(1) - 1
		if c >= j.chunks {
			return
		}
		lo := int(c) * j.chunk
		hi := min(lo+j.chunk, j.n)
		j.fn(lo, hi)
		j.wg.Done()
	}
}

var (
	once    sync.Once
	queue   chan *job
	workers int
)

func start() {
	workers = runtime.GOMAXPROCS(0)
	queue = make(chan *job, 4*workers)
	for i := 0; i < workers-1; i++ {
		go func() {
			for j := range queue {
				j.run()
			}
		}()
	}
}

// Workers is the number of goroutines (the caller included) that share a For.
func Workers() int {
	once.Do(start)
	return workers
}

// For calls fn(lo, hi) over consecutive sub-ranges covering [0, n) and returns
// when all have finished. Ranges hold at least grain items (grain ≤ 0 means 1).
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if grain < 1 {
		grain = 1
	}
	parts := min(w, (n+grain-1)/grain)
	if parts <= 1 {
		fn(0, n)
		return
	}
	j := &job{fn: fn, n: n, chunk: (n + parts - 1) / parts}
	j.chunks = int64((n + j.chunk - 1) / j.chunk)
	j.wg.Add(int(j.chunks))
	for i := 1; i < int(j.chunks); i++ {
		select {
		case queue <- j:
		default: // pool busy: the caller does the work itself
		}
	}
	j.run()
	j.wg.Wait()
}

// ForChunks is For with an explicit number of chunks (at most n), for loops
// whose items have very uneven cost and want finer load balancing.
func ForChunks(n, chunks int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	chunks = max(1, min(chunks, n))
	For(n, (n+chunks-1)/chunks, fn)
}
