package tensor

import (
	"sync"
	"unsafe"

	"github.com/glora/glora/internal/parallel"
)

// Native bfloat16 GEMM: C = alpha·bf16(op(A))·bf16(op(B)) + beta·C with
// float32 accumulation. Both operands are converted to bfloat16 (round to
// nearest even) while they are packed, so callers keep float32 tensors.
//
// Two packed layouts serve the two instruction sets:
//
//   - pair layout (AVX512-BF16, VDPBF16PS): a dword holds the bf16 values
//     of k = 2q and 2q+1. A micro-panel is [kp][mrPad] dwords (row i of
//     pair step q at dword q·mrPad + i), a B panel [kp][nr] dwords; one
//     VDPBF16PS multiplies 16 columns by a broadcast A pair and adds both
//     products into 16 float32 sums.
//   - row layout (AMX, TDPBF16PS): an A panel is [mr][kbp] bf16, row after
//     row, so a 16-row × 32-bf16 tile is one TILELOADD with row stride
//     2·kbp bytes; B panels use the pair layout, which is exactly AMX's
//     "VNNI" B tile (16 pair rows × 16 columns × 2 bf16 = 64 bytes a row).
//
// k is padded with zeros to a multiple of kAlign (2, or 32 for AMX tiles).

// bf16Layout says how a bf16 kernel wants its A panels packed.
type bf16Layout int

const (
	pairLayout bf16Layout = iota
	rowLayout
)

// bf16Kernel is one native bfloat16 GEMM path and what the blocked driver
// (sbgemmBlocked) must feed it.
type bf16Kernel struct {
	name   string
	mr, nr int // rows of an A panel, columns of a B panel
	mrPad  int // dwords per pair step of an A panel (pair layout)
	kAlign int // k is zero-padded to a multiple of this
	kcMax  int // largest k block
	layout bf16Layout
	// tiles computes, for the packed A panel a (rows ≤ mr valid rows) and
	// npan consecutive packed B panels b (each kbp·nr bf16 values):
	// C[0:rows, panel j] = alpha·Â·B̂_j + beta·C (beta0: C is not read),
	// where C's panel j starts nr·j columns right of c (row stride ldc
	// bytes) and the last panel has lastCols valid columns.
	tiles func(kbp int, a, b []uint16, npan int, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, lastCols int, beta0 bool)
	// biasTiles, if set, is tiles with beta0 that adds bias[j] (the bias
	// row from the first panel's first column on) to column j of every row:
	// the floats of tiles' beta 1 onto a C filled with the bias.
	biasTiles func(kbp int, a, b []uint16, npan int, c unsafe.Pointer, ldc uintptr, alpha float32, rows, lastCols int, bias unsafe.Pointer)
}

// padK is k rounded up to the kernel's multiple (the zero padding of a packed k block).
func (kern *bf16Kernel) padK(k int) int { return (k + kern.kAlign - 1) / kern.kAlign * kern.kAlign }

var (
	// nativeBF16 is the bf16 kernel BF16 products use, nil when this CPU
	// has neither AVX512-BF16 nor AMX (the emulated path runs instead).
	nativeBF16 *bf16Kernel
	// bf16Kernels lists every bf16 kernel this process can run, the
	// portable Go ones first (they define the packed layouts; for tests).
	bf16Kernels = []*bf16Kernel{goPairKernel, goRowKernel}
)

