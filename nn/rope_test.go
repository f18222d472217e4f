package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// naiveRoPE follows Hugging Face's apply_rotary_pos_emb: with
// inv_freq_i = base^(−2i/D), freqs = pos·inv_freq, emb = cat(freqs, freqs),
// y = x·cos(emb) + rotate_half(x)·sin(emb), rotate_half(x) = cat(−x2, x1).
func naiveRoPE(x []float32, b, h, t, d int, base float64, offset int) []float64 {
	out := make([]float64, len(x))
	half := d / 2
	for r := 0; r < b*h*t; r++ {
		pos := float64(offset + r%t)
		for e := 0; e < d; e++ {
			theta := pos / math.Pow(base, float64(2*(e%half))/float64(d))
			var rot float64
			if e < half {
				rot = -float64(x[r*d+e+half])
			} else {
				rot = float64(x[r*d+e-half])
			}
			out[r*d+e] = float64(x[r*d+e])*math.Cos(theta) + rot*math.Sin(theta)
		}
	}
	return out
}

func TestRoPE(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 7))
	x := randVar(rng, true, 1, 2, 3, 5, 8)
	for _, offset := range []int{0, 17} {
		tp := ag.NewTape()
		y := RoPE(tp, x, 10000, offset)
		checkClose(t, "rope", y.Value.Data, naiveRoPE(x.Value.Data, 2, 3, 5, 8, 10000, offset), 1e-5, 1e-4)
		gradCheck(t, "rope", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return RoPE(tp, in[0], 100, offset) }, x)
	}
	// position 0 is the identity
	x0 := randVar(rng, false, 1, 1, 1, 1, 6)
	tp := ag.NewTape()
	checkClose(t, "rope position 0", RoPE(tp, x0, 10000, 0).Value.Data, toF64(x0.Value.Data), 0, 0)
	tp = ag.NewTape()
	RoPE(tp, randVar(rng, true, 1, 1, 2, 3, 5), 10000, 0)
	wantShapeErr(t, "odd D", tp)
	tp = ag.NewTape()
	RoPE(tp, randVar(rng, true, 1, 2, 3, 4), 10000, 0)
	wantShapeErr(t, "rank", tp)
}

// RoPEAt rotates row b by pos[b]: the floats of RoPE at that position,
// and its gradient passes a finite-difference check.
func TestRoPEAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 7))
	const b, h, d = 3, 2, 8
	pos := []int{0, 5, 130}
	x := randVar(rng, true, 1, b, h, 1, d)
	tp := ag.NewTape()
	y := RoPEAt(tp, x, 10000, pos)
	if tp.Err() != nil {
		t.Fatal(tp.Err())
	}
	for bi, p := range pos {
		row := x.Value.Data[bi*h*d : (bi+1)*h*d]
		want := RoPE(tp, ag.NewVar(&tensor.Tensor{Shape: []int{1, h, 1, d}, Data: row}, false), 10000, p)
		for i, w := range want.Value.Data {
			if got := y.Value.Data[bi*h*d+i]; got != w {
				t.Fatalf("row %d: element %d = %g, RoPE at position %d gives %g", bi, i, got, p, w)
			}
		}
	}
	gradCheck(t, "rope at", func(tp *ag.Tape, in []*ag.Var) *ag.Var { return RoPEAt(tp, in[0], 100, pos) }, x)
	for _, bad := range [][]int{{0, 1}, {0, -1, 2}} {
		tp := ag.NewTape()
		if RoPEAt(tp, x, 10000, bad); tp.Err() == nil {
			t.Fatalf("positions %v accepted", bad)
		}
	}
}
