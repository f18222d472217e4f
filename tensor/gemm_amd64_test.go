//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestSgemmKernelNoPrefetch runs the AVX-512 kernel without software
// prefetch (gemmPrefetch false), the variant Sgemm does not pick by
// default, through the same cases as TestSgemmKernels and TestSgemmBias:
// its full-tile and edge-tile stores, with and without reading C or adding
// a bias, are separate code.
func TestSgemmKernelNoPrefetch(t *testing.T) {
	var kern *microKernel
	for _, k := range availableKernels {
		if k == kernelAVX512 {
			kern = k
		}
	}
	if kern == nil {
		t.Skip("no AVX-512 on this CPU")
	}
	defer func(pf bool, w int) { gemmPrefetch, gemmTinyWork = pf, w }(gemmPrefetch, gemmTinyWork)
	gemmPrefetch, gemmTinyWork = false, 0
	rng := rand.New(rand.NewPCG(7, 8))
	f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		sgemmNative(kern, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	for _, g := range gemmCases(rng, 40, true) {
		checkGemm(t, "avx512 without prefetch", f, g, rng)
	}
	checkSgemmBias(t, rng)
}

// The narrow kernel gives the wide kernel's floats bit for bit on the
// products it takes (at most 16 columns on AVX-512, 8 on AVX2): k blocked
// (k > gemmKCMax) and split over workers, A and B transposed or not, C read
// with beta or written with a bias, edge tiles of rows and columns.
func TestSgemmNarrowKernelMatchesWide(t *testing.T) {
	ran := false
	for _, wide := range []*microKernel{kernelAVX512, kernelAVX2} {
		if wide.narrow == nil && wide.short == nil {
			continue
		}
		ran = true
		checkNarrowKernel(t, wide)
	}
	if !ran {
		t.Skip("no SIMD kernels on this CPU")
	}
}

func checkNarrowKernel(t *testing.T, wide *microKernel) {
	narrow, short := wide.narrow, wide.short
	defer func(d *microKernel) { wide.narrow, wide.short, defaultKernel = narrow, short, d }(defaultKernel)
	defaultKernel = wide // SgemmBias runs on it
	rng := rand.New(rand.NewPCG(11, 12))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	for _, s := range [][3]int{{6304, 8, 192}, {300, 8, 768}, {57, 16, 1000}, {29, 5, 33}, {28, 16, 400}, {100, 1, 7}, {64, 13, 2000}, {25, 7, 70},
		{8, 768, 6304}, {8, 200, 900}, {5, 37, 300}, {3, 16, 40}, {7, 9, 2100}} {
		m, n, k := s[0], s[1], s[2]
		if forShape(wide, m, n) == wide {
			continue // neither kernel takes it
		}
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, beta := range []float32{0, 1, 0.3} {
					for _, withBias := range []bool{false, true} {
						a, b, c0, bias := fill(m*k), fill(k*n), fill(m*n), fill(n)
						lda, ldb := k, n
						if tA {
							lda = m
						}
						if tB {
							ldb = k
						}
						run := func(special bool) []float32 {
							wide.narrow, wide.short = nil, nil
							if special {
								wide.narrow, wide.short = narrow, short
							}
							c := slices.Clone(c0)
							if withBias {
								F32.SgemmBias(tA, tB, m, n, k, 0.75, a, lda, b, ldb, bias, c, n)
							} else {
								sgemmNative(wide, true, tA, tB, m, n, k, 0.75, a, lda, b, ldb, beta, c, n)
							}
							return c
						}
						if w, got := run(false), run(true); !slices.Equal(w, got) {
							t.Fatalf("%s: %dx%dx%d tA=%v tB=%v beta=%v bias=%v: the narrow or short kernel's floats differ from the wide kernel's", wide.name, m, n, k, tA, tB, beta, withBias)
						}
					}
				}
			}
		}
	}
}