// sbgemmNative is Sgemm at BF16 precision on kern, on the worker pool when par.
func sbgemmNative(kern *bf16Kernel, par bool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if sgemmTrivial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	sbgemmBlocked(kern, par && m*n*k >= gemmParWork, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// u16Pool recycles bf16 packing buffers.
var u16Pool scratchPool[uint16]

// getU16 returns a 64-byte-aligned scratch slice of n uint16 and its handle.
func getU16(n int) ([]uint16, *[]uint16) { return alignedScratch(&u16Pool, n) }

func putU16(h *[]uint16) { u16Pool.put(h) }

// sbgemmBlocked is the cache-blocked bf16 driver, shaped like sgemmBlocked:
// per k block and n block, op(B) is converted and packed into nr-wide
// panels shared by the workers; each worker converts and packs one A panel
// at a time and runs it over its group of B panels.
func sbgemmBlocked(kern *bf16Kernel, par bool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sbgemmBlockedSplit(kern, par, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, nil, colSplit{c: c, ldc: ldc}, nil)
}

// sbgemmBlockedSplit is sbgemmBlocked storing C where dst says (one
// matrix, or two: SgemmSplit) that, with a bias (length n, beta 1, a
// kernel with biasTiles), first sets each row of C to the bias: the first
// k block's kernels store alpha·Â·B̂ + bias without reading C. A non-nil
// then is called for each work item's block of C once the last k block has
// been stored into it (SgemmThen). The call's state comes from a pool
// (bf16Gemm), so that a small product allocates nothing.
func sbgemmBlockedSplit(kern *bf16Kernel, par bool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias []float32, dst colSplit, then func(i0, i1, j0, j1 int)) {
	g, _ := bf16GemmPool.Get().(*bf16Gemm)
	if g == nil {
		g = new(bf16Gemm)
	}
	*g = bf16Gemm{kern: kern, transA: transA, transB: transB, m: m, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, colSplit: dst, then: then}
	defer func() {
		*g = bf16Gemm{} // no references to the operands kept in the pool
		bf16GemmPool.Put(g)
	}()
	mr, nr := kern.mr, kern.nr
	kc := kBlock(k, kern.kcMax)
	kcp := kern.padK(kc)
	nc := nBlock(n, nr, kcp, 2)
	workers := 1
	if par {
		workers = parallel.Workers()
	}
	bbuf, bh := getU16(nc * kcp)
	defer putU16(bh)
	g.bbuf = bbuf
	g.rowPanels = (m + mr - 1) / mr
	g.aLen = kcp * kern.mrPad // [kcp/2][mrPad] pairs
	if kern.layout == rowLayout {
		g.aLen = mr * kcp
	}
	for pc := 0; pc < k; pc += kc {
		g.pc, g.kb = pc, min(kc, k-pc)
		g.kbp = kern.padK(g.kb)
		g.beta, g.beta0 = beta, beta == 0
		if pc > 0 {
			g.beta, g.beta0 = 1, false
		}
		g.bias = nil
		if pc == 0 {
			g.bias = bias
		}
		for jc := 0; jc < n; jc += nc {
			g.jc, g.nb = jc, min(nc, n-jc)
			g.npan = (g.nb + nr - 1) / nr
			if workers > 1 && g.npan > 1 && g.kb*g.nb >= 1<<14 {
				parallel.For(g.npan, 1, g.packB)
			} else {
				g.packB(0, g.npan)
			}
			g.start(workers, g.rowPanels, g.npan)
			g.run(workers, g.work)
		}
	}
}

// bf16GemmPool recycles sbgemmBlockedSplit's call state.
var bf16GemmPool sync.Pool

// bf16Gemm is one sbgemmBlockedSplit call: its operands, and the k and n
// block being multiplied, shared by the workers.
type bf16Gemm struct {
	kern           *bf16Kernel
	transA, transB bool
	m, k           int
	alpha          float32
	a, b           []float32
	lda, ldb       int
	colSplit                                // where C's columns go
	then           func(i0, i1, j0, j1 int) // SgemmThen's, or nil

	bbuf      []uint16 // the packed B block
	aLen      int      // a packed A panel's length
	rowPanels int

	pc, kb, kbp  int // the k block, and kb padded to the kernel's multiple
	beta         float32
	beta0        bool
	bias         []float32 // the first k block's: stored with it by biasTiles
	jc, nb, npan int       // the n block and its B panels
	itemQueue
}

// packB converts and packs B panels lo..hi-1 of the current k and n block.
func (g *bf16Gemm) packB(lo, hi int) {
	nr, kb, kbp := g.kern.nr, g.kb, g.kbp
	for jp := lo; jp < hi; jp++ {
		packBPairs(g.transB, g.b, g.ldb, g.pc, kb, kbp, g.jc+jp*nr, min(nr, g.nb-jp*nr), nr, g.bbuf[jp*kbp*nr:(jp+1)*kbp*nr])
	}
}

// work multiplies work items (a row panel, converted and packed once,
// against a group of B panels, from itemQueue) until none is left.
func (g *bf16Gemm) work(w, _ int) {
	g.join(w)
	kern, kb, kbp := g.kern, g.kb, g.kbp
	mr, nr := kern.mr, kern.nr
	abuf, ah := getU16(g.aLen)
	defer putU16(ah)
	lastRP := -1
	var c claim
	for {
		rp, gr, ok := g.take(&c)
		if !ok {
			return
		}
		i0 := rp * mr
		rows := min(mr, g.m-i0)
		if rp != lastRP {
			if kern.layout == rowLayout {
				packARows(g.transA, g.a, g.lda, i0, rows, mr, g.pc, kb, kbp, abuf[:mr*kbp])
			} else {
				packAPairs(g.transA, g.a, g.lda, i0, rows, kern.mrPad, g.pc, kb, kbp, abuf[:kbp*kern.mrPad])
			}
			lastRP = rp
			g.prefetchA(&c, rp)
		}
		jlo, jhi := gr*g.npan/g.groups, (gr+1)*g.npan/g.groups
		if jlo == jhi {
			continue
		}
		// one run of panels into C and, past the split, one into C2
		for j := jlo; j < jhi; {
			e := jhi
			if s := g.splitPanel(); s > j && s < e {
				e = s
			}
			cols := nr
			if e == jhi {
				cols = min(nr, g.nb-(jhi-1)*nr)
			}
			cp, ldc := g.at(i0, g.jc+j*nr)
			bp := g.bbuf[j*kbp*nr : e*kbp*nr]
			if g.bias != nil {
				kern.biasTiles(kbp, abuf, bp, e-j, cp, ldc, g.alpha, rows, cols, unsafe.Pointer(&g.bias[g.jc+j*nr]))
			} else {
				kern.tiles(kbp, abuf, bp, e-j, cp, ldc, g.alpha, g.beta, rows, cols, g.beta0)
			}
			j = e
		}
		if g.then != nil && g.pc+kb == g.k {
			g.handOver(g.then, i0, i0+rows, g.jc+jlo*nr, g.jc+min(jhi*nr, g.nb)) // final, still in cache
		}
	}
}

// prefetchA asks for the A rows of the row panel a worker packs next,
// when its run of items c goes on to one after row panel rp, so that
// they come from cache while this panel's tiles run: packing a row panel
// reads rows a whole leading dimension apart, one or two cache lines of
// each, and waited on memory for most of its time (perf, a bf16 GLoRA
// supernet step on a Zen 5).
func (g *bf16Gemm) prefetchA(c *claim, rp int) {
	if c.t >= c.end {
		return
	}
	next := c.t / g.groups
	if next == rp {
		return
	}
	mr := g.kern.mr
	i0 := next * mr
	rows := min(mr, g.m-i0)
	if g.transA { // op(A)(i, p) = a[p·lda + i]
		prefetchRows(&g.a[g.pc*g.lda+i0], g.kb, g.lda, rows)
	} else {
		prefetchRows(&g.a[i0*g.lda+g.pc], rows, g.lda, g.kb)
	}
}

// splitPanel is the first B panel of the current n block whose columns go
// to C2, or −1.
func (g *bf16Gemm) splitPanel() int {
	if g.c2 == nil || g.split < g.jc {
		return -1
	}
	return (g.split - g.jc) / g.kern.nr
}

// packBPairs packs columns [j0, j0+cols) and rows [pc, pc+kb) of op(B)
// into dst in the pair layout [kbp/2][nr][2] bf16, zero beyond cols and kb.
func packBPairs(transB bool, b []float32, ldb, pc, kb, kbp, j0, cols, nr int, dst []uint16) {
	if packBPairsFast(transB, b, ldb, pc, kb, kbp, j0, cols, nr, dst) {
		return
	}
	kp := kbp / 2
	for q := 0; q < kp; q++ {
		row := dst[q*2*nr : (q+1)*2*nr]
		for e := 0; e < 2; e++ {
			p := 2*q + e
			if p >= kb {
				for j := 0; j < nr; j++ {
					row[2*j+e] = 0
				}
				continue
			}
			if !transB {
				src := b[(pc+p)*ldb+j0 : (pc+p)*ldb+j0+cols]
				for j, v := range src {
					row[2*j+e] = BF16Bits(v)
				}
			} else {
				for j := 0; j < cols; j++ {
					row[2*j+e] = BF16Bits(b[(j0+j)*ldb+pc+p])
				}
			}
			for j := cols; j < nr; j++ {
				row[2*j+e] = 0
			}
		}
	}
}

// packAPairs packs rows [i0, i0+rows) and columns [pc, pc+kb) of op(A)
// into dst in the pair layout [kbp/2][mrPad][2] bf16, zero beyond rows and kb.
func packAPairs(transA bool, a []float32, lda, i0, rows, mrPad, pc, kb, kbp int, dst []uint16) {
	if packAPairsFast(transA, a, lda, i0, rows, mrPad, pc, kb, kbp, dst) {
		return
	}
	kp := kbp / 2
	clear(dst[:kp*mrPad*2])
	for i := 0; i < rows; i++ {
		if !transA {
			src := a[(i0+i)*lda+pc : (i0+i)*lda+pc+kb]
			for p, v := range src {
				dst[((p>>1)*mrPad+i)*2+p&1] = BF16Bits(v)
			}
			continue
		}
		for p := 0; p < kb; p++ {
			dst[((p>>1)*mrPad+i)*2+p&1] = BF16Bits(a[(pc+p)*lda+i0+i])
		}
	}
}

// packARows packs rows [i0, i0+rows) and columns [pc, pc+kb) of op(A)
// into dst in the row layout [mr][kbp] bf16, zero beyond rows and kb.
func packARows(transA bool, a []float32, lda, i0, rows, mr, pc, kb, kbp int, dst []uint16) {
	if packARowsFast(transA, a, lda, i0, rows, mr, pc, kb, kbp, dst) {
		return
	}
	for i := 0; i < mr; i++ {
		d := dst[i*kbp : (i+1)*kbp]
		if i >= rows {
			clear(d)
			continue
		}
		if !transA {
			bf16Row(d[:kb], a[(i0+i)*lda+pc:(i0+i)*lda+pc+kb])
		} else {
			for p := 0; p < kb; p++ {
				d[p] = BF16Bits(a[(pc+p)*lda+i0+i])
			}
		}
		clear(d[kb:])
	}
}

// bf16Row sets dst[i] = BF16Bits(src[i]).
func bf16Row(dst []uint16, src []float32) {
	n := bf16RowFast(dst, src)
	for i := n; i < len(src); i++ {
		dst[i] = BF16Bits(src[i])
	}
}

// storeTile sets C[i][j] = alpha·t[i][j] + beta·C[i][j] (C not read when
// beta0) for i < rows, j < cols; t has row stride ts floats, C ldc bytes.
func storeTile(t []float32, ts int, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool) {
	for i := 0; i < rows; i++ {
		row := unsafe.Slice((*float32)(unsafe.Add(c, uintptr(i)*ldc)), cols)
		src := t[i*ts : i*ts+cols]
		if beta0 {
			for j, v := range src {
				row[j] = alpha * v
			}
			continue
		}
		for j, v := range src {
			row[j] = alpha*v + beta*row[j]
		}
	}
}

// goPairKernel is the portable reference of the pair layout: VDPBF16PS's
// arithmetic (each bf16 product is exact in float32; the odd product is
// added before the even one) in Go. It is for tests, not speed.
var goPairKernel = &bf16Kernel{
	name: "go-pairs-14x32", mr: 14, nr: 32, mrPad: 16, kAlign: 2, kcMax: 384, layout: pairLayout,
	tiles: func(kbp int, a, b []uint16, npan int, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, lastCols int, beta0 bool) {
		const mr, nr, mrPad = 14, 32, 16
		var acc [mr * nr]float32
		for jp := 0; jp < npan; jp++ {
			clear(acc[:])
			bp := b[jp*kbp*nr:]
			for q := 0; q < kbp/2; q++ {
				for i := 0; i < rows; i++ {
					a0, a1 := FromBF16Bits(a[(q*mrPad+i)*2]), FromBF16Bits(a[(q*mrPad+i)*2+1])
					for j := 0; j < nr; j++ {
						s := acc[i*nr+j] + a1*FromBF16Bits(bp[(q*nr+j)*2+1])
						acc[i*nr+j] = s + a0*FromBF16Bits(bp[(q*nr+j)*2])
					}
				}
			}
			cols := nr
			if jp == npan-1 {
				cols = lastCols
			}
			storeTile(acc[:], nr, unsafe.Add(c, jp*nr*4), ldc, alpha, beta, rows, cols, beta0)
		}
	},
}

// goRowKernel is the portable reference of the row layout (AMX's
// TDPBF16PS arithmetic in Go, A rows against pair-packed B). For tests.
var goRowKernel = &bf16Kernel{
	name: "go-rows-32x32", mr: 32, nr: 32, mrPad: 32, kAlign: 32, kcMax: 768, layout: rowLayout,
	tiles: func(kbp int, a, b []uint16, npan int, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, lastCols int, beta0 bool) {
		const nr = 32
		var acc [32 * nr]float32
		for jp := 0; jp < npan; jp++ {
			clear(acc[:])
			bp := b[jp*kbp*nr:]
			for i := 0; i < rows; i++ {
				ar := a[i*kbp : (i+1)*kbp]
				for q := 0; q < kbp/2; q++ {
					a0, a1 := FromBF16Bits(ar[2*q]), FromBF16Bits(ar[2*q+1])
					for j := 0; j < nr; j++ {
						acc[i*nr+j] += a0*FromBF16Bits(bp[(q*nr+j)*2]) + a1*FromBF16Bits(bp[(q*nr+j)*2+1])
					}
				}
			}
			cols := nr
			if jp == npan-1 {
				cols = lastCols
			}
			storeTile(acc[:], nr, unsafe.Add(c, jp*nr*4), ldc, alpha, beta, rows, cols, beta0)
		}
	},
}
