package parallel

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestForCoversRangeOnce(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 100, 1001} {
		for _, grain := range []int{0, 1, 5, 1000} {
			hits := make([]int32, n)
			For(n, grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, h)
				}
			}
		}
	}
}

func TestNestedForDoesNotDeadlock(t *testing.T) {
	var total atomic.Int64
	For(16, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			For(64, 1, func(a, b int) { total.Add(int64(b - a)) })
		}
	})
	if total.Load() != 16*64 {
		t.Fatalf("nested total = %d, want %d", total.Load(), 16*64)
	}
}

// TestWaitOutlastsPolling: a caller waits for a chunk that finishes after
// its polling (spinFor) has ended, and with polling off; and For's chunks
// have all finished when it returns, also when the workers had stopped
// polling and blocked.
func TestWaitOutlastsPolling(t *testing.T) {
	defer spinFor.Store(spinFor.Load())
	for _, spin := range []int64{0, spinFor.Load()} {
		spinFor.Store(spin)
		j := &job{chunks: 1}
		j.wg.Add(1)
		j.pending.Store(1)
		var finished atomic.Bool
		go func() {
			time.Sleep(2 * time.Millisecond)
			finished.Store(true)
			j.pending.Add(-1)
			j.wg.Done()
		}()
		j.wait()
		if !finished.Load() {
			t.Fatalf("spinFor %d ns: wait returned before the chunk finished", spin)
		}
		for round := 0; round < 4; round++ {
			n := 2 * Workers()
			done := make([]atomic.Bool, n)
			For(n, 1, func(lo, hi int) {
				time.Sleep(time.Millisecond)
				for i := lo; i < hi; i++ {
					done[i].Store(true)
				}
			})
			for i := range done {
				if !done[i].Load() {
					t.Fatalf("spinFor %d ns: For returned before chunk %d finished", spin, i)
				}
			}
			time.Sleep(time.Millisecond) // the workers stop polling and block
		}
	}
}