// TestSgemmBInPlace: a product of one row panel, or with a small B block,
// reads untransposed B in place (whole panels; an edge panel packed) and
// stores the floats of the packed path bit for bit: edge panels, several
// k and n blocks, split k, several row panels, beta 0, 1 and 0.3, a bias,
// A plain and transposed, B's rows padded.
func TestSgemmBInPlace(t *testing.T) {
	// The kernels whose stridedB the products below reach: AVX-512's wide
	// kernel, or AVX2's wide and short (at most 8 rows) ones.
	var kerns []*microKernel
	switch {
	case !nativeGemm:
		t.Skip("Sgemm is OpenBLAS's")
	case defaultKernel == kernelAVX512 && kernelAVX512.stridedB != nil:
		kerns = []*microKernel{kernelAVX512}
	case defaultKernel == kernelAVX2 && kernelAVX2.stridedB != nil && kernelAVX2.short != nil:
		kerns = []*microKernel{kernelAVX2, kernelAVX2.short}
	default:
		t.Skip("no kernel that reads B in place on this CPU")
	}
	var tiles atomic.Int64 // tiles that read B in place
	for _, kern := range kerns {
		defer func(v bool, kern *microKernel, f func(int, unsafe.Pointer, uintptr, uintptr, unsafe.Pointer, uintptr, unsafe.Pointer, uintptr, float32, float32, int, int, bool, unsafe.Pointer)) {
			bInPlace, kern.stridedB = v, f
		}(bInPlace, kern, kern.stridedB)
		strided := kern.stridedB
		kern.stridedB = func(k int, a unsafe.Pointer, rs, cs uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool, bias unsafe.Pointer) {
			tiles.Add(1)
			strided(k, a, rs, cs, b, ldb, c, ldc, alpha, beta, rows, cols, beta0, bias)
		}
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for _, sh := range []struct {
		m, n, k, padB int
		inPlace       bool // B is read in place: its block is small, or
		small         bool // not (then only where m fits one row panel)
	}{
		{8, 192, 6304, 0, true, false},  // a rank-8 adapter's dBu = dtᵀ·x (split k)
		{8, 200, 900, 5, true, false},   // an edge panel, three k blocks
		{14, 3000, 300, 0, true, false}, // several n blocks (AVX2: three row panels, packed)
		{3, 64, 40, 1, true, true},
		{8, 40, 6000, 3, true, false},
		{50, 32, 50, 352, true, true},    // attention's P·v on the shipped backbone: several row panels, a small B block
		{197, 64, 197, 0, false, false},  // ViT-Tiny's: its 50 KB block is packed
		{197, 32, 197, 0, true, true},    // a 25 KB block
		{60, 100, 70, 1, true, true},     // small B block with an edge panel
		{100, 300, 300, 0, false, false}, // a B block too large: packed
	} {
		for _, transA := range []bool{true, false} {
			for _, mode := range []string{"beta0", "beta1", "beta0.3", "bias"} {
				m, n, k := sh.m, sh.n, sh.k
				ar, ac, _, _ := gemmOperandDims(transA, false, m, n, k)
				a, ldb := randSlice(rng, ar*ac), n+sh.padB
				b := randSlice(rng, k*ldb)
				c0 := randSlice(rng, m*n)
				bias := randSlice(rng, n)
				run := func(inPlace bool) []float32 {
					bInPlace = inPlace
					c := append([]float32(nil), c0...)
					switch mode {
					case "bias":
						F32.SgemmBias(transA, false, m, n, k, 0.7, a, ac, b, ldb, bias, c, n)
					case "beta0":
						Sgemm(transA, false, m, n, k, 0.7, a, ac, b, ldb, 0, c, n)
					case "beta1":
						Sgemm(transA, false, m, n, k, 0.7, a, ac, b, ldb, 1, c, n)
					default:
						Sgemm(transA, false, m, n, k, 0.7, a, ac, b, ldb, 0.3, c, n)
					}
					return c
				}
				want := run(false)
				tiles.Store(0)
				got := run(true)
				expect := sh.inPlace && (sh.small || m <= forShape(defaultKernel, m, n).mr)
				if (tiles.Load() > 0) != expect {
					t.Fatalf("%+v transA=%v %s: %d tiles read B in place", sh, transA, mode, tiles.Load())
				}
				for e := range want {
					if math.Float32bits(got[e]) != math.Float32bits(want[e]) {
						t.Fatalf("%+v transA=%v %s: C[%d] = %g reading B in place, %g packed", sh, transA, mode, e, got[e], want[e])
					}
				}
			}
		}
	}
}

// TestTransposeBlocks checks each kernel's transpose (16×16 on AVX-512,
// 8×8 on AVX2) element by element: dst[p][i] = src[i][p] for i < tb and
// p < tb·blocks, with padded row strides on both sides, and nothing written
// between dst's rows or past its last one.
func TestTransposeBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, kern := range availableKernels {
		tb := kern.tb
		if tb == 0 {
			continue
		}
		for blocks := 1; blocks <= 3; blocks++ {
			ss, ds := tb*blocks+3, tb+5 // floats
			src := make([]float32, tb*ss)
			for i := range src {
				src[i] = float32(rng.NormFloat64())
			}
			const guard = -7.25
			dst := slices.Repeat([]float32{guard}, tb*blocks*ds+ds)
			kern.transpose(unsafe.Pointer(&dst[0]), uintptr(ds)*4, unsafe.Pointer(&src[0]), uintptr(ss)*4, blocks)
			for p := 0; p < tb*blocks+1; p++ {
				for i := 0; i < ds; i++ {
					got, want := dst[p*ds+i], float32(guard)
					if i < tb && p < tb*blocks {
						want = src[i*ss+p]
					}
					if got != want {
						t.Fatalf("%s blocks=%d: dst[%d][%d] = %g, want %g", kern.name, blocks, p, i, got, want)
					}
				}
			}
		}
	}
}

