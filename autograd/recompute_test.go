package autograd

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// inUse is the memory of the buffers the tape has handed out and not got back.
func (tp *Tape) inUse() int64 { return tp.pool.inUse() }

// A recomputed activation gives the same gradients bit for bit, is not
// held between the forward and the backward pass, and comes back only
// while its consumer's backward runs.
func TestRecomputeSameGradientsLessMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randVar(rng, true, 6, 8)
	w1, b1 := randVar(rng, true, 16, 8), randVar(rng, true, 16)
	w2 := randVar(rng, true, 4, 16)
	run := func(recompute, trainW2 bool) (grads [][]float32, held int64, fills int) {
		for _, v := range []*Var{x, w1, b1, w2} {
			v.Grad = nil
		}
		w2.RequiresGrad = trainW2
		tp := NewTape()
		h := tp.Linear(x, w1, b1) // (6,16)
		g := tp.Mul(h, h)         // its backward reads h, not g
		mark := tp.Mark()
		y := tp.Linear(g, w2, nil) // reads g in its backward (dW2 = dyᵀ·g)
		if recompute {
			tp.Recompute(g, mark, func(dst []float32) {
				fills++
				for i, v := range h.Value.Data {
					dst[i] = v * v
				}
			})
			if g.Value.Data != nil {
				t.Fatal("Recompute kept the value")
			}
		}
		loss := tp.SumAll(tp.Mul(y, y))
		held = tp.inUse()
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		for _, v := range []*Var{x, w1, b1, w2} {
			if v.Grad != nil {
				grads = append(grads, slices.Clone(v.Grad.Data))
			}
		}
		return grads, held, fills
	}
	for _, trainW2 := range []bool{true, false} {
		want, heldPlain, _ := run(false, trainW2)
		got, heldRecomputed, fills := run(true, trainW2)
		if len(got) != len(want) {
			t.Fatalf("trainW2 %v: %d gradients, want %d", trainW2, len(got), len(want))
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("trainW2 %v: gradient %d differs with recomputation:\n%v\n%v", trainW2, i, got[i], want[i])
			}
		}
		if heldPlain-heldRecomputed != 6*16*4 || fills != 1 {
			t.Errorf("trainW2 %v: after the forward pass %d bytes held with recomputation, %d without (want 384 less); %d fills",
				trainW2, heldRecomputed, heldPlain, fills)
		}
	}
	// Without gradients it does nothing (Free releases values there).
	tp := NewTape()
	tp.NoGrad = true
	g := tp.Mul(x, x)
	tp.Recompute(g, tp.Mark(), func([]float32) { t.Fatal("filled without a backward pass") })
	if g.Value.Data == nil {
		t.Fatal("Recompute under NoGrad dropped the value")
	}
}

// Discard frees a value no backward reads (a Linear's output consumed by
// Add) on a recording tape: the gradients stay the same and the value is
// gone (a backward reading it would find no data).
func TestDiscardKeepsGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x, w, r := randVar(rng, true, 5, 8), randVar(rng, true, 8, 8), randVar(rng, false, 5, 8)
	run := func(discard bool) (grads [][]float32, held int64) {
		x.Grad, w.Grad = nil, nil
		tp := NewTape()
		h := tp.Linear(x, w, nil)
		y := tp.Add(x, h)
		if discard {
			tp.Discard(h)
			if h.Value.Data != nil || len(h.Value.Shape) != 2 {
				t.Fatalf("discarded value: %v", h.Value)
			}
		}
		loss := tp.SumAll(tp.Mul(y, r))
		held = tp.inUse()
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		return [][]float32{slices.Clone(x.Grad.Data), slices.Clone(w.Grad.Data)}, held
	}
	want, keep := run(false)
	got, drop := run(true)
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("gradient %d differs after Discard", i)
		}
	}
	if keep-drop != 5*8*4 {
		t.Errorf("held %d bytes with Discard, %d without", drop, keep)
	}
}

// After is the mark right after a Var's own backward closure, found where
// it is now: a Recompute with an earlier mark moves the closure, and
// After follows it; a Var that recorded none has −1. A value recomputed
// from After's mark gives the plain run's gradients.
func TestAfterFollowsInserts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x, w, w2 := randVar(rng, true, 4, 3), randVar(rng, true, 5, 3), randVar(rng, true, 2, 5)
	run := func(recompute bool) [][]float32 {
		x.Grad, w.Grad, w2.Grad = nil, nil, nil
		tp := NewTape()
		h := tp.Mul(x, x)
		mark := tp.Mark()
		y := tp.Linear(h, w, nil)  // its closure at mark
		z := tp.Linear(y, w2, nil) // y's consumer (reads y.Value in its backward)
		if recompute {
			if got := tp.After(y); got != mark+1 {
				t.Fatalf("After(y) = %d, want %d", got, mark+1)
			}
			tp.Recompute(h, mark, func(dst []float32) { // inserts before y's closure
				for i, v := range x.Value.Data {
					dst[i] = v * v
				}
			})
			if got := tp.After(y); got != mark+2 {
				t.Fatalf("after an insert before it, After(y) = %d, want %d", got, mark+2)
			}
			if got := tp.After(x); got != -1 {
				t.Fatalf("After of a leaf = %d, want -1", got)
			}
			kept := y.Value.Clone()
			tp.Recompute(y, tp.After(y), func(dst []float32) { copy(dst, kept.Data) })
		}
		if err := tp.Backward(tp.SumAll(tp.Mul(z, z))); err != nil {
			t.Fatal(err)
		}
		return [][]float32{slices.Clone(x.Grad.Data), slices.Clone(w.Grad.Data), slices.Clone(w2.Grad.Data)}
	}
	want, got := run(false), run(true)
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("gradient %d differs with y recomputed from After(y)", i)
		}
	}
}
