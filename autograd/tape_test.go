package autograd

import (
	"math/rand/v2"
	"testing"
)

// Backward hands each intermediate gradient back to the pool once it is
// spent, so a chain of n ops holds n values but only a few gradients.
func TestBackwardReleasesSpentGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x := randVar(rng, true, 1000)
	tp := NewTape()
	h := x
	const n = 10
	var mids []*Var
	for i := 0; i < n; i++ {
		h = tp.Scale(h, 1.5)
		mids = append(mids, h)
	}
	loss := tp.SumAll(h)
	if err := tp.Backward(loss); err != nil {
		t.Fatal(err)
	}
	for i, m := range mids {
		if m.Grad != nil {
			t.Fatalf("intermediate %d kept its gradient", i)
		}
	}
	want := float32(1)
	for i := 0; i < n; i++ {
		want *= 1.5
	}
	for i, g := range x.Grad.Data {
		if d := g - want; d > 1e-3 || d < -1e-3 {
			t.Fatalf("dx[%d] = %v, want %v", i, g, want)
		}
	}
	// n values of 1000 floats, the loss, and at most a few live gradients
	if got, limit := tp.PoolBytes(), int64((n+4)*1000*4); got > limit {
		t.Fatalf("pool holds %d bytes after Backward, want ≤ %d: spent gradients were not reused", got, limit)
	}
}
