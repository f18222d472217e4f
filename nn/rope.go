package nn

import (
	"fmt"
	"math"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// RoPE applies rotary position embeddings in the LLaMA / Hugging Face
// convention (rotate_half: element i pairs with i + D/2). For position
// pos = offset + t and i < D/2, with θ_i = pos·base^(−2i/D):
//
//	y[i]       = x[i]·cos θ_i − x[i+D/2]·sin θ_i
//	y[i+D/2]   = x[i+D/2]·cos θ_i + x[i]·sin θ_i
//
//	x: (B, H, T, D), D even   →   y: (B, H, T, D)
//
// Backward (the inverse rotation): dx[i] += dy[i]·cos θ_i + dy[i+D/2]·sin θ_i,
// dx[i+D/2] += dy[i+D/2]·cos θ_i − dy[i]·sin θ_i.
func RoPE(tp *ag.Tape, x *ag.Var, base float32, offset int) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	xs := x.Value.Shape
	if len(xs) != 4 || xs[3]%2 != 0 {
		return tp.Fail(tensor.Errorf("rope", "want x (B, H, T, D) with D even", xs))
	}
	if !(base > 0) || offset < 0 {
		return tp.Fail(fmt.Errorf("nn: rope: base %v must be positive and offset %d non-negative", base, offset))
	}
	t, d := xs[2], xs[3]
	// cs: (T, D) = cos θ in [:D/2], sin θ in [D/2:] for each position
	cs := tp.AllocRaw(t, d).Data
	for ti := 0; ti < t; ti++ {
		ropeAngles(cs[ti*d:(ti+1)*d], float64(offset+ti), base)
	}
	return rope(tp, x, cs, func(r int) int { return r % t })
}

// RoPEAt is RoPE for one token per batch row, each at its own position:
//
//	x: (B, H, 1, D), D even; pos: B positions ≥ 0   →   y: (B, H, 1, D) rotated by pos[b]
//
// (a classifier's last token, whose position differs from row to row).
func RoPEAt(tp *ag.Tape, x *ag.Var, base float32, pos []int) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	xs := x.Value.Shape
	if len(xs) != 4 || xs[2] != 1 || xs[3]%2 != 0 || len(pos) != xs[0] {
		return tp.Fail(tensor.Errorf("rope", fmt.Sprintf("want x (B, H, 1, D) with D even and B = %d positions", len(pos)), xs))
	}
	if !(base > 0) {
		return tp.Fail(fmt.Errorf("nn: rope: base %v must be positive", base))
	}
	for b, p := range pos {
		if p < 0 {
			return tp.Fail(fmt.Errorf("nn: rope: position %d of row %d is negative", p, b))
		}
	}
	h, d := xs[1], xs[3]
	cs := tp.AllocRaw(len(pos), d).Data // (B, D): row b's angles
	for b, p := range pos {
		ropeAngles(cs[b*d:(b+1)*d], float64(p), base)
	}
	return rope(tp, x, cs, func(r int) int { return r / h })
}

// ropeAngles sets c[:D/2] to cos θ_i and c[D/2:] to sin θ_i at position pos.
func ropeAngles(c []float32, pos float64, base float32) {
	d := len(c)
	half := d / 2
	for i := 0; i < half; i++ {
		th := pos * math.Pow(float64(base), -2*float64(i)/float64(d))
		c[i], c[half+i] = float32(math.Cos(th)), float32(math.Sin(th))
	}
}

// rope rotates each D-float row r of x by the angles in row csRow(r) of
// cs, and records the inverse rotation for the backward pass.
func rope(tp *ag.Tape, x *ag.Var, cs []float32, csRow func(r int) int) *ag.Var {
	xs := x.Value.Shape
	d := xs[3]
	half := d / 2
	rows := xs[0] * xs[1] * xs[2]
	y := tp.NewOutputRaw(xs, x)
	xd, yd := x.Value.Data, y.Value.Data
	parallel.For(rows, grainRows(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			k := csRow(r) * d
			c := cs[k : k+d]
			xr, yr := xd[r*d:(r+1)*d], yd[r*d:(r+1)*d]
			for i := 0; i < half; i++ {
				co, si := c[i], c[half+i]
				a, b := xr[i], xr[half+i]
				yr[i] = a*co - b*si
				yr[half+i] = b*co + a*si
			}
		}
	})
	tp.Record(y, func() {
		g := tp.GradOf(x)
		if g == nil {
			return
		}
		dy := y.Grad.Data
		parallel.For(rows, grainRows(d), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				k := csRow(r) * d
				c := cs[k : k+d]
				dr, dx := dy[r*d:(r+1)*d], g.Data[r*d:(r+1)*d]
				for i := 0; i < half; i++ {
					co, si := c[i], c[half+i]
					a, b := dr[i], dr[half+i]
					dx[i] += a*co + b*si
					dx[half+i] += b*co - a*si
				}
			}
		})
	})
	return y
}
