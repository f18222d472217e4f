package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Tests compare every kernel, on the dispatching path (assembly where the CPU
// has it) and on the forced portable path, against float64 math on random
// lengths 0..300 (all tail sizes), random offsets, extreme values, and check
// that no element outside the slice is written.

var inf = math.Inf(1)

// vecPath is one implementation of the vector kernels: the portable Go
// reference, AVX2+FMA or AVX-512 assembly.
type vecPath struct {
	name         string
	avx2, avx512 bool
}

// vecPaths lists the paths this CPU can run, the portable one first.
func vecPaths() []vecPath {
	ps := []vecPath{{name: "generic"}}
	if haveAVX2 {
		ps = append(ps, vecPath{name: "avx2", avx2: true})
	}
	if haveAVX512 {
		ps = append(ps, vecPath{name: "avx512", avx2: haveAVX2, avx512: true})
	}
	return ps
}

// usePath selects path p and returns a function that restores the default.
func usePath(p vecPath) (restore func()) {
	old2, old512 := useAVX2, useAVX512
	useAVX2, useAVX512 = p.avx2, p.avx512
	return func() { useAVX2, useAVX512 = old2, old512 }
}

// forEachPath runs f once on each path the CPU supports: the portable path
// forced, AVX2 (with AVX-512 off) and AVX-512.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, p := range vecPaths() {
		restore := usePath(p)
		t.Run(p.name, f)
		restore()
	}
}

// vecBuf returns a length-n window at a random offset of a larger buffer
// whose other elements hold a sentinel, and a check that they still do.
func vecBuf(rng *rand.Rand, n int) ([]float32, func(t *testing.T, name string)) {
	off := rng.IntN(17)
	buf := make([]float32, off+n+17)
	const sentinel = -12345.5
	for i := range buf {
		buf[i] = sentinel
	}
	check := func(t *testing.T, name string) {
		t.Helper()
		for i, v := range buf {
			if (i < off || i >= off+n) && v != sentinel {
				t.Fatalf("%s n=%d: wrote outside the slice at %d (offset %d)", name, n, i, off)
			}
		}
	}
	return buf[off : off+n], check
}

func randInto(rng *rand.Rand, x []float32, lo, hi float64) {
	for i := range x {
		x[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

// specials are extreme inputs mixed into the random vectors.
var specials = []float32{0, float32(math.Copysign(0, -1)), 1, -1, 1e-40, -1e-40, 1e-20, -1e-20,
	3, -3, 5.5, -5.5, 10, -10, 20, -20, 87, -87, 88.7, 89, -103, -104, -110, 1e4, -1e4, 1e30, -1e30,
	float32(inf), float32(-inf), float32(math.NaN())}

// closeTo reports whether got matches want within abs + rel·|want|, with NaN
// matching NaN and infinities matching exactly.
func closeTo(got float32, want, abs, rel float64) bool {
	g := float64(got)
	switch {
	case math.IsNaN(want):
		return math.IsNaN(g)
	case math.IsInf(want, 0):
		return g == want
	}
	return math.Abs(g-want) <= abs+rel*math.Abs(want)
}

// accuracy accumulates the max abs error, the max rel error over |want| > 1e-30
// and the max rel error over |want| ≥ 1e-3 (outside far tails and subnormals).
type accuracy struct{ abs, rel, rel3 float64 }

func (a *accuracy) add(got float32, want float64) {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return
	}
	d := math.Abs(float64(got) - want)
	a.abs = max(a.abs, d)
	if math.Abs(want) > 1e-30 {
		a.rel = max(a.rel, d/math.Abs(want))
	}
	if math.Abs(want) >= 1e-3 {
		a.rel3 = max(a.rel3, d/math.Abs(want))
	}
}

type unaryCase struct {
	name     string
	f        func(dst, x []float32)
	ref      func(x float64) float64
	lo, hi   float64
	abs, rel float64
}

func gelu64(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
func geluTanh64(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(sqrt2OverPi*(x+0.044715*x*x*x)))
}
func silu64(x float64) float64 { return x / (1 + math.Exp(-x)) }

// deriv is a float64 central difference, used as the truth for backward kernels.
func deriv(f func(float64) float64, x float64) float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return math.NaN()
	}
	h := 1e-6 * max(1, math.Abs(x))
	return (f(x+h) - f(x-h)) / (2 * h)
}

var unaryCases = []unaryCase{
	{"Exp", Exp, math.Exp, -100, 90, 1e-37, 2e-6},
	{"GELU", GELU, gelu64, -12, 12, 1.2e-6, 4e-7},
	{"GELUTanh", GELUTanh, geluTanh64, -12, 12, 1e-6, 1e-6},
	{"SiLU", SiLU, silu64, -30, 30, 1e-6, 1e-6},
}

