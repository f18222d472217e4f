package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAdamWUpdate checks that every path gives the portable loop's floats
// bit for bit (NaN for NaN), on all tail lengths, with specials mixed into
// the gradient and moments, and writes nothing outside the four slices.
func TestAdamWUpdate(t *testing.T) {
	c := &AdamWCoef{Beta1: 0.9, OneMinusBeta1: 0.1, Beta2: 0.999, OneMinusBeta2: 0.001,
		InvBC2: 1 / float32(math.Sqrt(1-math.Pow(0.999, 7))), Eps: 1e-8, Decay: 1 - 3e-4*0.05, StepSize: float32(3e-4 / (1 - math.Pow(0.9, 7)))}
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for n := 0; n <= 70; n++ {
			var bufs [4][]float32
			var checks [4]func(*testing.T, string)
			for i := range bufs {
				bufs[i], checks[i] = vecBuf(rng, n)
				randInto(rng, bufs[i], -2, 2)
			}
			w, g, m, v := bufs[0], bufs[1], bufs[2], bufs[3]
			for i := range v {
				v[i] = float32(math.Abs(float64(v[i]))) * 1e-3
				if rng.IntN(5) == 0 {
					g[i] = specials[rng.IntN(len(specials))]
				}
				if rng.IntN(9) == 0 {
					m[i], v[i] = 0, 0
				}
			}
			ww, wg, wm, wv := slices.Clone(w), slices.Clone(g), slices.Clone(m), slices.Clone(v)
			adamwGeneric(ww, wg, wm, wv, c)
			AdamWUpdate(w, g, m, v, c)
			for i := range w {
				for _, p := range [][2]float32{{w[i], ww[i]}, {m[i], wm[i]}, {v[i], wv[i]}} {
					if math.Float32bits(p[0]) != math.Float32bits(p[1]) && !(p[0] != p[0] && p[1] != p[1]) {
						t.Fatalf("n=%d, i=%d (g=%v): got %v, the portable loop %v", n, i, wg[i], p[0], p[1])
					}
				}
			}
			for i, ch := range checks {
				ch(t, []string{"w", "g", "m", "v"}[i])
			}
		}
	})
}
