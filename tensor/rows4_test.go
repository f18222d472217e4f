package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The four-row kernels are checked bit for bit against the generic loops,
// which are checked against what the column reduction did before them: the
// terms built with Mul/Scale and summed with Add ((t₀ + t₁) + (t₂ + t₃),
// then acc + that), on every path, every tail length and a row stride
// wider than the row.
func TestRows4(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(4, 4))
		for n := 0; n <= 70; n++ {
			ld := n + rng.IntN(5)
			a := make([]float32, 3*ld+n)
			b := make([]float32, 3*ld+n)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
				b[i] = float32(rng.NormFloat64() * 100)
			}
			s := [4]float32{0.5, -3.25, float32(rng.NormFloat64()), 1e-3}
			row := func(m []float32, i int) []float32 { return m[i*ld : i*ld+n] }
			// want: the seven-call form.
			term := func(kind, i int) []float32 {
				d := make([]float32, n)
				switch kind {
				case rows4Sum:
					copy(d, row(a, i))
				case rows4Mul:
					Mul(d, row(a, i), row(b, i))
				case rows4Scale:
					copy(d, row(a, i))
					Scale(s[i], d)
				}
				return d
			}
			for kind := rows4Sum; kind <= rows4Scale; kind++ {
				acc := make([]float32, n)
				for i := range acc {
					acc[i] = float32(rng.NormFloat64())
				}
				want := append([]float32(nil), acc...)
				t0, t1 := make([]float32, n), make([]float32, n)
				Add(t0, term(kind, 0), term(kind, 1))
				Add(t1, term(kind, 2), term(kind, 3))
				Add(t0, t0, t1)
				Add(want, want, t0)
				buf, check := vecBuf(rng, n)
				copy(buf, acc)
				switch kind {
				case rows4Sum:
					SumRows4(buf, a, ld)
				case rows4Mul:
					MulRows4(buf, a, b, ld)
				case rows4Scale:
					ScaleRows4(buf, a, ld, &s)
				}
				check(t, "rows4")
				for j := range want {
					if math.Float32bits(buf[j]) != math.Float32bits(want[j]) {
						t.Fatalf("kind %d, n %d, ld %d: element %d is %v, want %v", kind, n, ld, j, buf[j], want[j])
					}
				}
			}
		}
	})
}

func BenchmarkRows4(b *testing.B) {
	const n, ld, rows = 128, 384, 1600
	a := make([]float32, rows*ld)
	y := make([]float32, rows*ld)
	acc := make([]float32, n)
	b.Run("sum", func(b *testing.B) {
		for range b.N {
			for r := 0; r+4 <= rows; r += 4 {
				SumRows4(acc, a[r*ld:], ld)
			}
		}
	})
	b.Run("mul", func(b *testing.B) {
		for range b.N {
			for r := 0; r+4 <= rows; r += 4 {
				MulRows4(acc, a[r*ld:], y[r*ld:], ld)
			}
		}
	})
}
