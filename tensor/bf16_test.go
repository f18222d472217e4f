package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBF16RoundingToNearestEven(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // 1 + half an ulp: tie, to even (down)
		{0x3f818000, 0x3f82}, // tie with an odd last bit: up
		{0x3f808001, 0x3f81}, // just above the tie: up
		{0x3f807fff, 0x3f80}, // just below: down
		{0x80000000, 0x8000}, // -0
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7f7fffff, 0x7f80}, // the largest float32 rounds past the largest bfloat16: +Inf
		{0x00000001, 0x0000}, // the smallest subnormal rounds to 0
		{0x7f800001, 0x7fc0}, // a signalling NaN stays a NaN (quiet), never Inf
		{0xffc00000, 0xffc0}, // a quiet NaN keeps its sign
	} {
		x := math.Float32frombits(c.in)
		if got := BF16Bits(x); got != c.want {
			t.Errorf("BF16Bits(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
		dst := []float32{0}
		RoundBF16Slice(dst, []float32{x})
		if got := math.Float32bits(dst[0]); got != uint32(c.want)<<16 {
			t.Errorf("RoundBF16Slice(%#08x) = %#08x, want %#08x", c.in, got, uint32(c.want)<<16)
		}
	}
	// The relative error of rounding is at most 2⁻⁸, the unit roundoff of
	// bfloat16's 8 significant bits (a normal value; subnormals aside).
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		x := float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()*10))
		if math.Abs(float64(x)) < 1e-37 {
			continue
		}
		if r := RoundBF16(x); math.Abs(float64(r-x)) > math.Abs(float64(x))/256 {
			t.Fatalf("RoundBF16(%g) = %g: error above 2⁻⁸ relative", x, r)
		}
	}
}

func TestParsePrecision(t *testing.T) {
	for s, want := range map[string]Precision{"f32": F32, "FP32": F32, "bf16": BF16, "bfloat16": BF16} {
		if p, err := ParsePrecision(s); err != nil || p != want {
			t.Errorf("%q: %v, %v", s, p, err)
		}
	}
	if _, err := ParsePrecision("fp8"); err == nil {
		t.Error("fp8 accepted")
	}
}