func TestUnaryKernels(t *testing.T) {
	for _, c := range unaryCases {
		t.Run(c.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				var acc accuracy
				for n := 0; n <= 300; n++ {
					x := make([]float32, n)
					randInto(rng, x, c.lo, c.hi)
					for i := range x {
						if rng.IntN(8) == 0 {
							x[i] = specials[rng.IntN(len(specials))]
						}
					}
					dst, check := vecBuf(rng, n)
					c.f(dst, x)
					check(t, c.name)
					for i, v := range x {
						want := c.ref(float64(v))
						if math.Abs(want) > math.MaxFloat32 && !math.IsInf(want, 0) {
							want = math.Copysign(inf, want) // overflows float32
						}
						if c.name == "Exp" && want < 1.2e-38 && want > 0 {
							// Subnormal results: absolute error only.
							if math.Abs(float64(dst[i])-want) > 2e-45 {
								t.Fatalf("%s(%g) = %g, want %g", c.name, v, dst[i], want)
							}
							continue
						}
						if math.IsNaN(want) && !(math.IsInf(float64(v), 0) || math.IsNaN(float64(v))) {
							continue // the float64 reference itself overflowed
						}
						if !closeTo(dst[i], want, c.abs, c.rel) {
							t.Fatalf("%s(%g) = %g, want %g (err %g)", c.name, v, dst[i], want, float64(dst[i])-want)
						}
						acc.add(dst[i], want)
					}
				}
				t.Logf("max abs err %.3g, max rel err %.3g (%.3g where |y| ≥ 1e-3)", acc.abs, acc.rel, acc.rel3)
			})
		})
	}
}

// TestExpSpecial checks the documented limits: e^−∞ = 0, e^+∞ = +Inf, NaN.
func TestExpSpecial(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		x := []float32{float32(-inf), float32(inf), float32(math.NaN()), -200, 200, 0}
		want := []float64{0, inf, math.NaN(), 0, inf, 1}
		dst := make([]float32, len(x))
		Exp(dst, x)
		for i := range x {
			if !closeTo(dst[i], want[i], 0, 0) {
				t.Errorf("Exp(%g) = %g, want %g", x[i], dst[i], want[i])
			}
		}
	})
}

type backwardCase struct {
	name     string
	f        func(dx, x, dy []float32)
	fwd      func(float64) float64
	lo, hi   float64
	abs, rel float64
}

var backwardCases = []backwardCase{
	{"GELUBackward", GELUBackward, gelu64, -12, 12, 2e-6, 2e-6},
	{"GELUTanhBackward", GELUTanhBackward, geluTanh64, -12, 12, 2e-6, 2e-6},
	{"SiLUBackward", SiLUBackward, silu64, -30, 30, 2e-6, 2e-6},
}

func TestBackwardKernels(t *testing.T) {
	for _, c := range backwardCases {
		t.Run(c.name, func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(3, 4))
				var acc accuracy
				for n := 0; n <= 300; n++ {
					x := make([]float32, n)
					dy := make([]float32, n)
					randInto(rng, x, c.lo, c.hi)
					randInto(rng, dy, -1, 1)
					for i := range x {
						if rng.IntN(8) == 0 {
							x[i] = specials[rng.IntN(len(specials))]
						}
					}
					dx, check := vecBuf(rng, n)
					randInto(rng, dx, -1, 1)
					dx0 := append([]float32(nil), dx...)
					c.f(dx, x, dy)
					check(t, c.name)
					for i, v := range x {
						xv := float64(v)
						if math.IsInf(xv, 0) || math.IsNaN(xv) || math.Abs(xv) > 1e3 {
							continue // the reference derivative is not meaningful there
						}
						// Tolerances scale with |dy|·(1 + |x|) for the derivative
						// (the finite difference itself is accurate to ~1e-9).
						want := float64(dx0[i]) + float64(dy[i])*deriv(c.fwd, xv)
						tol := c.abs * (1 + math.Abs(float64(dy[i]))*(1+math.Abs(xv)/8))
						if !closeTo(dx[i], want, tol, c.rel) {
							t.Fatalf("%s x=%g dy=%g dx0=%g: got %g, want %g", c.name, v, dy[i], dx0[i], dx[i], want)
						}
						acc.add(dx[i]-dx0[i], want-float64(dx0[i]))
					}
				}
				t.Logf("max abs err of the dx increment %.3g", acc.abs)
			})
		})
	}
}

func TestElementwise(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for n := 0; n <= 300; n++ {
			a := make([]float32, n)
			b := make([]float32, n)
			randInto(rng, a, -10, 10)
			randInto(rng, b, -10, 10)
			alpha := float32(rng.NormFloat64())

			dst, check := vecBuf(rng, n)
			Add(dst, a, b)
			check(t, "Add")
			for i := range a {
				if dst[i] != a[i]+b[i] {
					t.Fatalf("Add n=%d i=%d: %g, want %g", n, i, dst[i], a[i]+b[i])
				}
			}
			dst, check = vecBuf(rng, n)
			Mul(dst, a, b)
			check(t, "Mul")
			for i := range a {
				if dst[i] != a[i]*b[i] {
					t.Fatalf("Mul n=%d i=%d: %g, want %g", n, i, dst[i], a[i]*b[i])
				}
			}
			dst, check = vecBuf(rng, n)
			copy(dst, a)
			Scale(alpha, dst)
			check(t, "Scale")
			for i := range a {
				if dst[i] != alpha*a[i] {
					t.Fatalf("Scale n=%d i=%d: %g, want %g", n, i, dst[i], alpha*a[i])
				}
			}
			dst, check = vecBuf(rng, n)
			copy(dst, b)
			Axpy(alpha, a, dst)
			check(t, "Axpy")
			for i := range a {
				want := float64(b[i]) + float64(alpha)*float64(a[i])
				if !closeTo(dst[i], want, 1e-6*(math.Abs(float64(b[i]))+math.Abs(float64(alpha*a[i]))), 0) {
					t.Fatalf("Axpy n=%d i=%d: %g, want %g", n, i, dst[i], want)
				}
			}
			// In-place aliasing: dst = a.
			c := append([]float32(nil), a...)
			Add(c, c, b)
			for i := range a {
				if c[i] != a[i]+b[i] {
					t.Fatalf("Add aliased n=%d i=%d", n, i)
				}
			}
		}
	})
}

