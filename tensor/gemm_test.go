package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"
)

// refGemm64 is the float64 reference: C = alpha·op(A)·op(B) + beta·C.
// It also returns, per element, Σ|alpha·a·b| + |beta·c| for the tolerance.
func refGemm64(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, mag []float64) {
	want = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var av, bv float64
				if transA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if transB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				sa += math.Abs(av * bv)
			}
			s *= float64(alpha)
			sa *= math.Abs(float64(alpha))
			if beta != 0 {
				cv := float64(c[i*ldc+j])
				s += float64(beta) * cv
				sa += math.Abs(float64(beta) * cv)
			}
			want[i*n+j], mag[i*n+j] = s, sa
		}
	}
	return want, mag
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	padA, padB     int // extra row stride beyond the minimum
	padC           int
	tailA          int // NaN rows past A's last (memory a driver may read but must not use)
	alpha, beta    float32
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d pads=%d/%d/%d tailA=%d alpha=%g beta=%g",
		g.transA, g.transB, g.m, g.n, g.k, g.padA, g.padB, g.padC, g.tailA, g.alpha, g.beta)
}

type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// checkGemm runs f on case g with random data and compares with refGemm64,
// including that C's padding columns are untouched and that beta == 0
// ignores NaNs in C.
func checkGemm(t *testing.T, name string, f gemmFunc, g gemmCase, rng *rand.Rand) {
	t.Helper()
	checkGemmRounded(t, name, f, g, rng, false)
}

// checkGemmRounded is checkGemm; with bf16 the reference multiplies the
// operands rounded to bfloat16 (what a bf16 GEMM must compute, up to
// float32 summation).
func checkGemmRounded(t *testing.T, name string, f gemmFunc, g gemmCase, rng *rand.Rand, bf16 bool) {
	t.Helper()
	ar, ac := g.m, g.k
	if g.transA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.transB {
		br, bc = g.n, g.k
	}
	lda, ldb, ldc := max(ac, 1)+g.padA, max(bc, 1)+g.padB, g.n+g.padC
	a := make([]float32, (ar+g.tailA)*lda)
	b := make([]float32, br*ldb)
	// C is followed by guard rows: a kernel storing a row past the last
	// one (an edge tile's row count) writes there.
	cAll := make([]float32, g.m*ldc+2*ldc+32)
	c := cAll[:g.m*ldc]
	for i := range a {
		a[i] = rng.Float32()*2 - 1
		if i >= ar*lda {
			a[i] = float32(math.NaN())
		}
	}
	for i := range b {
		b[i] = rng.Float32()*2 - 1
	}
	for i := range c {
		c[i] = rng.Float32()*2 - 1
		if g.beta == 0 && i%3 == 0 {
			c[i] = float32(math.NaN())
		}
	}
	const sentinel = 12345.5
	for i := 0; i < g.m; i++ {
		for j := g.n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	guard := cAll[len(c):]
	for i := range guard {
		guard[i] = sentinel
	}
	ra, rb := a, b
	if bf16 {
		ra, rb = make([]float32, len(a)), make([]float32, len(b))
		RoundBF16Slice(ra, a)
		RoundBF16Slice(rb, b)
	}
	want, mag := refGemm64(g.transA, g.transB, g.m, g.n, g.k, g.alpha, ra, lda, rb, ldb, g.beta, c, ldc)
	f(g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, c, ldc)
	for i, v := range guard {
		if v != sentinel {
			t.Fatalf("%s %v: %d floats past C's last row changed to %g", name, g, i, v)
		}
	}
	for i := 0; i < g.m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= g.n {
				if got != sentinel {
					t.Fatalf("%s %v: padding C[%d,%d] changed to %g", name, g, i, j, got)
				}
				continue
			}
			w, mg := want[i*g.n+j], mag[i*g.n+j]
			tol := 1e-6 + 4e-7*float64(g.k+2)*mg
			if d := math.Abs(float64(got) - w); !(d <= tol) {
				t.Fatalf("%s %v: C[%d,%d] = %g, want %g (tol %g)", name, g, i, j, got, w, tol)
			}
		}
	}
}

