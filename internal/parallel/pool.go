// Package parallel runs loops on a persistent pool of worker goroutines,
// sized to GOMAXPROCS. Nested calls are safe: the caller always works on its
// own loop while it waits, so a worker blocked in an inner For never starves.
//
// Workers and waiting callers poll for a short while (spinFor) before they
// block: a training step is hundreds of parallel loops of tens of
// microseconds with a little serial work between them, and waking a
// blocked goroutine's thread takes about as long as such a loop. A For of
// two 5 µs halves after 20 µs of serial work, 2 cores of a Zen 3: the
// second half started 5.8 µs after the call and the For took 11.1 µs
// (medians) with workers that blocked at once; 0.7 and 6.1 µs polling.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor is how long (in nanoseconds) an idle worker polls for the next
// loop, and a caller for the last chunk of its own, before blocking.
var spinFor atomic.Int64

func init() { spinFor.Store(int64(50 * time.Microsecond)) }

type job struct {
	fn      func(lo, hi int)
	n       int
	chunk   int
	next    atomic.Int64 // next unclaimed chunk index
	chunks  int64
	pending atomic.Int64 // chunks not finished
	wg      sync.WaitGroup
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
		j.pending.Add(-1)
		j.wg.Done()
	}
}

// wait returns once every chunk of j has finished: it polls for spinFor,
// then blocks.
func (j *job) wait() {
	if j.pending.Load() > 0 {
		for t0, d := time.Now(), time.Duration(spinFor.Load()); j.pending.Load() > 0 && time.Since(t0) < d; {
			runtime.Gosched()
		}
	}
	j.wg.Wait()
}

// take returns the next queued job: it polls the queue for spinFor, then
// blocks on it.
func take() *job {
	for t0, d := time.Now(), time.Duration(spinFor.Load()); time.Since(t0) < d; {
		select {
		case j := <-queue:
			return j
		default:
			runtime.Gosched()
		}
	}
	return <-queue
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
			for {
				take().run()
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
	j.pending.Store(j.chunks)
	for i := 1; i < int(j.chunks); i++ {
		select {
		case queue <- j:
		default: // pool busy: the caller does the work itself
		}
	}
	j.run()
	j.wait()
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
