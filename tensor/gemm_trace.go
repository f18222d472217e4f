package tensor

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// GEMMShape is what TraceGEMM recorded for one kind of product: op(A)
// (M, K) times op(B) (K, N), stored transposed or not, with a bias stored
// by the kernel (SgemmBias) or not, and batch products per call
// (SgemmStridedBatched; 1 for the others).
type GEMMShape struct {
	TransA, TransB bool
	M, N, K, Batch int
	Bias           bool
	Calls          int
	// Seconds is the wall time of the calls, summed: calls made at the same
	// time by several workers (attention's per-head products) each count
	// their own, so a shape's seconds can exceed the wall time.
	Seconds float64
}

// Flops is the shape's arithmetic over all its calls: 2·M·N·K·Batch a call.
func (s GEMMShape) Flops() float64 {
	return 2 * float64(s.M) * float64(s.N) * float64(s.K) * float64(s.Batch) * float64(s.Calls)
}

// GFLOPS is the shape's rate: its Flops over its Seconds.
func (s GEMMShape) GFLOPS() float64 {
	if s.Seconds == 0 {
		return 0
	}
	return s.Flops() / s.Seconds / 1e9
}

type gemmKey struct {
	transA, transB bool
	m, n, k, batch int
	bias           bool
}

var (
	gemmTracing atomic.Bool
	gemmTraceMu sync.Mutex
	gemmTraced  map[gemmKey]*GEMMShape
)

// TraceGEMM starts (on) or stops timing every matrix product
// (Precision.Sgemm, SgemmBias, SgemmStridedBatched, at either precision)
// by shape; starting clears what was recorded, stopping keeps it for
// GEMMShapes. Off, a product pays one
// atomic load. For benchmarks (glora bench --gemm-shapes), not training:
// each traced call takes a lock.
func TraceGEMM(on bool) {
	gemmTraceMu.Lock()
	defer gemmTraceMu.Unlock()
	if on {
		gemmTraced = map[gemmKey]*GEMMShape{}
	}
	gemmTracing.Store(on)
}

// TracingGEMM reports whether TraceGEMM is on.
func TracingGEMM() bool { return gemmTracing.Load() }

// GEMMFlops is the arithmetic of every product TraceGEMM recorded since it
// was last started (the sum of GEMMShapes' Flops), readable while tracing
// goes on: the difference of two readings is what the calls between them
// multiplied.
func GEMMFlops() float64 {
	gemmTraceMu.Lock()
	defer gemmTraceMu.Unlock()
	f := 0.0
	for _, s := range gemmTraced {
		f += s.Flops()
	}
	return f
}

// GEMMShapes is what TraceGEMM recorded, the longest first.
func GEMMShapes() []GEMMShape {
	gemmTraceMu.Lock()
	defer gemmTraceMu.Unlock()
	out := make([]GEMMShape, 0, len(gemmTraced))
	for _, s := range gemmTraced {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b GEMMShape) int { return cmp.Compare(b.Seconds, a.Seconds) })
	return out
}

// traceGEMM records one call that started at t0 (deferred by the entry
// points while tracing).
func traceGEMM(k gemmKey, t0 time.Time) {
	d := time.Since(t0).Seconds()
	gemmTraceMu.Lock()
	defer gemmTraceMu.Unlock()
	if gemmTraced == nil {
		return
	}
	s := gemmTraced[k]
	if s == nil {
		s = &GEMMShape{TransA: k.transA, TransB: k.transB, M: k.m, N: k.n, K: k.k, Batch: k.batch, Bias: k.bias}
		gemmTraced[k] = s
	}
	s.Calls++
	s.Seconds += d
}