// gemmCases returns fixed edge cases plus random shapes.
func gemmCases(rng *rand.Rand, nRandom int, big bool) []gemmCase {
	var cs []gemmCase
	shapes := [][3]int{{1, 1, 1}, {1, 1, 0}, {3, 5, 0}, {2, 3, 4}, {14, 32, 16}, {15, 33, 17}, {13, 31, 15},
		{28, 64, 32}, {29, 65, 48}, {6, 16, 8}, {7, 17, 9}, {21, 8, 11}, {35, 7, 5}}
	if big {
		shapes = append(shapes, [3]int{40, 100, 400}, [3]int{30, 50, 777}, [3]int{197, 197, 64}, [3]int{197, 64, 197})
	}
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, s := range shapes {
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.7, 0.5}} {
					cs = append(cs, gemmCase{transA: tA, transB: tB, m: s[0], n: s[1], k: s[2], alpha: ab[0], beta: ab[1]})
				}
				cs = append(cs, gemmCase{transA: tA, transB: tB, m: s[0], n: s[1], k: s[2], alpha: 1, beta: 1, tailA: 16})
			}
		}
	}
	for i := 0; i < nRandom; i++ {
		g := gemmCase{
			transA: rng.IntN(2) == 0, transB: rng.IntN(2) == 0,
			m: 1 + rng.IntN(70), n: 1 + rng.IntN(90), k: rng.IntN(100),
			padA: rng.IntN(3) * rng.IntN(20), padB: rng.IntN(3) * rng.IntN(20), padC: rng.IntN(2) * rng.IntN(10),
			tailA: rng.IntN(2) * 16,
			alpha: []float32{1, 2, -0.5}[rng.IntN(3)], beta: []float32{0, 1, 0.5}[rng.IntN(3)],
		}
		cs = append(cs, g)
	}
	return cs
}

func TestSgemmDefault(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, g := range gemmCases(rng, 150, true) {
		checkGemm(t, "Sgemm("+SgemmKernel()+")", Sgemm, g, rng)
	}
}

// TestSgemmKernels forces every micro-kernel this CPU supports, and the
// portable path, through the blocked driver, also for tiny shapes and with
// each A-packing policy (plain A: never, always, by stride; transposed A:
// all panels of a k block at once, or one at a time).
func TestSgemmKernels(t *testing.T) {
	defer func(w, mode int, all bool) { gemmTinyWork, packPlainAMode, packTransAAll = w, mode, all }(gemmTinyWork, packPlainAMode, packTransAAll)
	gemmTinyWork = 0
	kernels := append([]*microKernel{nil}, availableKernels...)
	if runtime.GOARCH == "amd64" && len(availableKernels) == 0 {
		t.Log("no SIMD kernels available on this build/CPU; testing the portable path only")
	}
	for _, kern := range kernels {
		name := "purego"
		if kern != nil {
			name = kern.name
		}
		for mode := 0; mode < 3; mode++ {
			packPlainAMode = mode
			packTransAAll = mode != 0 // mode 0 also packs transposed A panel by panel (or reads it in place)
			rng := rand.New(rand.NewPCG(3, uint64(mode)))
			for _, par := range []bool{false, true} {
				big := mode == 2 && par
				f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
					sgemmNative(kern, par, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
				}
				for _, g := range gemmCases(rng, 40, big) {
					checkGemm(t, fmt.Sprintf("%s mode=%d par=%v", name, mode, par), f, g, rng)
				}
			}
			if kern == nil {
				break
			}
		}
	}
}

// TestSgemmLarge exercises k blocking (k > gemmKCMax), several n blocks and
// the parallel split on one mid-size product per transpose combination.
func TestSgemmLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			checkGemm(t, "Sgemm", Sgemm, gemmCase{transA: tA, transB: tB, m: 31, n: 1100, k: 800, padA: 3, padB: 5, padC: 2, alpha: 0.5, beta: 0.25}, rng)
			checkGemm(t, "Sgemm", Sgemm, gemmCase{transA: tA, transB: tB, m: 130, n: 40, k: 256, alpha: 1, beta: 0}, rng)
			// k ≫ m, n: the split-k path when more than one worker.
			checkGemm(t, "Sgemm", Sgemm, gemmCase{transA: tA, transB: tB, m: 40, n: 33, k: 1600, padA: 1, padC: 3, alpha: 1.5, beta: 0.5}, rng)
			checkGemm(t, "Sgemm", Sgemm, gemmCase{transA: tA, transB: tB, m: 29, n: 70, k: 1000, alpha: 1, beta: 0}, rng)
			// attention's shapes on the shipped backbone and ViT-Tiny: an edge
			// panel of 18 or 5 columns, k not a multiple of 16
			checkGemm(t, "Sgemm", Sgemm, gemmCase{transA: tA, transB: tB, m: 50, n: 50, k: 40, padB: 3, alpha: 0.17, beta: 0}, rng)
			checkGemm(t, "Sgemm", Sgemm, gemmCase{transA: tA, transB: tB, m: 197, n: 197, k: 64, padA: 1, alpha: 0.125, beta: 0.5}, rng)
		}
	}
}