// TestRowCopy checks each kernel's rowCopy (the masked copies that pack
// untransposed B, and transposed A on AVX-512) for every width: the first
// width floats of each source row, then zeros, where the source holds NaN
// past width (a lane loaded that should not be shows as NaN). And AVX2's
// copy6, which packs transposed A: 6 floats per step, nothing else touched.
func TestRowCopy(t *testing.T) {
	nan := float32(math.NaN())
	for _, kern := range availableKernels {
		if kern.rowCopy == nil {
			continue
		}
		dws := []int{16}
		if kern.nr == 32 {
			dws = append(dws, 32)
		}
		for _, dw := range dws {
			for width := 0; width <= dw; width++ {
				const k, ss = 5, 40
				src := make([]float32, k*ss)
				for i := range src {
					src[i] = nan
					if i%ss < width {
						src[i] = float32(i)
					}
				}
				dst := slices.Repeat([]float32{-1}, k*dw+1)
				kern.rowCopy(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), ss*4, k, width, dw)
				for i, got := range dst {
					want := float32(-1)
					if p, j := i/dw, i%dw; p < k {
						want = 0
						if j < width {
							want = src[p*ss+j]
						}
					}
					if got != want {
						t.Fatalf("%s dw=%d width=%d: dst[%d] = %g, want %g", kern.name, dw, width, i, got, want)
					}
				}
			}
		}
	}
	for _, kern := range availableKernels {
		if kern.copy6 == nil {
			continue
		}
		const n, ss, ds = 4, 11, 9 // floats
		src := make([]float32, n*ss)
		for i := range src {
			src[i] = float32(i)
		}
		dst := make([]float32, n*ds)
		kern.copy6(unsafe.Pointer(&dst[0]), ds*4, unsafe.Pointer(&src[0]), ss*4, n)
		for i, got := range dst {
			want := float32(0)
			if q, j := i/ds, i%ds; j < 6 {
				want = src[q*ss+j]
			}
			if got != want {
				t.Fatalf("%s copy6: dst[%d] = %g, want %g", kern.name, i, got, want)
			}
		}
	}
}

