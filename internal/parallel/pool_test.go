package parallel

import (
	"sync/atomic"
	"testing"
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
