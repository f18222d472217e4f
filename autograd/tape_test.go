package autograd

import (
	"math/rand/v2"
	"testing"

	"github.com/glora/glora/tensor"
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

func TestFreeReleasesOnlyDeadValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	x := randVar(rng, false, 4, 250)
	tp := NewTape()
	tp.NoGrad = true
	a := tp.Scale(x, 2)
	view := tp.Reshape(a, 1000)
	tp.Free(view) // a view: must not free a's buffer
	if view.Value == nil || a.Value == nil {
		t.Fatal("Free released a view")
	}
	tp.Free(x) // not the tape's
	if x.Value == nil {
		t.Fatal("Free released a leaf it does not own")
	}
	b := tp.Scale(a, 3)
	tp.Free(a)
	if a.Value != nil {
		t.Fatal("Free kept a dead intermediate")
	}
	c := tp.Scale(b, 1) // reuses a's buffer
	if c.Value.Data[0] != 6*x.Value.Data[0] {
		t.Fatalf("c[0] = %v, want %v", c.Value.Data[0], 6*x.Value.Data[0])
	}
	if got := tp.PoolBytes(); got != 2*1000*4 {
		t.Fatalf("pool holds %d bytes, want %d (a's buffer reused by c)", got, 2*1000*4)
	}
	// With gradients recorded, values stay for the backward pass.
	tp2 := NewTape()
	w := randVar(rng, true, 10)
	y := tp2.Scale(w, 2)
	tp2.Free(y)
	if y.Value == nil {
		t.Fatal("Free released a value that Backward needs")
	}
	// A frozen input of an op with a trainable weight needs no gradient,
	// but the weight's gradient reads it: a recording tape keeps it.
	tp3 := NewTape()
	h := tp3.Scale(x, 1) // frozen
	out := tp3.Linear(h, randVar(rng, true, 3, 250), nil)
	tp3.Free(h)
	if h.Value == nil {
		t.Fatal("Free released the input of a Linear whose weight trains")
	}
	if err := tp3.Backward(tp3.SumAll(out)); err != nil {
		t.Fatal(err)
	}
}

func TestReleaseReturnsScratch(t *testing.T) {
	tp := NewTape()
	s := tp.AllocRaw(64)
	tp.Release(s)
	tp.Release(tensor.New(8)) // not the tape's: ignored
	if got := tp.AllocRaw(64); &got.Data[0] != &s.Data[0] {
		t.Fatal("a released buffer was not reused")
	}
}

// TakeGrad hands y's gradient buffer to x (no new buffer, y's gradient
// gone, Record's release skipped for y and done once for x) only where x is
// an op output of the tape without a gradient and of y's size; elsewhere
// it changes nothing.
func TestTakeGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 5))
	leaf := randVar(rng, true, 64)
	tp := NewTape()
	x := tp.Scale(leaf, 2) // an op output
	y := tp.Scale(x, 3)
	var took, refusedLeaf, refusedShort, refusedHeld bool
	tp.Record(y, func() {
		refusedLeaf = tp.TakeGrad(y, leaf) == nil
		short := tp.Scale(tp.Slice(x, 0, 0, 8), 1) // another size
		refusedShort = tp.TakeGrad(y, short) == nil
		dy := &y.Grad.Data[0]
		g := tp.TakeGrad(y, x)
		took = g != nil && &g.Data[0] == dy && y.Grad == nil && x.Grad == g
		refusedHeld = tp.TakeGrad(y, x) == nil // y has no gradient now, x has one
		for i := range g.Data {
			g.Data[i] *= 3
		}
	})
	if err := tp.Backward(tp.SumAll(y)); err != nil {
		t.Fatal(err)
	}
	if !took || !refusedLeaf || !refusedShort || !refusedHeld {
		t.Fatalf("took %v; refused a leaf %v, another size %v, a second time %v", took, refusedLeaf, refusedShort, refusedHeld)
	}
	for i, g := range leaf.Grad.Data {
		if g != 6 {
			t.Fatalf("dleaf[%d] = %v, want 6", i, g)
		}
	}
	if x.Grad != nil || y.Grad != nil {
		t.Fatal("an intermediate kept its gradient")
	}
}