func TestReductions(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for n := 0; n <= 300; n++ {
			a := make([]float32, n)
			b := make([]float32, n)
			randInto(rng, a, -10, 10)
			randInto(rng, b, -10, 10)
			var dot, sum, mag, smag float64
			m := float32(math.Inf(-1))
			for i := range a {
				dot += float64(a[i]) * float64(b[i])
				mag += math.Abs(float64(a[i]) * float64(b[i]))
				sum += float64(a[i])
				smag += math.Abs(float64(a[i]))
				m = max(m, a[i])
			}
			if got := Dot(a, b); !closeTo(got, dot, 1e-6*mag, 0) {
				t.Fatalf("Dot n=%d: %g, want %g", n, got, dot)
			}
			if got := Sum(a); !closeTo(got, sum, 1e-6*smag, 0) {
				t.Fatalf("Sum n=%d: %g, want %g", n, got, sum)
			}
			if got := Max(a); got != m {
				t.Fatalf("Max n=%d: %g, want %g", n, got, m)
			}
			// NaNs are skipped by Max; an all-NaN slice gives −Inf.
			if n > 0 {
				a[rng.IntN(n)] = float32(math.NaN())
				want := float32(math.Inf(-1))
				for _, v := range a {
					if v > want {
						want = v
					}
				}
				if got := Max(a); got != want {
					t.Fatalf("Max with NaN n=%d: %g, want %g", n, got, want)
				}
				for i := range a {
					a[i] = float32(math.NaN())
				}
				if got := Max(a); !math.IsInf(float64(got), -1) {
					t.Fatalf("Max of NaNs n=%d: %g", n, got)
				}
			}
		}
	})
}

func softmax64(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(v))
	}
	y := make([]float64, len(x))
	var s float64
	for i, v := range x {
		y[i] = math.Exp(float64(v) - m)
		s += y[i]
	}
	for i := range y {
		y[i] /= s
	}
	return y
}

func TestSoftmaxRow(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		var acc accuracy
		for n := 0; n <= 300; n++ {
			for _, scale := range []float64{1, 30} {
				x, check := vecBuf(rng, n)
				for i := range x {
					x[i] = float32(scale * rng.NormFloat64())
					if i > 0 && rng.IntN(4) == 0 {
						x[i] = float32(-inf) // causal-mask style entries
					}
				}
				want := softmax64(x)
				SoftmaxRow(x)
				check(t, "SoftmaxRow")
				for i := range x {
					if !closeTo(x[i], want[i], 1e-7, 2e-6) {
						t.Fatalf("SoftmaxRow n=%d i=%d: %g, want %g", n, i, x[i], want[i])
					}
					acc.add(x[i], want[i])
				}
			}
		}
		t.Logf("max abs err %.3g, max rel err %.3g", acc.abs, acc.rel)
		// An all −Inf row has no defined softmax: NaN, as in the reference.
		x := []float32{float32(-inf), float32(-inf), float32(-inf)}
		SoftmaxRow(x)
		for _, v := range x {
			if !math.IsNaN(float64(v)) {
				t.Fatalf("all −Inf row: %v", x)
			}
		}
	})
}

// TestSoftmaxRowsMatchesSoftmaxRow checks that SoftmaxRows gives every row
// SoftmaxRow's floats bit for bit (the AVX-512 path interleaves four rows)
// and leaves the floats between rows alone.
func TestSoftmaxRowsMatchesSoftmaxRow(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range []int{1, 2, 15, 16, 17, 31, 32, 33, 50, 63, 64, 65, 100, 197} {
			for rows := 1; rows <= 9; rows++ {
				for _, gap := range []int{0, 3, 16} {
					ld := n + gap
					x := make([]float32, (rows-1)*ld+n+5)
					for i := range x {
						x[i] = float32(30 * rng.NormFloat64())
						switch rng.IntN(16) {
						case 0:
							x[i] = float32(-inf)
						case 1:
							x[i] = float32(math.NaN())
						case 2:
							x[i] = 200 // exp clamps
						}
					}
					want := append([]float32(nil), x...)
					for r := 0; r < rows; r++ {
						SoftmaxRow(want[r*ld : r*ld+n])
					}
					SoftmaxRows(x, rows, n, ld)
					for i := range x {
						if math.Float32bits(x[i]) != math.Float32bits(want[i]) {
							t.Fatalf("n=%d rows=%d ld=%d: x[%d] = %g, SoftmaxRow gives %g", n, rows, ld, i, x[i], want[i])
						}
					}
				}
			}
		}
	})
	defer func() {
		if recover() == nil {
			t.Fatal("SoftmaxRows past the end of x did not panic")
		}
	}()
	SoftmaxRows(make([]float32, 10), 2, 6, 6)
}

