package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ColSums4's kernels are checked bit for bit against what the column
// reduction did before them: each group's terms built with Mul, Scale and
// Add ((t₀ + t₁) + (t₂ + t₃), then acc + that), group after group, for
// every set of accumulators, on every path, every column count from 0 to
// 70 (strips and their tails), one to three groups and a row stride wider
// than the rows; nothing outside the accumulators is written.
func TestColSums4(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(4, 4))
		for w := 0; w <= 70; w++ {
			groups := 1 + rng.IntN(3)
			ld := w + rng.IntN(5)
			rows := 4 * groups
			dy := make([]float32, rows*ld)
			y := make([]float32, rows*ld)
			sx := make([]float32, rows)
			for i := range dy {
				dy[i] = float32(rng.NormFloat64())
				y[i] = float32(rng.NormFloat64() * 100)
			}
			for i := range sx {
				sx[i] = float32(rng.NormFloat64() * 10)
			}
			sx[0] = 0.5
			row := func(m []float32, i int) []float32 { return m[i*ld : i*ld+w] }
			// want: the seven-call form, one accumulator at a time.
			want := func(kind int, acc []float32) []float32 {
				acc = append([]float32(nil), acc...)
				for q := range groups {
					term := func(i int) []float32 {
						d := make([]float32, w)
						r := 4*q + i
						switch kind {
						case 0:
							copy(d, row(dy, r))
						case 1:
							Mul(d, row(dy, r), row(y, r))
						case 2:
							copy(d, row(dy, r))
							Scale(sx[r], d)
						}
						return d
					}
					t0, t1 := make([]float32, w), make([]float32, w)
					Add(t0, term(0), term(1))
					Add(t1, term(2), term(3))
					Add(t0, t0, t1)
					Add(acc, acc, t0)
				}
				return acc
			}
			for mask := 1; mask <= 7; mask++ {
				var accs [3][]float32
				var checks [3]func(*testing.T, string)
				var wants [3][]float32
				for k := range 3 {
					if mask&(1<<k) == 0 {
						continue
					}
					accs[k], checks[k] = vecBuf(rng, w)
					for i := range accs[k] {
						accs[k][i] = float32(rng.NormFloat64())
					}
					wants[k] = want(k, accs[k])
				}
				yy, ss := y, sx
				if mask&2 == 0 {
					yy = nil
				}
				if mask&4 == 0 {
					ss = nil
				}
				ColSums4(accs[0], accs[1], accs[2], dy, yy, ss, groups, ld)
				for k := range 3 {
					if accs[k] == nil {
						continue
					}
					checks[k](t, "ColSums4")
					for j := range wants[k] {
						if math.Float32bits(accs[k][j]) != math.Float32bits(wants[k][j]) {
							t.Fatalf("mask %d, accumulator %d, w %d, %d groups, ld %d: column %d is %v, want %v", mask, k, w, groups, ld, j, accs[k][j], wants[k][j])
						}
					}
				}
			}
		}
	})
}

// ScaleShift is checked bit for bit against the calls it replaced (Mul,
// then Add, then Add of v scaled by x), with and without b and v, dst
// apart from a and on it, on every path and every length up to 70.
func TestScaleShift(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 5))
		for n := 0; n <= 70; n++ {
			a, s, b, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range n {
				a[i] = float32(rng.NormFloat64() * 10)
				s[i] = float32(1 + rng.NormFloat64())
				b[i] = float32(rng.NormFloat64())
				v[i] = float32(rng.NormFloat64())
			}
			x := float32(rng.NormFloat64() * 50)
			for kind := range 3 {
				want := make([]float32, n)
				Mul(want, a, s)
				bb, vv := b, v
				switch kind {
				case 0:
					bb, vv = nil, nil
				case 1:
					Add(want, want, b)
					vv = nil
				case 2:
					Add(want, want, b)
					p := append([]float32(nil), v...)
					Scale(x, p)
					Add(want, want, p)
				}
				for _, inPlace := range []bool{false, true} {
					dst, check := vecBuf(rng, n)
					src := a
					if inPlace {
						copy(dst, a)
						src = dst
					}
					ScaleShift(dst, src, s, bb, vv, x)
					check(t, "ScaleShift")
					for j := range want {
						if math.Float32bits(dst[j]) != math.Float32bits(want[j]) {
							t.Fatalf("kind %d, n %d, in place %v: element %d is %v, want %v", kind, n, inPlace, j, dst[j], want[j])
						}
					}
				}
			}
		}
	})
}

// BenchmarkColSums4 times the reduction of a ViT-Tiny qkv gradient
// (6304 × 576) on one core: the bias gradient alone (g) and with A
// vector's Σ dy⊙y0 (g+da).
func BenchmarkColSums4(b *testing.B) {
	const rows, w = 6304, 576
	dy := make([]float32, rows*w)
	y := make([]float32, rows*w)
	g, da := make([]float32, w), make([]float32, w)
	b.Run("g", func(b *testing.B) {
		b.SetBytes(rows * w * 4)
		for range b.N {
			ColSums4(g, nil, nil, dy, nil, nil, rows/4, w)
		}
	})
	b.Run("g+da", func(b *testing.B) {
		b.SetBytes(2 * rows * w * 4)
		for range b.N {
			ColSums4(g, da, nil, dy, y, nil, rows/4, w)
		}
	})
}