// TestPackPanels: packAPanel and packBPanel write op(A)'s rows and op(B)'s
// columns where the micro-kernel reads them, and in an edge panel's
// padding (rows past rows up to mr, columns past cols) zeros or the rows
// and columns past the panel, whose products are not stored, for every kernel
// this CPU runs, both transpositions, and k below, at and past the
// transposes' blocks. dst starts as NaNs: a missed element or padding
// fails.
func TestPackPanels(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	nan := float32(math.NaN())
	for _, kern := range availableKernels {
		mr, ps, nr := kern.mr, kern.mrPad, kern.nr
		for _, kb := range []int{3, kern.tb, 2*kern.tb + 5} {
			for _, trans := range []bool{false, true} {
				// op(A) is (i0+mr+2)×(pc+kb+1) at least; op(B) (pc+kb+1)×(j0+nr+2)
				const i0, j0, pc = 3, 5, 1
				m, n, k := i0+mr+2, j0+nr+2, pc+kb+1
				a, b := randSlice(rng, m*k), randSlice(rng, k*n)
				opA := func(i, p int) float32 {
					if trans {
						return a[p*m+i] // A stored k×m
					}
					return a[i*k+p]
				}
				opB := func(p, j int) float32 {
					if trans {
						return b[j*k+p] // B stored n×k
					}
					return b[p*n+j]
				}
				lda, ldb := k, n
				if trans {
					lda, ldb = m, k
				}
				for rows := 1; rows <= mr; rows++ {
					dst := slices.Repeat([]float32{nan}, kb*ps)
					packAPanel(kern, trans, a, lda, i0, rows, pc, kb, dst)
					for p := 0; p < kb; p++ {
						for i := 0; i < mr; i++ {
							// padding: zeros, or (AVX-512's 16×16 transpose) the
							// rows past the panel, whose products are not stored
							got, src := dst[p*ps+i], opA(i0+i, pc+p)
							if i < rows && got != src || i >= rows && got != 0 && got != src {
								t.Fatalf("%s packAPanel trans=%v kb=%d rows=%d: [%d][%d] = %g, want %g", kern.name, trans, kb, rows, p, i, got, src)
							}
						}
					}
				}
				for cols := 1; cols <= nr; cols++ {
					dst := slices.Repeat([]float32{nan}, kb*nr)
					packBPanel(kern, trans, b, ldb, pc, kb, j0, cols, dst)
					for p := 0; p < kb; p++ {
						for j := 0; j < nr; j++ {
							// padding: zeros, or (an edge group transposed whole) the
							// columns past the panel, whose products are not stored
							want := opB(pc+p, j0+j)
							if got := dst[p*nr+j]; got != want && (j < cols || got != 0) {
								t.Fatalf("%s packBPanel trans=%v kb=%d cols=%d: [%d][%d] = %g, want %g", kern.name, trans, kb, cols, p, j, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmHalfEdge: an edge panel of at most half a panel's columns
// runs on the half of its kernel — AVX-512's (sgemmKernel14x16s, one zmm
// register a row), AVX2's (sgemmKernel6x8s, one ymm register), or the
// AVX512-BF16 one (sbgemmKernel14x16) — and stores the floats of the
// whole kernel bit for bit: every edge width from 1 to 17 (past a half
// panel: the whole kernel), attention's 197 keys, several k and n blocks,
// B in place with its edge panel packed, edge row panels, beta 0, 1 and
// 0.3, a bias, both operands plain and transposed. Each float32 kernel
// with a half this CPU runs is tested (AVX2's too on an AVX-512 CPU).
func TestSgemmHalfEdge(t *testing.T) {
	defer func(v bool, d *microKernel) { halfEdge, defaultKernel = v, d }(halfEdge, defaultKernel)
	var tiles atomic.Int64 // tiles that ran on a half kernel
	runs := halfEdgeRuns()
	for _, ru := range runs {
		if ru.p != F32 {
			continue
		}
		k := ru.kern
		defer func(k *microKernel, f func(int, unsafe.Pointer, uintptr, uintptr, unsafe.Pointer, uintptr, unsafe.Pointer, uintptr, float32, float32, int, int, bool, unsafe.Pointer)) {
			k.halfB = f
		}(k, k.halfB)
		half := k.halfB
		k.halfB = func(kn int, a unsafe.Pointer, rs, cs uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool, bias unsafe.Pointer) {
			tiles.Add(1)
			half(kn, a, rs, cs, b, ldb, c, ldc, alpha, beta, rows, cols, beta0, bias)
		}
	}
	if nativeBF16 == kernelDPBF16 {
		defer func(f dpTile) { dpHalf = f }(dpHalf)
		half := dpHalf
		dpHalf = func(kp int, a *uint16, b *uint16, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32) {
			tiles.Add(1)
			half(kp, a, b, c, ldc, alpha, beta, rows, mask, beta0, bias)
		}
	}
	if runs == nil {
		t.Skip("no kernel with a half-width edge on this CPU")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	type shape struct{ m, n, k int }
	shapes := []shape{{197, 197, 64}, {100, 64 + 8, 900}, {45, 2048 + 8, 40}, {8, 200, 900}, {20, 200, 64}}
	for e := 1; e <= 17; e++ {
		shapes = append(shapes, shape{60, 64 + e, 70})
	}
	for _, ru := range runs {
		p := ru.p
		defaultKernel = ru.kern
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, true}, {false, false}, {true, false}, {true, true}} {
				for _, mode := range []string{"beta0", "beta1", "beta0.3", "bias"} {
					m, n, k := sh.m, sh.n, sh.k
					ar, ac, br, bc := gemmOperandDims(tr[0], tr[1], m, n, k)
					a, b := randSlice(rng, ar*ac), randSlice(rng, br*bc)
					c0, bias := randSlice(rng, m*n), randSlice(rng, n)
					do := func(on bool) []float32 {
						halfEdge = on
						c := append([]float32(nil), c0...)
						switch mode {
						case "bias":
							p.SgemmBias(tr[0], tr[1], m, n, k, 0.7, a, ac, b, bc, bias, c, n)
						case "beta0":
							p.Sgemm(tr[0], tr[1], m, n, k, 0.7, a, ac, b, bc, 0, c, n)
						case "beta1":
							p.Sgemm(tr[0], tr[1], m, n, k, 0.7, a, ac, b, bc, 1, c, n)
						default:
							p.Sgemm(tr[0], tr[1], m, n, k, 0.7, a, ac, b, bc, 0.3, c, n)
						}
						return c
					}
					want := do(false)
					tiles.Store(0)
					got := do(true)
					// the product's kernel, and whether its last panel is at most half full
					kern := forShape(defaultKernel, m, n)
					expect := nativeGemm && kern == ru.kern && n%kern.nr > 0 && n%kern.nr <= kern.nr/2 // (OpenBLAS's build: none)
					if p == BF16 && !thinProduct(m, n) {
						expect = n%32 > 0 && n%32 <= 16
					}
					if (tiles.Load() > 0) != expect {
						t.Fatalf("%v %s %+v trans=%v %s: %d tiles on the half kernel", p, ru.kern.name, sh, tr, mode, tiles.Load())
					}
					for e := range want {
						if math.Float32bits(got[e]) != math.Float32bits(want[e]) {
							t.Fatalf("%v %s %+v trans=%v %s: C[%d] = %g on the half kernel, %g on the whole", p, ru.kern.name, sh, tr, mode, e, got[e], want[e])
						}
					}
				}
			}
		}
	}
}

// BenchmarkSgemmHalfEdge times products whose last panel is at most half
// full on one core, with their edge panel on the kernel's half (half=true)
// and on the whole kernel: attention's q·kᵀ of ViT-Tiny (197 keys: an edge
// of 5) and of the shipped backbone (50: 18, the whole kernel on AVX-512),
// and a layer's product with a rank-8 adapter's columns alongside
// (SgemmSplit's shape: 192 + 8), in float32 on each wide kernel and in
// bf16 on AVX512-BF16.
func BenchmarkSgemmHalfEdge(b *testing.B) {
	defer func(v bool, d *microKernel) { halfEdge, defaultKernel = v, d }(halfEdge, defaultKernel)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ru := range halfEdgeRuns() {
		defaultKernel = ru.kern
		name := ru.kern.name
		if ru.p == BF16 {
			name = nativeBF16.name
		}
		for _, sh := range [][3]int{{197, 197, 64}, {50, 50, 32}, {1576, 200, 192}} {
			m, n, k := sh[0], sh[1], sh[2]
			a, w, c := randSlice(rng, m*k), randSlice(rng, n*k), make([]float32, m*n)
			for _, on := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/%dx%dx%d/half=%v", name, m, n, k, on), func(b *testing.B) {
					halfEdge = on
					for i := 0; i < b.N; i++ {
						ru.p.Sgemm(false, true, m, n, k, 1, a, k, w, k, 0, c, n)
					}
					b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// halfEdgeRun is a precision and the float32 wide kernel products run on.
type halfEdgeRun struct {
	p    Precision
	kern *microKernel
}

// halfEdgeRuns lists each wide float32 kernel with a half-width edge
// kernel that this CPU runs (AVX2's too on an AVX-512 CPU), then bf16 on
// the default kernel where AVX512-BF16's kernel, which has one, runs.
func halfEdgeRuns() []halfEdgeRun {
	var runs []halfEdgeRun
	for _, k := range wideKernels() {
		if k.halfB != nil && nativeGemm {
			runs = append(runs, halfEdgeRun{F32, k})
		}
	}
	if nativeBF16 == kernelDPBF16 {
		runs = append(runs, halfEdgeRun{BF16, defaultKernel})
	}
	return runs
}