// TestSoftmaxGradRowsMatchesDotMulAxpy checks SoftmaxGradRows bit for bit
// against the three calls it documents, row by row (the AVX-512 path takes
// rows of fewer than 64 floats four at a time).
func TestSoftmaxGradRowsMatchesDotMulAxpy(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, n := range []int{1, 7, 16, 17, 32, 50, 63, 64, 65, 197} {
			for rows := 1; rows <= 9; rows++ {
				for _, gap := range []int{0, 5} {
					ld := n + gap
					d := make([]float32, (rows-1)*ld+n+3)
					p := make([]float32, len(d))
					randInto(rng, d, -3, 3)
					randInto(rng, p, 0, 1)
					for i := range d {
						if rng.IntN(10) == 0 {
							d[i] = float32(math.Copysign(0, float64(rng.IntN(2)*2-1))) // signed zeros
							p[i] = 0
						}
					}
					if rows > 1 { // a row with Σ d⊙p = +0: −dot must be −0, as Axpy(−dot) has it
						for i := ld; i < ld+n; i++ {
							d[i], p[i] = float32(math.Copysign(0, -1)), 0
						}
					}
					want := append([]float32(nil), d...)
					for r := range rows {
						row, pr := want[r*ld:r*ld+n], p[r*ld:r*ld+n]
						dot := Dot(row, pr)
						Mul(row, row, pr)
						Axpy(-dot, pr, row)
					}
					SoftmaxGradRows(d, p, rows, n, ld)
					for i := range d {
						if math.Float32bits(d[i]) != math.Float32bits(want[i]) {
							t.Fatalf("n=%d rows=%d ld=%d: d[%d] = %g, Dot/Mul/Axpy give %g", n, rows, ld, i, d[i], want[i])
						}
					}
				}
			}
		}
	})
}

func TestSoftmaxRowBackward(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for n := 0; n <= 300; n++ {
			x := make([]float32, n)
			dy := make([]float32, n)
			randInto(rng, x, -3, 3)
			randInto(rng, dy, -1, 1)
			y := append([]float32(nil), x...)
			SoftmaxRow(y)
			dx, check := vecBuf(rng, n)
			randInto(rng, dx, -1, 1)
			dx0 := append([]float32(nil), dx...)
			SoftmaxRowBackward(dx, y, dy)
			check(t, "SoftmaxRowBackward")
			var s float64
			for i := range y {
				s += float64(dy[i]) * float64(y[i])
			}
			for i := range y {
				want := float64(dx0[i]) + float64(y[i])*(float64(dy[i])-s)
				if !closeTo(dx[i], want, 1e-6, 1e-6) {
					t.Fatalf("n=%d i=%d: %g, want %g", n, i, dx[i], want)
				}
			}
		}
	})
}

// TestSoftmaxRowBackwardFD checks the documented gradient against central
// differences of L = Σ dy⊙softmax(x) (float64 softmax, so the check is tight).
func TestSoftmaxRowBackwardFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	n := 37
	x := make([]float32, n)
	dy := make([]float32, n)
	randInto(rng, x, -2, 2)
	randInto(rng, dy, -1, 1)
	y := append([]float32(nil), x...)
	SoftmaxRow(y)
	dx := make([]float32, n)
	SoftmaxRowBackward(dx, y, dy)
	loss := func(x []float32) float64 {
		var l float64
		for i, v := range softmax64(x) {
			l += float64(dy[i]) * v
		}
		return l
	}
	for i := range x {
		old := x[i]
		const h = 1e-2
		x[i] = old + h
		lp := loss(x)
		x[i] = old - h
		lm := loss(x)
		x[i] = old
		fd := (lp - lm) / (2 * h)
		if math.Abs(fd-float64(dx[i])) > 1e-4 {
			t.Fatalf("i=%d: analytic %g, finite difference %g", i, dx[i], fd)
		}
	}
}

func layerNorm64(x, w, b []float32, eps float32) (y []float64, mean, rstd float64) {
	n := float64(len(x))
	for _, v := range x {
		mean += float64(v)
	}
	mean /= n
	var vr float64
	for _, v := range x {
		vr += (float64(v) - mean) * (float64(v) - mean)
	}
	rstd = 1 / math.Sqrt(vr/n+float64(eps))
	y = make([]float64, len(x))
	for i, v := range x {
		y[i] = (float64(v) - mean) * rstd
		if w != nil {
			y[i] *= float64(w[i])
		}
		if b != nil {
			y[i] += float64(b[i])
		}
	}
	return y, mean, rstd
}