func TestSgemmStridedBatched(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		batch, m, n, k int
		tA, tB         bool
	}{{5, 3, 4, 5, false, false}, {7, 20, 33, 17, false, true}, {9, 33, 20, 40, true, false}, {3, 64, 70, 50, true, true}, {4, 197, 197, 64, false, true}} {
		ar, ac := tc.m, tc.k
		if tc.tA {
			ar, ac = tc.k, tc.m
		}
		br, bc := tc.k, tc.n
		if tc.tB {
			br, bc = tc.n, tc.k
		}
		sa, sb, sc := ar*ac+3, br*bc+1, tc.m*tc.n+2
		a := make([]float32, tc.batch*sa)
		b := make([]float32, tc.batch*sb)
		c := make([]float32, tc.batch*sc)
		for i := range a {
			a[i] = rng.Float32() - 0.5
		}
		for i := range b {
			b[i] = rng.Float32() - 0.5
		}
		for i := range c {
			c[i] = rng.Float32() - 0.5
		}
		c0 := append([]float32(nil), c...)
		SgemmStridedBatched(tc.batch, tc.tA, tc.tB, tc.m, tc.n, tc.k, 1.5, a, ac, sa, b, bc, sb, 0.5, c, tc.n, sc)
		for i := 0; i < tc.batch; i++ {
			want, mag := refGemm64(tc.tA, tc.tB, tc.m, tc.n, tc.k, 1.5, a[i*sa:], ac, b[i*sb:], bc, 0.5, c0[i*sc:], tc.n)
			for e, w := range want {
				got := c[i*sc+e]
				if d := math.Abs(float64(got) - w); !(d <= 1e-6+4e-7*float64(tc.k+2)*mag[e]) {
					t.Fatalf("batch %+v item %d elem %d: got %g want %g", tc, i, e, got, w)
				}
			}
			for e := tc.m * tc.n; e < sc; e++ {
				if c[i*sc+e] != c0[i*sc+e] {
					t.Fatalf("batch %+v item %d: gap element %d changed", tc, i, e)
				}
			}
		}
	}
}

func TestSgemmKernelName(t *testing.T) {
	if SgemmKernel() == "" {
		t.Fatal("SgemmKernel() is empty")
	}
	t.Log("SGEMM kernel:", SgemmKernel())
}

// benchGemm times batch products of one shape (Sgemm for batch 1,
// SgemmStridedBatched otherwise) and reports GFLOP/s.
func benchGemm(b *testing.B, p Precision, batch int, transA, transB bool, m, n, k int) {
	ar, ac, br, bc := gemmOperandDims(transA, transB, m, n, k)
	rng := rand.New(rand.NewPCG(9, 10))
	a := make([]float32, batch*ar*ac)
	bb := make([]float32, batch*br*bc)
	c := make([]float32, batch*m*n)
	for i := range a {
		a[i] = rng.Float32()
	}
	for i := range bb {
		bb[i] = rng.Float32()
	}
	b.ResetTimer()
	for b.Loop() {
		if batch == 1 {
			p.Sgemm(transA, transB, m, n, k, 1, a, ac, bb, bc, 0, c, n)
		} else {
			p.SgemmStridedBatched(batch, transA, transB, m, n, k, 1, a, ac, ar*ac, bb, bc, br*bc, 0, c, n, m*n)
		}
	}
	b.ReportMetric(2*float64(batch)*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm1024 is the square 1024³ product (kernel: SgemmKernel()).
func BenchmarkSgemm1024(b *testing.B) {
	b.Logf("kernel %s", SgemmKernel())
	benchGemm(b, F32, 1, false, false, 1024, 1024, 1024)
}

// BenchmarkSgemmViT covers the ViT-Tiny (batch 32) linear layers:
// forward y = x·Wᵀ, backward dX = dY·W and dW = dYᵀ·X, M = 32·197 tokens.
func BenchmarkSgemmViT(b *testing.B) {
	const tok = 32 * 197
	for _, s := range []struct{ in, out int }{{192, 576}, {192, 192}, {192, 768}, {768, 192}} {
		b.Run(fmt.Sprintf("fwd_%dx%d", s.in, s.out), func(b *testing.B) { benchGemm(b, F32, 1, false, true, tok, s.out, s.in) })
		b.Run(fmt.Sprintf("dX_%dx%d", s.in, s.out), func(b *testing.B) { benchGemm(b, F32, 1, false, false, tok, s.in, s.out) })
		b.Run(fmt.Sprintf("dW_%dx%d", s.in, s.out), func(b *testing.B) { benchGemm(b, F32, 1, true, false, s.out, s.in, tok) })
	}
}

// BenchmarkSgemmAttention covers the batched per-head attention products of
// ViT-Tiny (batch 32 × 3 heads, 197 tokens, head dim 64).
func BenchmarkSgemmAttention(b *testing.B) {
	const batch, t, d = 96, 197, 64
	for _, s := range []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"QKt", false, true, t, t, d}, // S = Q·Kᵀ
		{"PV", false, false, t, d, t}, // O = P·V
		{"dP", false, true, t, t, d},  // dP = dO·Vᵀ
		{"dV", true, false, t, d, t},  // dV = Pᵀ·dO
		{"dQ", false, false, t, d, t}, // dQ = dS·K
		{"dK", true, false, t, d, t},  // dK = dSᵀ·Q
	} {
		b.Run(s.name, func(b *testing.B) { benchGemm(b, F32, batch, s.tA, s.tB, s.m, s.n, s.k) })
	}
}

