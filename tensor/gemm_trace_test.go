package tensor

import "testing"

// TraceGEMM counts each product once under its shape (a bias product
// whose fallback runs Sgemm inside it too), and nothing while off.
func TestTraceGEMM(t *testing.T) {
	a, b, c := make([]float32, 6*4), make([]float32, 4*5), make([]float32, 6*5)
	bias := make([]float32, 5)
	Sgemm(false, false, 6, 5, 4, 1, a, 4, b, 5, 0, c, 5) // before: not counted
	TraceGEMM(true)
	if !TracingGEMM() || GEMMFlops() != 0 {
		t.Fatalf("started: tracing %v, %g flops", TracingGEMM(), GEMMFlops())
	}
	for range 3 {
		Sgemm(false, false, 6, 5, 4, 1, a, 4, b, 5, 0, c, 5)
	}
	F32.SgemmBias(false, true, 6, 5, 4, 1, a, 4, b, 4, bias, c, 5)
	BF16.Sgemm(true, false, 6, 5, 4, 1, a, 6, b, 5, 1, c, 5)
	SgemmStridedBatched(2, false, false, 3, 5, 4, 1, a, 4, 12, b, 5, 0, 0, c, 5, 15)
	TraceGEMM(false)
	Sgemm(false, false, 6, 5, 4, 1, a, 4, b, 5, 0, c, 5) // after: not counted
	// 5 products of 6×5×4, one batch of 2 of 3×5×4
	if f := GEMMFlops(); TracingGEMM() || f != 2*(5*6*5*4+2*3*5*4) {
		t.Errorf("stopped: tracing %v, %g flops, want %d", TracingGEMM(), f, 2*(5*6*5*4+2*3*5*4))
	}
	got := map[GEMMShape]bool{}
	sum := 0.0
	for _, s := range GEMMShapes() {
		sum += s.Flops()
		if s.Seconds <= 0 || s.GFLOPS() <= 0 {
			t.Errorf("%+v: no time", s)
		}
		s.Seconds = 0
		got[s] = true
	}
	want := []GEMMShape{
		{M: 6, N: 5, K: 4, Batch: 1, Calls: 3},
		{TransB: true, M: 6, N: 5, K: 4, Batch: 1, Bias: true, Calls: 1},
		{TransA: true, M: 6, N: 5, K: 4, Batch: 1, Calls: 1},
		{M: 3, N: 5, K: 4, Batch: 2, Calls: 1},
	}
	if sum != GEMMFlops() {
		t.Errorf("the shapes' Flops sum to %g, GEMMFlops %g", sum, GEMMFlops())
	}
	TraceGEMM(true)
	TraceGEMM(false)
	if GEMMFlops() != 0 {
		t.Errorf("restarted: %g flops", GEMMFlops())
	}
	if len(got) != len(want) {
		t.Errorf("%d shapes recorded, want %d: %v", len(got), len(want), got)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %+v in %v", w, got)
		}
	}
}
