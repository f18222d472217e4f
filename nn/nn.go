// Package nn holds glora's coarse, fused neural-network operations: layer
// and RMS normalisation, softmax and cross-entropy, activations, multi-head
// attention, patch embedding, dropout and rotary position embedding.
//
// Every operation is a function taking the tape first, written like
// autograd's Linear: the forward pass and the hand-written backward closure
// side by side, sticky shape errors (tp.Fail(tensor.Errorf(...))) instead of
// panics, buffers from the tape's pool, and loops over rows, samples or
// batch·heads spread over internal/parallel's worker pool.
package nn

import (
	"sync"
	"sync/atomic"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
)

// rowGrain is the number of elements a parallel chunk of a row-wise loop
// should hold at least, so that tiny tensors stay on the calling goroutine.
const rowGrain = 1 << 14

// grainRows is the row count per parallel chunk for rows of length n.
func grainRows(n int) int { return max(1, rowGrain/max(n, 1)) }

// numParts is how many contiguous parts a loop over n items with at least
// grain items each is split into (at most one per worker).
func numParts(n, grain int) int {
	if n <= 0 {
		return 0
	}
	return max(1, min(parallel.Workers(), (n+max(grain, 1)-1)/max(grain, 1)))
}

// forParts splits [0,n) into parts contiguous ranges and runs fn(part, lo, hi)
// for each on the worker pool, so that fn can accumulate into per-part
// buffers (reductions such as a LayerNorm weight gradient) without locks.
func forParts(n, parts int, fn func(part, lo, hi int)) {
	if n <= 0 || parts <= 0 {
		return
	}
	per := (n + parts - 1) / parts
	parallel.For(parts, 1, func(plo, phi int) {
		for p := plo; p < phi; p++ {
			lo, hi := p*per, min((p+1)*per, n)
			if lo < hi {
				fn(p, lo, hi)
			}
		}
	})
}

// forEach calls fn(i, scratch) for every i in [0,n), the items claimed one
// at a time by the pool's workers (dynamic load balancing for a few dozen
// heavy items such as attention heads, where a shared vCPU can stall one
// worker). Each worker gets its own scratch slice of length scratchLen
// (contents garbage), or nil when scratchLen is 0.
func forEach(n, scratchLen int, fn func(i int, scratch []float32)) {
	if n <= 0 {
		return
	}
	var next atomic.Int64
	parallel.For(min(n, parallel.Workers()), 1, func(_, _ int) {
		var scr []float32
		if scratchLen > 0 {
			p := getScratch(scratchLen)
			defer putScratch(p)
			scr = *p
		}
		for { // every worker claims items until none are left
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(i, scr)
		}
	})
}

// scratchPool recycles per-goroutine float32 scratch (attention scores and
// their gradients) across calls, so the hot loops do not allocate.
var scratchPool sync.Pool

// getScratch returns a scratch slice of length n (contents are garbage).
func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok {
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
	}
	s := make([]float32, n)
	return &s
}

func putScratch(p *[]float32) { scratchPool.Put(p) }

// inputs lists the non-nil Vars among vs (optional operands such as biases).
func inputs(vs ...*ag.Var) []*ag.Var {
	out := vs[:0:0]
	for _, v := range vs {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

// lastDim splits a shape (..., C) into the number of rows and C.
func lastDim(shape []int) (rows, c int) {
	if len(shape) == 0 {
		return 1, 1
	}
	c = shape[len(shape)-1]
	rows = 1
	for _, d := range shape[:len(shape)-1] {
		rows *= d
	}
	return rows, c
}