// TestLayerNormRowsMatchesLayerNormRow checks that LayerNormRows gives
// every row LayerNormRow's floats and statistics bit for bit (the AVX-512
// path takes the statistics of four rows at once), with and without w, b
// and stats, and in place.
func TestLayerNormRowsMatchesLayerNormRow(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		for _, n := range []int{1, 5, 16, 17, 31, 32, 33, 128, 192, 200} {
			for rows := 1; rows <= 9; rows++ {
				for _, affine := range []bool{false, true} {
					x := make([]float32, rows*n)
					for i := range x {
						x[i] = float32(3*rng.NormFloat64() + 1)
					}
					var w, b []float32
					if affine {
						w, b = make([]float32, n), make([]float32, n)
						randInto(rng, w, -2, 2)
						randInto(rng, b, -1, 1)
					}
					want := make([]float32, rows*n)
					wantStats := make([]float32, 2*rows)
					for r := range rows {
						wantStats[2*r], wantStats[2*r+1] = LayerNormRow(want[r*n:(r+1)*n], x[r*n:(r+1)*n], w, b, 1e-6)
					}
					y := make([]float32, rows*n)
					stats := make([]float32, 2*rows)
					LayerNormRows(y, x, rows, n, w, b, 1e-6, stats)
					same := func(what string, got, want []float32) {
						t.Helper()
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("n=%d rows=%d affine=%v: %s[%d] = %g, LayerNormRow gives %g", n, rows, affine, what, i, got[i], want[i])
							}
						}
					}
					same("y", y, want)
					same("stats", stats, wantStats)
					LayerNormRows(y, x, rows, n, w, b, 1e-6, nil)
					same("y without stats", y, want)
					LayerNormRows(x, x, rows, n, w, b, 1e-6, nil)
					same("y in place", x, want)
				}
			}
		}
	})
}

func TestLayerNormRow(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(15, 16))
		for n := 1; n <= 300; n++ {
			x := make([]float32, n)
			w := make([]float32, n)
			b := make([]float32, n)
			randInto(rng, x, -3, 5)
			randInto(rng, w, 0.5, 1.5)
			randInto(rng, b, -1, 1)
			for mode := range 4 {
				ww, bb := w, b
				if mode&1 != 0 {
					ww = nil
				}
				if mode&2 != 0 {
					bb = nil
				}
				y, check := vecBuf(rng, n)
				mean, rstd := LayerNormRow(y, x, ww, bb, 1e-5)
				check(t, "LayerNormRow")
				want, wm, wr := layerNorm64(x, ww, bb, 1e-5)
				if !closeTo(mean, wm, 1e-6, 1e-6) || !closeTo(rstd, wr, 0, 1e-5) {
					t.Fatalf("n=%d mode=%d: mean, rstd %g %g, want %g %g", n, mode, mean, rstd, wm, wr)
				}
				for i := range y {
					if !closeTo(y[i], want[i], 1e-5, 1e-5) {
						t.Fatalf("n=%d mode=%d i=%d: %g, want %g", n, mode, i, y[i], want[i])
					}
				}
			}
		}
	})
}

func TestLayerNormRowBackward(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		for n := 1; n <= 300; n++ {
			x := make([]float32, n)
			w := make([]float32, n)
			dy := make([]float32, n)
			randInto(rng, x, -3, 5)
			randInto(rng, w, 0.5, 1.5)
			randInto(rng, dy, -1, 1)
			for mode := range 16 {
				ww := w
				if mode&8 != 0 {
					ww = nil
				}
				_, mean64, rstd64 := layerNorm64(x, nil, nil, 1e-5)
				mean, rstd := float32(mean64), float32(rstd64)
				var sg, sgx float64
				xh := make([]float64, n)
				g := make([]float64, n)
				for i := range x {
					xh[i] = (float64(x[i]) - float64(mean)) * float64(rstd)
					g[i] = float64(dy[i])
					if ww != nil {
						g[i] *= float64(ww[i])
					}
					sg += g[i]
					sgx += g[i] * xh[i]
				}
				sg /= float64(n)
				sgx /= float64(n)
				bufs := make([][]float32, 3)
				inits := make([][]float32, 3)
				checks := make([]func(*testing.T, string), 3)
				for k := range bufs {
					if mode&(1<<k) != 0 {
						continue // nil output
					}
					bufs[k], checks[k] = vecBuf(rng, n)
					randInto(rng, bufs[k], -1, 1)
					inits[k] = append([]float32(nil), bufs[k]...)
				}
				LayerNormRowBackward(bufs[0], bufs[1], bufs[2], dy, x, ww, mean, rstd)
				for k := range bufs {
					if bufs[k] == nil {
						continue
					}
					checks[k](t, "LayerNormRowBackward")
					for i := range x {
						var want float64
						switch k {
						case 0:
							want = float64(rstd) * (g[i] - sg - xh[i]*sgx)
						case 1:
							want = float64(dy[i]) * xh[i]
						case 2:
							want = float64(dy[i])
						}
						want += float64(inits[k][i])
						if !closeTo(bufs[k][i], want, 2e-5, 1e-5) {
							t.Fatalf("n=%d mode=%d out=%d i=%d: %g, want %g", n, mode, k, i, bufs[k][i], want)
						}
					}
				}
			}
		}
	})
}