// TestSgemmBF16AgainstFloat64 checks the BF16 product against a float64
// reference of the float32 operands: each operand's rounding moves a
// product by at most (2·2⁻⁸ + 2⁻¹⁶) of |a|·|b|, and float32 sums add
// k·2⁻²⁴ of Σ|a||b|; the tolerance is that bound (×1.5). The result must
// also differ from the float32 product (the rounding happened).
func TestSgemmBF16AgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range []struct {
		m, n, k        int
		transA, transB bool
	}{{16, 17, 5, false, false}, {64, 80, 300, false, true}, {33, 65, 129, true, false}, {128, 96, 1000, true, true}} {
		ar, ac, br, bc := gemmOperandDims(sh.transA, sh.transB, sh.m, sh.n, sh.k)
		lda, ldb := ac+3, bc+1
		a, b := randSlice(rng, (ar-1)*lda+ac), randSlice(rng, (br-1)*ldb+bc)
		c := randSlice(rng, sh.m*sh.n)
		c0 := append([]float32(nil), c...)
		BF16.Sgemm(sh.transA, sh.transB, sh.m, sh.n, sh.k, 0.5, a, lda, b, ldb, 2, c, sh.n)
		at := func(x []float32, ld int, tr bool, i, p int) float64 {
			if tr {
				return float64(x[p*ld+i])
			}
			return float64(x[i*ld+p])
		}
		worst, differs := 0.0, false
		for i := 0; i < sh.m; i++ {
			for j := 0; j < sh.n; j++ {
				ref, abs := 2*float64(c0[i*sh.n+j]), 2*math.Abs(float64(c0[i*sh.n+j]))
				for p := 0; p < sh.k; p++ {
					av, bv := at(a, lda, sh.transA, i, p), at(b, ldb, !sh.transB, j, p)
					ref += 0.5 * av * bv
					abs += 0.5 * math.Abs(av*bv)
				}
				tol := 1.5 * abs * (2.0/256 + 1.0/(1<<16) + float64(sh.k+2)/(1<<24))
				d := math.Abs(float64(c[i*sh.n+j]) - ref)
				worst = max(worst, d/tol)
				if d > tol {
					t.Fatalf("%+v: C[%d,%d] = %g, float64 reference %g, error %.3g > tolerance %.3g", sh, i, j, c[i*sh.n+j], ref, d, tol)
				}
				if d > abs/(1<<20) {
					differs = true
				}
			}
		}
		if !differs {
			t.Errorf("%+v: the BF16 product equals the float32 one: the operands were not rounded", sh)
		}
		t.Logf("%+v: worst error %.3f of the tolerance", sh, worst)
	}
	// A thin product (fewer than 16 rows or columns) is float32 at BF16
	// too, bit for bit, also batched and with a bias.
	for _, sh := range []struct{ m, n, k int }{{7, 9, 5}, {300, 8, 64}, {8, 300, 6000}, {15, 200, 40}, {1, 64, 64}} {
		a, b := randSlice(rng, sh.m*sh.k), randSlice(rng, sh.k*sh.n)
		bias := randSlice(rng, sh.n)
		for _, f := range []func(p Precision, c []float32){
			func(p Precision, c []float32) {
				p.Sgemm(false, false, sh.m, sh.n, sh.k, 1, a, sh.k, b, sh.n, 0, c, sh.n)
			},
			func(p Precision, c []float32) {
				p.SgemmBias(false, false, sh.m, sh.n, sh.k, 1, a, sh.k, b, sh.n, bias, c, sh.n)
			},
			func(p Precision, c []float32) {
				p.SgemmStridedBatched(1, false, false, sh.m, sh.n, sh.k, 1, a, sh.k, 0, b, sh.n, 0, 0, c, sh.n, 0)
			},
		} {
			c16, c32 := make([]float32, sh.m*sh.n), make([]float32, sh.m*sh.n)
			f(BF16, c16)
			f(F32, c32)
			if !slices.Equal(c16, c32) {
				t.Errorf("%+v: a thin product at BF16 differs from float32: its operands were rounded", sh)
			}
		}
	}
	// Sgemm itself is float32.
	a, b := []float32{1.00390625 + 1.0/1024}, []float32{1}
	c := []float32{0}
	Sgemm(false, false, 1, 1, 1, 1, a, 1, b, 1, 0, c, 1)
	if c[0] != a[0] {
		t.Errorf("Sgemm rounded its operands: %v", c[0])
	}
}

// The batched BF16 product equals the float32 products of the operands
// rounded by RoundBF16Slice, matrix by matrix, up to float32 summation.
func TestSgemmStridedBatchedBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	batch, m, n, k := 3, 17, 40, 64
	a, b := randSlice(rng, batch*m*k+5), randSlice(rng, batch*n*k+7)
	c := make([]float32, batch*m*n)
	BF16.SgemmStridedBatched(batch, false, true, m, n, k, 1, a, k, m*k, b, k, n*k, 0, c, n, m*n)
	ra, rb := make([]float32, len(a)), make([]float32, len(b))
	RoundBF16Slice(ra, a)
	RoundBF16Slice(rb, b)
	want := make([]float32, len(c))
	for i := 0; i < batch; i++ {
		Sgemm(false, true, m, n, k, 1, ra[i*m*k:], k, rb[i*n*k:], k, 0, want[i*m*n:], n)
	}
	// Equal up to the order of the float32 sums (a native kernel sums in
	// another order than the float32 kernel does): k·2⁻²⁴ of Σ|a||b| ≤ k.
	tol := float32(k) / (1 << 22)
	for i := range c {
		if d := c[i] - want[i]; d > tol || d < -tol {
			t.Fatalf("c[%d] = %g, the float32 product of the rounded operands is %g (%s)", i, c[i], want[i], BF16Kernel())
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}
