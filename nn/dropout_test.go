package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	ag "github.com/glora/glora/autograd"
)

func TestDropoutIdentity(t *testing.T) {
	x := randVar(rand.New(rand.NewPCG(1, 1)), true, 1, 4, 5)
	tp := ag.NewTape()
	if y := Dropout(tp, x, 0, rand.New(rand.NewPCG(1, 2))); y != x {
		t.Fatal("p = 0: want x itself")
	}
	if y := Dropout(tp, x, 0.5, nil); y != x {
		t.Fatal("rng = nil: want x itself")
	}
	if y := DropPath(tp, x, 0, rand.New(rand.NewPCG(1, 2))); y != x {
		t.Fatal("droppath p = 0: want x itself")
	}
	if y := DropPath(tp, x, 0.5, nil); y != x {
		t.Fatal("droppath rng = nil: want x itself")
	}
	if Dropout(tp, x, 1.5, rand.New(rand.NewPCG(1, 2))); tp.Err() == nil {
		t.Fatal("p = 1.5 accepted")
	}
}

func TestDropout(t *testing.T) {
	const n, p = 100000, 0.3
	x := randVar(rand.New(rand.NewPCG(1, 1)), true, 1, 100, n/100)
	run := func(seed uint64) (*ag.Var, []float32) {
		x.ZeroGrad()
		tp := ag.NewTape()
		y := Dropout(tp, x, p, rand.New(rand.NewPCG(seed, 0)))
		r := make([]float32, n)
		for i := range r {
			r[i] = float32(i%7) - 3
		}
		if err := tp.Backward(weightedSum(tp, y, r)); err != nil {
			t.Fatal(err)
		}
		return y, append([]float32(nil), x.Grad.Data...)
	}
	y1, g1 := run(42)
	y2, _ := run(42)
	y3, _ := run(43)
	kept, differ := 0, 0
	for i, v := range y1.Value.Data {
		xv := x.Value.Data[i]
		if v != y2.Value.Data[i] {
			t.Fatalf("same seed, different masks at %d", i)
		}
		if v != y3.Value.Data[i] {
			differ++
		}
		r := float32(i%7) - 3
		switch {
		case v == 0:
			if g1[i] != 0 {
				t.Fatalf("dropped element %d has gradient %v", i, g1[i])
			}
		case math.Abs(float64(v-xv/(1-p))) <= 1e-6*math.Abs(float64(xv)):
			kept++
			if want := r / (1 - p); math.Abs(float64(g1[i]-want)) > 1e-5 {
				t.Fatalf("kept element %d: gradient %v, want %v", i, g1[i], want)
			}
		default:
			t.Fatalf("element %d: %v is neither 0 nor x/(1−p) = %v", i, v, xv/(1-p))
		}
	}
	rate := float64(kept) / n
	t.Logf("keep rate %.4f (want %.2f), %d elements differ with another seed", rate, 1-p, differ)
	if math.Abs(rate-(1-p)) > 0.01 {
		t.Fatalf("keep rate %.4f, want %.2f", rate, 1-p)
	}
	if differ == 0 {
		t.Fatal("different seeds gave the same mask")
	}
}

func TestDropPath(t *testing.T) {
	const b, p = 4000, 0.25
	x := randVar(rand.New(rand.NewPCG(2, 1)), true, 1, b, 3, 2)
	tp := ag.NewTape()
	y := DropPath(tp, x, p, rand.New(rand.NewPCG(7, 0)))
	r := make([]float32, x.Value.Numel())
	for i := range r {
		r[i] = 1
	}
	if err := tp.Backward(weightedSum(tp, y, r)); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for s := 0; s < b; s++ {
		ys, xs, gs := y.Value.Data[s*6:(s+1)*6], x.Value.Data[s*6:(s+1)*6], x.Grad.Data[s*6:(s+1)*6]
		dropped := ys[0] == 0 && xs[0] != 0
		if !dropped {
			kept++
		}
		for i := range ys {
			want, wantG := xs[i]/(1-p), float32(1/(1-p))
			if dropped {
				want, wantG = 0, 0
			}
			if math.Abs(float64(ys[i]-want)) > 1e-6 || math.Abs(float64(gs[i]-wantG)) > 1e-6 {
				t.Fatalf("sample %d elem %d: y %v grad %v, want %v and %v (whole sample kept or dropped)", s, i, ys[i], gs[i], want, wantG)
			}
		}
	}
	rate := float64(kept) / b
	t.Logf("sample keep rate %.4f (want %.2f)", rate, 1-p)
	if math.Abs(rate-(1-p)) > 0.03 {
		t.Fatalf("keep rate %.4f, want %.2f", rate, 1-p)
	}
}

func TestDropoutGrad(t *testing.T) {
	x := randVar(rand.New(rand.NewPCG(3, 1)), true, 1, 6, 5)
	// a fresh generator with a fixed seed in f gives every evaluation the same mask
	gradCheck(t, "dropout", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return Dropout(tp, in[0], 0.4, rand.New(rand.NewPCG(9, 9)))
	}, x)
	gradCheck(t, "droppath", func(tp *ag.Tape, in []*ag.Var) *ag.Var {
		return DropPath(tp, in[0], 0.4, rand.New(rand.NewPCG(9, 9)))
	}, x)
}

func TestDropPathShapeError(t *testing.T) {
	tp := ag.NewTape()
	DropPath(tp, randVar(rand.New(rand.NewPCG(1, 1)), true, 1), 0.5, rand.New(rand.NewPCG(1, 1)))
	wantShapeErr(t, "droppath scalar", tp)
}