// TestLayerNormRowBackwardFD checks dx, dw, db against central differences of
// L = Σ dy⊙LayerNormRow(x, w, b) computed in float64.
func TestLayerNormRowBackwardFD(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	n := 23
	x, w, b, dy := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	randInto(rng, x, -2, 2)
	randInto(rng, w, 0.5, 1.5)
	randInto(rng, b, -1, 1)
	randInto(rng, dy, -1, 1)
	y := make([]float32, n)
	mean, rstd := LayerNormRow(y, x, w, b, 1e-5)
	dx, dw, db := make([]float32, n), make([]float32, n), make([]float32, n)
	LayerNormRowBackward(dx, dw, db, dy, x, w, mean, rstd)
	loss := func() float64 {
		y, _, _ := layerNorm64(x, w, b, 1e-5)
		var l float64
		for i := range y {
			l += float64(dy[i]) * y[i]
		}
		return l
	}
	for _, p := range []struct {
		name string
		v, g []float32
	}{{"x", x, dx}, {"w", w, dw}, {"b", b, db}} {
		for i := range p.v {
			old := p.v[i]
			const h = 1e-2
			p.v[i] = old + h
			lp := loss()
			p.v[i] = old - h
			lm := loss()
			p.v[i] = old
			fd := (lp - lm) / (2 * h)
			if math.Abs(fd-float64(p.g[i])) > 2e-3*(1+math.Abs(fd)) {
				t.Fatalf("d%s[%d]: analytic %g, finite difference %g", p.name, i, p.g[i], fd)
			}
		}
	}
}

// Benchmarks: ns/element on the portable and the assembly path, per size.

var benchSizes = []int{197, 768, 4096, 1 << 16}