// TestSgemmBadArgsPanic checks that impossible strides or short slices are
// rejected before any assembly touches memory.
func TestSgemmBadArgsPanic(t *testing.T) {
	buf := make([]float32, 64)
	for name, f := range map[string]func(){
		"short C":   func() { Sgemm(false, false, 4, 4, 4, 1, buf, 4, buf, 4, 0, buf[:10], 4) },
		"lda < k":   func() { Sgemm(false, false, 4, 4, 4, 1, buf, 3, buf, 4, 0, buf, 4) },
		"short B^T": func() { Sgemm(false, true, 4, 20, 4, 1, buf, 4, buf, 4, 0, make([]float32, 80), 20) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestSgemvRow: a one-row product (decoding) takes the unpacked path and
// agrees with the reference loop for every transposition, stride and beta.
func TestSgemvRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct{ n, k int }{{300, 200}, {33, 1000}, {4096, 64}} {
		for _, transA := range []bool{false, true} {
			for _, transB := range []bool{false, true} {
				for _, beta := range []float32{0, 1, 0.5} {
					n, k := tc.n, tc.k
					lda, ldb := k+3, n+5
					if transA {
						lda = 2
					}
					if transB {
						ldb = k + 7
					}
					a := make([]float32, k*lda+8)
					b := make([]float32, max(n, k)*ldb+8)
					for i := range a {
						a[i] = float32(rng.NormFloat64())
					}
					for i := range b {
						b[i] = float32(rng.NormFloat64())
					}
					c0 := make([]float32, n)
					for i := range c0 {
						c0[i] = float32(rng.NormFloat64())
					}
					got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
					Sgemm(transA, transB, 1, n, k, 0.7, a, lda, b, ldb, beta, got, n)
					sgemmRef(false, transA, transB, 1, n, k, 0.7, a, lda, b, ldb, beta, want, n)
					for j := range got {
						if d := math.Abs(float64(got[j] - want[j])); d > 1e-4*(1+math.Abs(float64(want[j]))) {
							t.Fatalf("n %d k %d transA %v transB %v beta %v: c[%d] = %v, want %v", n, k, transA, transB, beta, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
}

// TestSgemmBias checks that SgemmBias gives the floats of filling C with
// the bias and calling Sgemm with beta 1, bit for bit, on every kernel and
// precision: products the blocked driver takes (the bias filled item by
// item, also across k blocks and n blocks) and those it does not (one row,
// tiny, split k).
func TestSgemmBias(t *testing.T) {
	checkSgemmBias(t, rand.New(rand.NewPCG(9, 10)))
	// a nil bias is none: C = alpha·op(A)·op(B), C not read (NaN there stays out)
	a, b := []float32{1, 2, 3, 4}, []float32{5, 6, 7, 8}
	c := []float32{float32(math.NaN()), 0, 0, 0}
	want := make([]float32, 4)
	Sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, want, 2)
	F32.SgemmBias(false, false, 2, 2, 2, 1, a, 2, b, 2, nil, c, 2)
	if !slices.Equal(c, want) {
		t.Fatalf("SgemmBias with a nil bias = %v, want %v", c, want)
	}
}

func checkSgemmBias(t *testing.T, rng *rand.Rand) {
	t.Helper()
	blocked := map[*microKernel]int{}
	shapes := [][3]int{{1, 40, 30}, {3, 5, 2}, {14, 32, 16}, {29, 65, 48}, {197, 100, 64}, {40, 1100, 800}, {40, 33, 1600}, {300, 70, 20}}
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	kernels := append([]*microKernel{nil}, availableKernels...)
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				a, b, bias := fill(m*k), fill(k*n), fill(n+3)
				lda, ldb := k, n
				if tA {
					lda = m
				}
				if tB {
					ldb = k
				}
				ldc := n + 2
				for _, p := range []Precision{F32, BF16} {
					for _, alpha := range []float32{0.75, 1} { // 1: AMX accumulates onto C in its tiles
						want := fill(m * ldc)
						got := slices.Clone(want)
						for i := 0; i < m; i++ {
							copy(want[i*ldc:i*ldc+n], bias)
						}
						p.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, 1, want, ldc)
						p.SgemmBias(tA, tB, m, n, k, alpha, a, lda, b, ldb, bias, got, ldc)
						if !slices.Equal(got, want) {
							t.Fatalf("%v %dx%dx%d tA=%v tB=%v alpha=%v: SgemmBias differs from fill + Sgemm", p, m, n, k, tA, tB, alpha)
						}
					}
				}
				for _, kern := range kernels {
					for _, par := range []bool{false, true} {
						want := fill(m * ldc)
						got := slices.Clone(want)
						for i := 0; i < m; i++ {
							copy(want[i*ldc:i*ldc+n], bias)
						}
						sgemmNative(kern, par, tA, tB, m, n, k, 0.75, a, lda, b, ldb, 1, want, ldc)
						if !sgemmNativeBlocked(kern, par, tA, tB, m, n, k, 0.75, a, lda, b, ldb, 1, bias, colSplit{c: got, ldc: ldc}, nil) {
							continue
						}
						blocked[kern]++
						if !slices.Equal(got, want) {
							t.Fatalf("kernel %v par=%v %dx%dx%d tA=%v tB=%v: the kernel's bias store differs from fill + sgemmNative", kern != nil, par, m, n, k, tA, tB)
						}
					}
				}
			}
		}
	}
	for _, kern := range availableKernels {
		if kern.biasTile != nil && blocked[kern] == 0 {
			t.Fatalf("no product reached %s's bias store", kern.name)
		}
	}
}

// TestScratchPoolBySize checks that scratch slices come 64-byte aligned
// with the length asked for, and that a large buffer handed back is not
// given to a small request (it would be held by it, and the next large
// request would allocate again), while a request of its size class reuses it.
func TestScratchPoolBySize(t *testing.T) {
	var pool scratchPool[float32]
	for _, n := range []int{1, 100, 4096, 1 << 20} {
		s, h := alignedScratch(&pool, n)
		if len(s) != n || uintptr(unsafe.Pointer(&s[0]))%64 != 0 {
			t.Fatalf("n=%d: length %d, address %p", n, len(s), &s[0])
		}
		pool.put(h)
	}
	big, hb := alignedScratch(&pool, 1<<20)
	pool.put(hb)
	small, hs := alignedScratch(&pool, 100)
	if &small[0] == &big[0] || cap(*hs) >= 1<<20 {
		t.Fatal("a small request got the large buffer")
	}
	pool.put(hs)
	again, ha := alignedScratch(&pool, 1<<20-8) // the same class, no larger than the buffer
	if &again[0] != &big[0] {
		t.Fatal("a request of the large buffer's size class did not reuse it")
	}
	pool.put(ha)
	// The collector does not empty the pool (a sync.Pool would drop the
	// buffer here, and the next request would allocate and zero another).
	runtime.GC()
	runtime.GC()
	after, hg := alignedScratch(&pool, 1<<20)
	if &after[0] != &big[0] {
		t.Fatal("the large buffer did not survive two collections")
	}
	pool.put(hg)
}