func benchVec(b *testing.B, run func(n int) func()) {
	for _, n := range benchSizes {
		for _, p := range vecPaths() {
			b.Run(fmt.Sprintf("n=%d/%s", n, p.name), func(b *testing.B) {
				defer usePath(p)()
				f := run(n)
				b.ResetTimer()
				for range b.N {
					f()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
			})
		}
	}
}

func benchInputs(n int) (x, y, z []float32) {
	rng := rand.New(rand.NewPCG(21, 22))
	x, y, z = make([]float32, n), make([]float32, n), make([]float32, n)
	randInto(rng, x, -4, 4)
	randInto(rng, y, -1, 1)
	randInto(rng, z, -1, 1)
	return
}

var sinkF32 float32

func BenchmarkAxpy(b *testing.B) {
	benchVec(b, func(n int) func() { x, y, _ := benchInputs(n); return func() { Axpy(1e-3, x, y) } })
}
func BenchmarkScale(b *testing.B) {
	benchVec(b, func(n int) func() { x, _, _ := benchInputs(n); return func() { Scale(1, x) } })
}
func BenchmarkAdd(b *testing.B) {
	benchVec(b, func(n int) func() { x, y, z := benchInputs(n); return func() { Add(z, x, y) } })
}
func BenchmarkMul(b *testing.B) {
	benchVec(b, func(n int) func() { x, y, z := benchInputs(n); return func() { Mul(z, x, y) } })
}
func BenchmarkDot(b *testing.B) {
	benchVec(b, func(n int) func() { x, y, _ := benchInputs(n); return func() { sinkF32 = Dot(x, y) } })
}
func BenchmarkSum(b *testing.B) {
	benchVec(b, func(n int) func() { x, _, _ := benchInputs(n); return func() { sinkF32 = Sum(x) } })
}
func BenchmarkMax(b *testing.B) {
	benchVec(b, func(n int) func() { x, _, _ := benchInputs(n); return func() { sinkF32 = Max(x) } })
}
func BenchmarkExp(b *testing.B) {
	benchVec(b, func(n int) func() { x, _, z := benchInputs(n); return func() { Exp(z, x) } })
}
func BenchmarkSoftmaxRow(b *testing.B) {
	benchVec(b, func(n int) func() {
		x, _, z := benchInputs(n)
		return func() { copy(z, x); SoftmaxRow(z) }
	})
}

// benchRowKernel times a kernel over 8 rows of n floats (rows: the Rows
// form, which takes several at once) against the same kernel called a row
// at a time (one), for each n: ns/row, both copying the rows in first.
func benchRowKernel(b *testing.B, sizes []int, oneName, rowsName string, one func(z, x, y []float32, n int), rows func(z, x, y []float32, n int)) {
	for _, n := range sizes {
		for _, k := range []struct {
			name string
			run  func(z, x, y []float32, n int)
		}{{oneName, func(z, x, y []float32, n int) {
			for r := range 8 {
				one(z[r*n:(r+1)*n], x[r*n:(r+1)*n], y[r*n:(r+1)*n], n)
			}
		}}, {rowsName, rows}} {
			b.Run(fmt.Sprintf("n=%d/%s", n, k.name), func(b *testing.B) {
				x, y, z := benchInputs(8 * n)
				for range b.N {
					copy(z, x)
					k.run(z, x, y, n)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/8, "ns/row")
			})
		}
	}
}

// BenchmarkSoftmaxRows: SoftmaxRows against SoftmaxRow a row at a time.
func BenchmarkSoftmaxRows(b *testing.B) {
	benchRowKernel(b, []int{50, 197, 768}, "SoftmaxRow", "SoftmaxRows",
		func(z, _, _ []float32, _ int) { SoftmaxRow(z) },
		func(z, _, _ []float32, n int) { SoftmaxRows(z, 8, n, n) })
}

// BenchmarkSoftmaxGradRows: SoftmaxGradRows against its Dot, Mul and Axpy
// a row at a time.
func BenchmarkSoftmaxGradRows(b *testing.B) {
	benchRowKernel(b, []int{50, 197}, "Dot-Mul-Axpy", "SoftmaxGradRows",
		func(z, _, y []float32, _ int) { softmaxGradRow(z, y) },
		func(z, _, y []float32, n int) { SoftmaxGradRows(z, y, 8, n, n) })
}

// BenchmarkLayerNormRows: LayerNormRows against LayerNormRow a row at a
// time (y = LayerNorm(z), weights 1, no bias).
func BenchmarkLayerNormRows(b *testing.B) {
	benchRowKernel(b, []int{128, 192, 768}, "LayerNormRow", "LayerNormRows",
		func(z, _, y []float32, _ int) { LayerNormRow(y, z, nil, nil, 1e-6) },
		func(z, _, y []float32, n int) { LayerNormRows(y, z, 8, n, nil, nil, 1e-6, nil) })
}

func BenchmarkSoftmaxRowBackward(b *testing.B) {
	benchVec(b, func(n int) func() {
		x, y, z := benchInputs(n)
		return func() { SoftmaxRowBackward(z, x, y) }
	})
}
func BenchmarkGELU(b *testing.B) {
	benchVec(b, func(n int) func() { x, _, z := benchInputs(n); return func() { GELU(z, x) } })
}
func BenchmarkGELUBackward(b *testing.B) {
	benchVec(b, func(n int) func() { x, y, z := benchInputs(n); return func() { GELUBackward(z, x, y) } })
}
func BenchmarkGELUTanh(b *testing.B) {
	benchVec(b, func(n int) func() { x, _, z := benchInputs(n); return func() { GELUTanh(z, x) } })
}
func BenchmarkGELUTanhBackward(b *testing.B) {
	benchVec(b, func(n int) func() { x, y, z := benchInputs(n); return func() { GELUTanhBackward(z, x, y) } })
}
func BenchmarkSiLU(b *testing.B) {
	benchVec(b, func(n int) func() { x, _, z := benchInputs(n); return func() { SiLU(z, x) } })
}
func BenchmarkSiLUBackward(b *testing.B) {
	benchVec(b, func(n int) func() { x, y, z := benchInputs(n); return func() { SiLUBackward(z, x, y) } })
}
func BenchmarkLayerNormRow(b *testing.B) {
	benchVec(b, func(n int) func() {
		x, w, z := benchInputs(n)
		bias := make([]float32, n)
		return func() { LayerNormRow(z, x, w, bias, 1e-5) }
	})
}

func BenchmarkLayerNormRowBackward(b *testing.B) {
	benchVec(b, func(n int) func() {
		x, dy, w := benchInputs(n)
		dx, dw, db := make([]float32, n), make([]float32, n), make([]float32, n)
		return func() { LayerNormRowBackward(dx, dw, db, dy, x, w, 0.1, 1.2) }
	})
}

// ulps is the distance between two float32 values in units in the last place
// (0 for equal values, including ±0; large across a sign change).
func ulps(a, b float32) int64 {
	key := func(v float32) int64 {
		u := int64(math.Float32bits(v))
		if u&(1<<31) != 0 {
			u = (1 << 31) - u
		}
		return u
	}
	d := key(a) - key(b)
	if d < 0 {
		d = -d
	}
	return d
}

// agreeVals are the inputs of TestPathsAgree: random values, every special
// value and large magnitudes.
func agreeVals(rng *rand.Rand, n int, lo, hi float64, big bool) []float32 {
	x := make([]float32, n)
	randInto(rng, x, lo, hi)
	for i := range x {
		if rng.IntN(4) == 0 {
			x[i] = specials[rng.IntN(len(specials))]
			if !big && math.Abs(float64(x[i])) > 1e4 && !math.IsInf(float64(x[i]), 0) {
				x[i] = float32(math.Copysign(1e4, float64(x[i])))
			}
		}
	}
	return x
}

// sameClass reports whether got and want are both NaN, the same infinity, or
// both finite.
func sameClass(got, want float32) bool {
	g, w := float64(got), float64(want)
	switch {
	case math.IsNaN(w) || math.IsNaN(g):
		return math.IsNaN(w) && math.IsNaN(g)
	case math.IsInf(w, 0) || math.IsInf(g, 0):
		return g == w
	}
	return true
}

// TestPathsAgree runs every assembly path (AVX2, AVX-512) against the
// portable path on the same inputs: all tail lengths 0..17 and a few longer
// rows, random values with ±0, subnormals, ±Inf, NaN and large |x| mixed in.
// NaN and Inf must appear in the same places; finite results must agree within
// twice the tolerance each path has against float64 math.
func TestPathsAgree(t *testing.T) {
	ps := vecPaths()
	lens := []int{31, 32, 33, 63, 64, 65, 197, 768}
	for n := 0; n <= 17; n++ {
		lens = append(lens, n)
	}
	for _, p := range ps[1:] {
		t.Run(p.name, func(t *testing.T) {
			run := func(q vecPath, f func()) {
				defer usePath(q)()
				f()
			}
			generic := ps[0]
			for _, c := range unaryCases {
				rng := rand.New(rand.NewPCG(23, 24))
				var maxAbs float64
				var maxUlp int64
				for _, n := range lens {
					x := agreeVals(rng, n, c.lo, c.hi, true)
					want, got := make([]float32, n), make([]float32, n)
					run(generic, func() { c.f(want, x) })
					run(p, func() { c.f(got, x) })
					for i := range x {
						if !sameClass(got[i], want[i]) || !closeTo(got[i], float64(want[i]), 2*c.abs, 2*c.rel) {
							t.Fatalf("%s n=%d x=%g: %s %g, generic %g", c.name, n, x[i], p.name, got[i], want[i])
						}
						if d := math.Abs(float64(got[i]) - float64(want[i])); d < inf && d == d {
							maxAbs = max(maxAbs, d)
							if math.Abs(float64(want[i])) >= 1e-3 {
								maxUlp = max(maxUlp, ulps(got[i], want[i]))
							}
						}
					}
				}
				t.Logf("%-16s max |%s − generic| %.3g, %d ulp where |y| ≥ 1e-3", c.name, p.name, maxAbs, maxUlp)
			}
			for _, c := range backwardCases {
				rng := rand.New(rand.NewPCG(25, 26))
				var maxAbs float64
				for _, n := range lens {
					// |x| ≤ 1e4: past ≈ 1e19 x² overflows float32 in the
					// assembly (as on AVX-512) and the derivative is NaN.
					x := agreeVals(rng, n, c.lo, c.hi, false)
					dy := make([]float32, n)
					randInto(rng, dy, -1, 1)
					dx0 := make([]float32, n)
					randInto(rng, dx0, -1, 1)
					want, got := append([]float32(nil), dx0...), append([]float32(nil), dx0...)
					run(generic, func() { c.f(want, x, dy) })
					run(p, func() { c.f(got, x, dy) })
					for i := range x {
						tol := 2 * c.abs * (1 + math.Abs(float64(dy[i]))*(1+math.Abs(float64(x[i]))/8))
						if !sameClass(got[i], want[i]) || !closeTo(got[i], float64(want[i]), tol, 2*c.rel) {
							t.Fatalf("%s n=%d x=%g dy=%g: %s %g, generic %g", c.name, n, x[i], dy[i], p.name, got[i], want[i])
						}
						if d := math.Abs(float64(got[i]) - float64(want[i])); d < inf && d == d {
							maxAbs = max(maxAbs, d)
						}
					}
				}
				t.Logf("%-16s max |%s − generic| %.3g", c.name, p.name, maxAbs)
			}
			rng := rand.New(rand.NewPCG(27, 28))
			var maxAbs float64
			for _, n := range lens {
				for _, special := range []float32{0, float32(-inf), float32(inf), float32(math.NaN())} {
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(8 * rng.NormFloat64())
						if special != 0 && rng.IntN(8) == 0 {
							x[i] = special
						}
					}
					want, got := append([]float32(nil), x...), append([]float32(nil), x...)
					run(generic, func() { SoftmaxRow(want) })
					run(p, func() { SoftmaxRow(got) })
					for i := range x {
						if !sameClass(got[i], want[i]) || !closeTo(got[i], float64(want[i]), 2e-7, 4e-6) {
							t.Fatalf("SoftmaxRow n=%d i=%d x=%v: %s %g, generic %g", n, i, x, p.name, got[i], want[i])
						}
						if d := math.Abs(float64(got[i]) - float64(want[i])); d < inf && d == d {
							maxAbs = max(maxAbs, d)
						}
					}
				}
			}
			t.Logf("%-16s max |%s − generic| %.3g", "SoftmaxRow", p.name, maxAbs)
		})
	}
}

// TestScalarApprox checks the portable float32 exp32 and erf32 (used by the
// generic GELU) against float64 math, including subnormal
// results, ±Inf and NaN.
func TestScalarApprox(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	var eAcc, fAcc accuracy
	for i := range 200000 {
		x := float32(-110 + 200*rng.Float64())
		if i < len(specials) {
			x = specials[i]
		}
		want := math.Exp(float64(x))
		if want > math.MaxFloat32 {
			want = inf
		}
		got := exp32(x)
		ok := closeTo(got, want, 0, 2e-6)
		if want < 1.2e-38 {
			ok = math.Abs(float64(got)-want) <= 2e-45 // subnormal: absolute error
		}
		if !ok {
			t.Fatalf("exp32(%g) = %g, want %g", x, got, want)
		}
		eAcc.add(got, want)
		u := float32(-6 + 12*rng.Float64())
		if i < len(specials) {
			u = specials[i]
		}
		fw := math.Erf(float64(u))
		if g := erf32(u); !closeTo(g, fw, 6e-7, 0) {
			t.Fatalf("erf32(%g) = %g, want %g", u, g, fw)
		} else {
			fAcc.add(g, fw)
		}
	}
	t.Logf("exp32: max rel err %.3g; erf32: max abs err %.3g", eAcc.rel3, fAcc.abs)
}
