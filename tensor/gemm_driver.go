package tensor

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/glora/glora/internal/parallel"
)

// microKernel describes a register-blocked SGEMM micro-kernel and what the
// blocked driver (sgemmBlocked) needs to feed it.
type microKernel struct {
	name   string
	mr, nr int // tile rows (broadcast operand) and columns (vector operand)
	mrPad  int // floats per k step in a packed A micro-panel (≥ mr)
	// tb is the block of transpose, if set: 16 (AVX-512) or 8 (AVX2).
	tb int
	// tile computes the rows×cols corner of an mr×nr tile:
	// C = alpha·Â·B̂ + beta·C, where Â(i,p) is at a + i·rs + p·cs bytes and B̂
	// is packed [k][nr] (zero-padded); with beta0, C is not read.
	tile func(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool)
	// biasTile, if set, is tile with beta0 that adds bias[j] (bias: cols
	// floats) to column j of every row: C = alpha·Â·B̂ + bias, with the
	// floats of tile's beta 1 onto a C filled with the bias.
	biasTile func(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, alpha float32, rows, cols int, bias unsafe.Pointer)
	// transpose writes dst[p][i] = src[i][p] for i < tb, p < tb·blocks.
	transpose func(dst unsafe.Pointer, ds uintptr, src unsafe.Pointer, ss uintptr, blocks int)
	// rowCopy, if set, copies width ≤ dw floats from each of k rows of src
	// (row stride ss bytes) into k zero-padded rows of dw floats: dw is the
	// kernel's nr (B panels), or 16 (AVX-512's transposed A panels).
	rowCopy func(dst, src unsafe.Pointer, ss uintptr, k, width, dw int)
	// copy6, if set (mr = 6), copies 6 floats from src to dst n times, src
	// advancing ss bytes and dst ds bytes: transposed A's micro-panels.
	copy6 func(dst unsafe.Pointer, ds uintptr, src unsafe.Pointer, ss uintptr, n int)
	// narrow, if set, is the kernel for products of at most narrow.nr
	// columns, and short for products of at most short.mr rows (and more
	// columns), with this kernel's floats (forShape).
	narrow, short *microKernel
	// stridedB, if set, is tile (with bias != nil: biasTile) reading B̂ in
	// place, row p at b + p·ldb bytes, all nr of its floats read: the
	// same floats as tile on B̂ packed (sgemmBlocked, see bInPlace).
	stridedB func(k int, a unsafe.Pointer, rs, cs uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool, bias unsafe.Pointer)
	// halfB, if set, is stridedB for a panel of at most nr/2 columns: it
	// computes only those (the same floats), on an edge panel packed nr
	// wide (ldb = 4·nr) or in place.
	halfB func(k int, a unsafe.Pointer, rs, cs uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool, bias unsafe.Pointer)
}

// forShape is the kernel of kern's family for an m×n product: its narrow
// kernel for at most narrow.nr columns, its short kernel for at most
// short.mr rows, else kern.
func forShape(kern *microKernel, m, n int) *microKernel {
	switch {
	case kern == nil:
	case kern.narrow != nil && n <= kern.narrow.nr:
		return kern.narrow
	case kern.short != nil && m <= kern.short.mr:
		return kern.short
	}
	return kern
}

var (
	// defaultKernel is the micro-kernel Sgemm uses; nil means the portable path.
	defaultKernel *microKernel
	// availableKernels lists the micro-kernels this CPU can run (for tests).
	availableKernels []*microKernel
)

var (
	gemmKCMax  = 384     // largest k block
	gemmBBytes = 1 << 20 // packed B block budget (fits L2 with room to spare)
)

const gemmParWork = 1 << 17 // m·n·k below which one thread is used

// gemmTinyWork is the m·n·k below which the simple loop is used (a variable
// so that tests can push small shapes through the micro-kernels).
var gemmTinyWork = 4096

// bufPool recycles packing buffers.
var bufPool scratchPool[float32]

// getBuf returns a 64-byte-aligned scratch slice of n floats and its handle.
func getBuf(n int) ([]float32, *[]float32) { return alignedScratch(&bufPool, n) }

// scratchPool recycles scratch slices by size class: class c holds
// capacities in [2^(c−1), 2^c). With one pool for every size, a small
// request took whatever buffer came first, often a large one, and the next
// large request had to allocate again: a language model's training step
// (packing buffers of 33 MB for its output layer's weight gradient beside
// buffers of a few kB) ended up holding 219 MB of them.
//
// The classes are free lists the collector does not empty (a sync.Pool
// drops what it holds every second collection): with glora's command
// collecting at 10% heap growth, several times a step in a language
// model's fine-tuning, a sync.Pool made the step allocate and zero its
// tens of megabytes of packing buffers again and again (5% of the step).
// A list holds at most as many buffers as were out at once.
type scratchPool[T float32 | uint16] struct {
	class [64]scratchClass[T]
}

type scratchClass[T float32 | uint16] struct {
	mu   sync.Mutex
	free []*[]T
}

// alignedScratch returns a slice of n elements from pool (grown when too
// small) starting on a 64-byte boundary, and its handle for put.
func alignedScratch[T float32 | uint16](pool *scratchPool[T], n int) ([]T, *[]T) {
	size := int(unsafe.Sizeof(T(0)))
	need := n + 64/size
	var h *[]T
	c := &pool.class[bits.Len(uint(need))]
	c.mu.Lock()
	if k := len(c.free); k > 0 {
		h = c.free[k-1]
		c.free[k-1] = nil
		c.free = c.free[:k-1]
	}
	c.mu.Unlock()
	if h == nil {
		h = new([]T)
	}
	if cap(*h) < need {
		*h = make([]T, need)
	}
	s := (*h)[:cap(*h)]
	off := int((64 - uintptr(unsafe.Pointer(&s[0]))%64) % 64 / uintptr(size))
	return s[off : off+n], h
}

// put hands a slice from alignedScratch back to its size class.
func (pool *scratchPool[T]) put(h *[]T) {
	c := &pool.class[bits.Len(uint(cap(*h)))]
	c.mu.Lock()
	c.free = append(c.free, h)
	c.mu.Unlock()
}

func putBuf(h *[]float32) { bufPool.put(h) }

// scaleC sets C = beta·C (C = 0 when beta == 0, without reading C).
// c: (m, ldc) row-major.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// checkGemmArgs panics when the strides or slice lengths cannot hold the
// described matrices: the assembly kernels do not bounds-check, so a bad
// call must fail here rather than read or write out of range.
func checkGemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if ldc < n || len(c) < (m-1)*ldc+n {
		panic("tensor: Sgemm: C too short or ldc < n")
	}
	if k <= 0 {
		return
	}
	ar, ac, br, bc := gemmOperandDims(transA, transB, m, n, k)
	if lda < ac || len(a) < (ar-1)*lda+ac {
		panic("tensor: Sgemm: A too short or lda too small")
	}
	if ldb < bc || len(b) < (br-1)*ldb+bc {
		panic("tensor: Sgemm: B too short or ldb too small")
	}
}

// gemmOperandDims is the stored (rows, cols) of A and B for C(m,n) = op(A)·op(B)
// with inner dimension k: A is (m,k), or (k,m) if transA; B is (k,n), or
// (n,k) if transB.
func gemmOperandDims(transA, transB bool, m, n, k int) (ar, ac, br, bc int) {
	ar, ac, br, bc = m, k, k, n
	if transA {
		ar, ac = k, m
	}
	if transB {
		br, bc = n, k
	}
	return ar, ac, br, bc
}

// sgemmTrivial checks Sgemm's arguments and does the calls with nothing to
// multiply: none for m or n ≤ 0, C = beta·C for k ≤ 0 or alpha = 0. It
// reports whether the call is done.
func sgemmTrivial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m <= 0 || n <= 0 {
		return true
	}
	if k <= 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return true
	}
	return false
}

// sgemmNative is Sgemm on the given micro-kernel (nil: portable loop), using
// the worker pool when par is set. Semantics as documented on Sgemm.
func sgemmNative(kern *microKernel, par bool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if sgemmTrivial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	kern = forShape(kern, m, n)
	switch nativeRoute(kern, par, m, n, k) {
	case routeGemv:
		sgemvRow(par && n*k >= gemmParWork, transA, transB, n, k, alpha, a, lda, b, ldb, beta, c)
	case routeRef:
		sgemmRef(par && m*n*k >= gemmParWork, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	case routeSplitK:
		sgemmSplitK(kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	default:
		sgemmBlocked(kern, par && m*n*k >= gemmParWork, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// gemmRoute is the code sgemmNative gives a product with something to
// multiply (m, n, k ≥ 1, alpha ≠ 0).
type gemmRoute int

const (
	routeBlocked gemmRoute = iota // sgemmBlocked
	routeGemv                     // one row: sgemvRow
	routeRef                      // tiny, or no micro-kernel: sgemmRef
	routeSplitK                   // k ≫ m, n on several workers: sgemmSplitK
)

func nativeRoute(kern *microKernel, par bool, m, n, k int) gemmRoute {
	switch {
	case m == 1 && kern != nil && n*k >= gemmTinyWork:
		return routeGemv
	case kern == nil || m*n*k < gemmTinyWork:
		return routeRef
	case par && m*n*k >= gemmParWork && parallel.Workers() > 1 && k >= 4*max(m, n) && k >= 2*gemmKCMax:
		return routeSplitK
	}
	return routeBlocked
}

// sgemmNativeBlocked runs a product that sgemmNative gives to the blocked
// driver there, on the same kernel (so with its floats), for what plain
// Sgemm cannot do: with a bias (beta 1; a kernel with a bias store,
// biasTile), SgemmBias, the first k block's micro-kernels adding the bias
// as they store C; with then, SgemmThen's hand-over of finished blocks.
// It reports false, having done nothing, for any other product or kernel.
// C is stored where dst says (a split one only where its split starts a
// B panel: SgemmSplit).
func sgemmNativeBlocked(kern *microKernel, par bool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias []float32, dst colSplit, then func(i0, i1, j0, j1 int)) bool {
	kern = forShape(kern, m, n)
	if kern == nil || bias != nil && kern.biasTile == nil || m <= 0 || n <= 0 || k <= 0 || alpha == 0 || !dst.fits(kern.nr) || nativeRoute(kern, par, m, n, k) != routeBlocked {
		return false
	}
	dst.check(transA, transB, m, n, k, a, lda, b, ldb)
	if bias != nil {
		bias = bias[:n]
	}
	sgemmBlockedSplit(kern, par && m*n*k >= gemmParWork, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, dst, then)
	return true
}

// sgemmSplitK handles k ≫ m, n (weight gradients dW = dYᵀ·X): worker w
// computes the partial product over its slice of k independently (no
// barrier per k block), into C (worker 0) or a scratch m×n buffer, and the
// partials are summed into C: C = alpha·Σ_w op(A)[:, K_w]·op(B)[K_w, :] + beta·C.
func sgemmSplitK(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	w := parallel.Workers()
	tmp, th := getBuf((w - 1) * m * n)
	defer putBuf(th)
	parallel.For(w, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			k0, k1 := i*k/w, (i+1)*k/w
			ao, bo := k0, k0*ldb
			if transA {
				ao = k0 * lda
			}
			if transB {
				bo = k0
			}
			if i == 0 {
				sgemmBlocked(kern, false, transA, transB, m, n, k1-k0, alpha, a[ao:], lda, b[bo:], ldb, beta, c, ldc)
			} else {
				sgemmBlocked(kern, false, transA, transB, m, n, k1-k0, alpha, a[ao:], lda, b[bo:], ldb, 0, tmp[(i-1)*m*n:], n)
			}
		}
	})
	parallel.For(m, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := c[i*ldc : i*ldc+n]
			for t := 0; t < w-1; t++ {
				part := tmp[t*m*n+i*n : t*m*n+i*n+n]
				for j, v := range part {
					row[j] += v
				}
			}
		}
	})
}

// kBlock is the k block size of the blocked drivers: k split evenly into
// blocks of at most kcMax.
func kBlock(k, kcMax int) int {
	nkb := (k + kcMax - 1) / kcMax
	return (k + nkb - 1) / nkb
}

// nBlock is the n block size: a multiple of nr whose packed B block (kc
// rows of elements of size bytes) fits gemmBBytes, n split evenly.
func nBlock(n, nr, kc, size int) int {
	ncMax := max(nr, gemmBBytes/size/kc/nr*nr)
	njb := (n + ncMax - 1) / ncMax
	return ((n+njb-1)/njb + nr - 1) / nr * nr
}

// panelGroups is how many groups the npan B panels of an n block are split
// into, so that workers have at least about four items each when there are
// few row panels (each item is one row panel against one group).
func panelGroups(workers, rowPanels, npan int) int {
	if workers > 1 && rowPanels < 4*workers {
		return min(npan, (4*workers+rowPanels-1)/rowPanels)
	}
	return 1
}

// sgemmBlocked is the cache-blocked driver: for each k block and n block it
// packs op(B) into nr-wide panels shared by all workers, then the workers
// take (row panel, column group) items; each A micro-panel (mr rows) is
// either read in place through (row, k) byte strides or packed, and kept in
// L1 while the B panels stream from L2.
func sgemmBlocked(kern *microKernel, par bool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmBlockedSplit(kern, par, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, nil, colSplit{c: c, ldc: ldc}, nil)
}

// sgemmBlockedSplit is sgemmBlocked storing C where dst says (one matrix,
// or two: SgemmSplit) that, with a bias (length n, beta 1, a kernel with
// biasTile), first sets each row of C to the bias: the first k block's
// micro-kernels store alpha·Â·B̂ + bias without reading C, so C is neither
// filled nor read in a pass of its own. The floats are those of filling C
// and calling sgemmBlocked. A non-nil then is called for each work item's
// block of C once the last k block has been stored into it (SgemmThen).
func sgemmBlockedSplit(kern *microKernel, par bool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias []float32, dst colSplit, then func(i0, i1, j0, j1 int)) {
	g, _ := gemmPool.Get().(*blockedGemm)
	if g == nil {
		g = new(blockedGemm)
	}
	*g = blockedGemm{kern: kern, transA: transA, transB: transB, m: m, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, colSplit: dst, then: then}
	defer func() {
		*g = blockedGemm{} // no references to the operands kept in the pool
		gemmPool.Put(g)
	}()
	mr, nr := kern.mr, kern.nr
	kc := kBlock(k, gemmKCMax)
	nc := nBlock(n, nr, kc, 4)
	workers := 1
	if par {
		workers = parallel.Workers()
	}
	g.rowPanels = (m + mr - 1) / mr

	// Transposed A with several row panels, each used against several B
	// panels: all its micro-panels of a k block are packed at once,
	// reading A's rows in order (packing one panel at a time reads a few
	// floats from each of kb rows: one cache line per k step, fetched
	// again for the next panel). Against one to three B panels (attention's
	// dV = Pᵀ·dO, 64 columns) packing costs more than it saves: the
	// kernels read A in place (dV 197×64×197: 106 → 188 GFLOP/s).
	if transA && g.rowPanels > 1 && packTransAAll && (n+nr-1)/nr >= 4 {
		var aph *[]float32
		g.apk, aph = getBuf(g.rowPanels * kc * kern.mrPad)
		defer putBuf(aph)
	}

	for pc := 0; pc < k; pc += kc {
		g.pc, g.kb = pc, min(kc, k-pc)
		g.beta, g.beta0 = beta, beta == 0
		if pc > 0 {
			g.beta, g.beta0 = 1, false
		}
		g.bias = nil
		if pc == 0 && bias != nil {
			g.bias, g.beta0 = bias, true
		}
		if g.apk != nil {
			packATransAll(kern, par && workers > 1, a, lda, m, pc, g.kb, g.apk)
		}
		for jc := 0; jc < n; jc += nc {
			g.jc, g.nb = jc, min(nc, n-jc)
			g.npan = (g.nb + nr - 1) / nr
			// The kernel reads untransposed B's whole panels in place rather
			// than after a copy (only an edge panel is packed) where the copy
			// cannot pay: with one row panel (a rank-8 adapter's dBu = dtᵀ·x,
			// 8 rows against the whole of x) each B element is used once,
			// and a block of at most 32 KB (the shipped backbone's per-head
			// v, k, q and dO, 50×32) stays in L1 between row panels anyway.
			g.bInPlace = bInPlace && kern.stridedB != nil && !transB && (g.rowPanels == 1 || g.kb*g.nb <= bInPlaceMax)
			if g.bbuf == nil && (!g.bInPlace || g.nb%nr != 0) { // some panel is packed
				var bh *[]float32
				g.bbuf, bh = getBuf(nc * kc)
				defer putBuf(bh)
			}
			switch {
			case g.bInPlace:
				if g.nb%nr != 0 {
					g.packB(g.npan-1, g.npan)
				}
			case workers > 1 && g.npan > 1 && g.kb*g.nb >= 1<<14:
				parallel.For(g.npan, 1, g.packB)
			default:
				g.packB(0, g.npan)
			}
			g.start(workers, g.rowPanels, g.npan)
			// Pack A micro-panels when they are reused over enough B panels
			// (transposed A: packing is a cheap copy; plain A: a transpose).
			g.packA = transA && g.npan/g.groups >= 4 || !transA && kern.tb == 16 && packPlainA(lda, g.npan/g.groups)
			g.run(workers, g.work)
		}
	}
}

// itemQueue hands out a blocked product's work items, a row panel against
// a group of B panels each: claimed a run at a time with an atomic add by
// several workers, or taken in order, without one, by a single goroutine
// (serial). A locked add on x86 waits for the stores before it to drain,
// the item's tile stores of C among them: on attention's per-head products
// (50×50×32, five items) the claims cost 9% of the attention's time
// (BenchmarkAttention/shipped), and on ViT-Tiny's layer products, one
// claim per item, 1.8% of a bf16 GLoRA supernet step (2 cores of a Zen 5).
// So a worker claims a run of items, guided: a quarter of what it last saw
// left, shared among the workers, and one at a time near the end, so that
// no worker is left with much more than an item's work when the others
// finish. Until a second worker has joined (a product inside a parallel
// loop, attention's per head, usually runs alone: the pool's workers are
// busy with the other heads) the first claims half of what is left at a
// time. A run also keeps a row panel's groups on one worker, which packs
// that panel once.
type itemQueue struct {
	groups, items int          // B panel groups; row panel × group work items
	workers       int          // the goroutines that claim items
	serial        bool         // one goroutine takes every item in order
	next          atomic.Int64 // the next item to claim
	joined        atomic.Bool  // a worker other than the first has started
}

// claim is one worker's run of claimed items: t up to end.
type claim struct{ t, end int }

// start sets up the items of rowPanels row panels against npan B panels
// for workers workers.
func (q *itemQueue) start(workers, rowPanels, npan int) {
	q.groups = panelGroups(workers, rowPanels, npan)
	q.items = rowPanels * q.groups
	q.workers = workers
	q.next.Store(0)
	q.joined.Store(false)
	q.serial = workers == 1 || q.items == 1
}

// join marks that worker w of work(w, w+1) has started.
func (q *itemQueue) join(w int) {
	if w > 0 && !q.joined.Load() {
		q.joined.Store(true)
	}
}

// run runs work on the workers, or on this goroutine when serial.
func (q *itemQueue) run(workers int, work func(lo, hi int)) {
	if q.serial {
		work(0, 1)
		return
	}
	parallel.For(min(workers, q.items), 1, work)
}

// take is a worker's next item, from its run c or a new run it claims:
// its row panel and its group of B panels, ok false when none is left.
func (q *itemQueue) take(c *claim) (rp, gr int, ok bool) {
	if c.t >= c.end {
		if q.serial {
			if c.end == q.items {
				return 0, 0, false
			}
			c.t, c.end = 0, q.items
		} else {
			share := 4 * q.workers
			if !q.joined.Load() {
				share = 2
			}
			n := max(1, (q.items-c.end)/share)
			e := int(q.next.Add(int64(n)))
			c.t, c.end = e-n, min(e, q.items)
		}
		if c.t >= c.end {
			return 0, 0, false
		}
	}
	t := c.t
	c.t++
	return t / q.groups, t % q.groups, true
}

// gemmPool recycles sgemmBlocked's call state.
var gemmPool sync.Pool

// blockedGemm is one sgemmBlocked call: its operands, and the k and n
// block being multiplied, shared by the workers (one value per call, from
// a pool, so that a small product allocates nothing: closures over the
// driver's variables cost seven allocations a call).
type blockedGemm struct {
	kern           *microKernel
	transA, transB bool
	m, k           int
	alpha          float32
	a, b           []float32
	lda, ldb       int
	colSplit                                // where C's columns go
	then           func(i0, i1, j0, j1 int) // SgemmThen's, or nil

	bbuf, apk []float32 // packed B block; all of transposed A's micro-panels (or nil)
	rowPanels int

	pc, kb       int // the k block
	beta         float32
	beta0        bool
	bias         []float32 // the first k block's: stored with it by biasTile
	jc, nb, npan int       // the n block and its B panels
	packA        bool
	bInPlace     bool // the kernel reads B's whole panels in place (stridedB); only an edge panel is packed
	itemQueue
}

// packB packs B panels lo..hi-1 of the current k and n block.
func (g *blockedGemm) packB(lo, hi int) {
	nr := g.kern.nr
	for jp := lo; jp < hi; jp++ {
		packBPanel(g.kern, g.transB, g.b, g.ldb, g.pc, g.kb, g.jc+jp*nr, min(nr, g.nb-jp*nr), g.bbuf[jp*g.kb*nr:(jp+1)*g.kb*nr])
	}
}

// work multiplies work items (a row panel against a group of B panels,
// from itemQueue) until none is left.
func (g *blockedGemm) work(w, _ int) {
	g.join(w)
	kern, kb := g.kern, g.kb
	mr, nr := kern.mr, kern.nr
	a, lda, pc := g.a, g.lda, g.pc
	abuf, ah := getBuf(kb * kern.mrPad)
	defer putBuf(ah)
	var c claim
	for {
		rp, gr, ok := g.take(&c)
		if !ok {
			return
		}
		i0 := rp * mr
		rows := min(mr, g.m-i0)
		var ap unsafe.Pointer
		var rs, cs uintptr
		switch {
		case g.apk != nil:
			ap, rs, cs = unsafe.Pointer(&g.apk[rp*kb*kern.mrPad]), 4, uintptr(kern.mrPad)*4
		case g.packA || rows < mr && !g.edgeInPlace(i0):
			packAPanel(kern, g.transA, a, lda, i0, rows, pc, kb, abuf)
			ap, rs, cs = unsafe.Pointer(&abuf[0]), 4, uintptr(kern.mrPad)*4
		case g.transA:
			ap, rs, cs = unsafe.Pointer(&a[pc*lda+i0]), 4, uintptr(lda)*4
		default:
			ap, rs, cs = unsafe.Pointer(&a[i0*lda+pc]), uintptr(lda)*4, 4
		}
		jlo, jhi := gr*g.npan/g.groups, (gr+1)*g.npan/g.groups
		for jp := jlo; jp < jhi; jp++ {
			j0 := jp * nr
			cols := min(nr, g.nb-j0)
			cp, ldc := g.at(i0, g.jc+j0)
			var bias unsafe.Pointer
			if g.bias != nil {
				bias = unsafe.Pointer(&g.bias[g.jc+j0])
			}
			switch {
			case cols <= nr/2 && kern.halfB != nil && halfEdge:
				kern.halfB(kb, ap, rs, cs, unsafe.Pointer(&g.bbuf[jp*kb*nr]), uintptr(nr)*4, cp, ldc, g.alpha, g.beta, rows, cols, g.beta0, bias)
			case g.bInPlace && cols == nr:
				kern.stridedB(kb, ap, rs, cs, unsafe.Pointer(&g.b[g.pc*g.ldb+g.jc+j0]), uintptr(g.ldb)*4, cp, ldc,
					g.alpha, g.beta, rows, cols, g.beta0, bias)
			case bias != nil:
				kern.biasTile(kb, ap, rs, cs, unsafe.Pointer(&g.bbuf[jp*kb*nr]), cp, ldc, g.alpha, rows, cols, bias)
			default:
				kern.tile(kb, ap, rs, cs, unsafe.Pointer(&g.bbuf[jp*kb*nr]), cp, ldc, g.alpha, g.beta, rows, cols, g.beta0)
			}
		}
		if g.then != nil && g.pc+kb == g.k {
			// the item's block is final and still in cache
			g.handOver(g.then, i0, i0+rows, g.jc+jlo*nr, g.jc+min(jhi*nr, g.nb))
		}
	}
}

// edgeInPlace reports whether the kernel can read the edge row panel at
// row i0 (fewer than mr rows left) in place: the kernels read all mr rows
// of a panel, and here the rows past op(A)'s last one exist in a (the
// next batch item's, or the rest of a larger buffer). What the kernel
// computes from them goes to tile rows it does not store (a tile's rows
// are independent), so the stored floats are those of a zero-padded
// packed panel. Attention's 50-token heads end in 2-row panels.
func (g *blockedGemm) edgeInPlace(i0 int) bool {
	if !edgeAInPlace {
		return false
	}
	mr := g.kern.mr
	if g.transA { // op(A)(i,p) = a[p·lda+i]
		return (g.pc+g.kb-1)*g.lda+i0+mr <= len(g.a)
	}
	return (i0+mr-1)*g.lda+g.pc+g.kb <= len(g.a)
}

// halfEdge lets an edge panel of at most nr/2 columns run on the kernel's
// halfB (off: tests).
var halfEdge = true

// edgeAInPlace turns on edgeInPlace (off: tests of the packed edge panels).
var edgeAInPlace = true

// packPlainAMode decides whether untransposed A micro-panels are packed:
// 0 never, 1 always (tests), 2 for L1-aliasing row strides with enough reuse.
var packPlainAMode = 2

// packPlainA reports whether to pack an untransposed A micro-panel with row
// stride lda that is used for reuse B panels.
func packPlainA(lda, reuse int) bool {
	switch packPlainAMode {
	case 0:
		return false
	case 1:
		return true
	}
	// Row strides that are a multiple of 1 KiB map the micro-panel's rows onto
	// few L1 sets; packing (a transpose) avoids the conflict misses but only
	// pays off when the panel meets many B panels.
	return reuse >= 16 && (lda*4)%1024 == 0
}

// packTransAAll turns on packATransAll (off: tests of the per-panel path).
var packTransAAll = true

// bInPlace lets a product of one row panel, or with a B block of at most
// bInPlaceMax floats, read untransposed B in place (off: tests of the
// packed path).
var bInPlace = true

// bInPlaceMax is the largest B block (k block × n block, in floats) read in
// place by a product of several row panels: 32 KB, an L1 data cache.
// BenchmarkAttention/shipped (2 cores of a Zen 5, 10 pairs alternating
// with the packed path): 7.70 → 7.33 ms (medians). At 64 KB, ViT-Tiny's
// 197×64 blocks included, BenchmarkAttention/vit-tiny did not move (17.83
// → 17.74 ms, 6 pairs).
const bInPlaceMax = 1 << 13

// edgeBInPlace lets packBPanel transpose a transposed B's edge group
// whole where the rows past it exist (off: tests of the element loop).
var edgeBInPlace = true

// packATransAll packs every micro-panel of op(A) = Aᵀ (A stored k×m) for
// the k block [pc, pc+kb): panel rp into dst[rp·kb·mrPad:] as [kb][mrPad],
// zero-padding the last panel's missing rows. Each row of A is read once,
// in order; with par, ranges of k rows go to the workers.
func packATransAll(kern *microKernel, par bool, a []float32, lda, m, pc, kb int, dst []float32) {
	if par && kb*m >= 1<<15 {
		parallel.For(kb, max(1, (1<<13)/max(m, 1)), func(lo, hi int) { packATransRows(kern, a, lda, m, pc, kb, dst, lo, hi) })
	} else {
		packATransRows(kern, a, lda, m, pc, kb, dst, 0, kb) // no closure: a small product allocates nothing
	}
}

// packATransRows is packATransAll for A's rows pc+lo … pc+hi-1.
func packATransRows(kern *microKernel, a []float32, lda, m, pc, kb int, dst []float32, lo, hi int) {
	mr, ps := kern.mr, kern.mrPad
	rowPanels := (m + mr - 1) / mr
	for p := lo; p < hi; p++ {
		row := a[(pc+p)*lda : (pc+p)*lda+m]
		rp0 := 0 // panels done
		if kern.copy6 != nil && mr == 6 && ps == 6 && m >= 6 {
			rp0 = m / 6
			kern.copy6(unsafe.Pointer(&dst[p*6]), uintptr(kb)*24, unsafe.Pointer(&row[0]), 24, rp0)
		}
		for rp := rp0; rp < rowPanels; rp++ {
			i0 := rp * mr
			d := dst[(rp*kb+p)*ps : (rp*kb+p+1)*ps]
			if i0+mr <= m && mr == 14 && ps == 16 {
				// 16-byte moves, not a memmove and a clear call per panel (the
				// compiler calls memmove for a 56-byte array)
				s := row[i0 : i0+14 : i0+14]
				*(*[4]float32)(d[0:]) = *(*[4]float32)(s[0:])
				*(*[4]float32)(d[4:]) = *(*[4]float32)(s[4:])
				*(*[4]float32)(d[8:]) = *(*[4]float32)(s[8:])
				*(*[2]float32)(d[12:]) = *(*[2]float32)(s[12:])
				*(*[2]float32)(d[14:]) = [2]float32{}
				continue
			}
			// the edge panel (and other kernels' panels; AVX2's full ones went
			// through copy6 above): element by element,
			// zero past m, without a memmove and a clear call per k step
			src := row[i0:]
			for i := range d {
				if i < mr && i < len(src) {
					d[i] = src[i]
				} else {
					d[i] = 0
				}
			}
		}
	}
}

// packAPanel packs rows [i0, i0+rows) and columns [pc, pc+kb) of op(A) into
// dst as [kb][mrPad], zero-filling rows rows..mr-1.
func packAPanel(kern *microKernel, transA bool, a []float32, lda, i0, rows, pc, kb int, dst []float32) {
	mr, ps := kern.mr, kern.mrPad
	if transA {
		// op(A)(i,p) = a[p·lda+i]: each k step is a contiguous run.
		if kern.rowCopy != nil && ps == 16 {
			kern.rowCopy(unsafe.Pointer(&dst[0]), unsafe.Pointer(&a[pc*lda+i0]), uintptr(lda)*4, kb, rows, 16)
			return
		}
		if mr == 6 && rows == 6 && kern.copy6 != nil && kb > 0 {
			kern.copy6(unsafe.Pointer(&dst[0]), uintptr(ps)*4, unsafe.Pointer(&a[pc*lda+i0]), uintptr(lda)*4, kb)
			return
		}
		for p := 0; p < kb; p++ {
			d := dst[p*ps : p*ps+mr]
			copy(d, a[(pc+p)*lda+i0:(pc+p)*lda+i0+rows])
			clear(d[rows:])
		}
		return
	}
	p0 := 0
	if kern.tb == 16 && ps == 16 && (i0+15)*lda+pc+kb <= len(a) && kb >= 16 {
		// 16 source rows exist in a: those past the panel's rows (the two
		// past a full panel, and an edge panel's) are packed too, and what
		// the kernel computes from them is not stored (a tile's rows are
		// independent). Attention's 50-row heads end in 8-row edge panels.
		blocks := kb / 16
		kern.transpose(unsafe.Pointer(&dst[0]), 64, unsafe.Pointer(&a[i0*lda+pc]), uintptr(lda)*4, blocks)
		p0 = blocks * 16
	}
	if p0 == kb {
		return
	}
	for i := 0; i < mr; i++ {
		if i >= rows {
			for p := p0; p < kb; p++ {
				dst[p*ps+i] = 0
			}
			continue
		}
		src := a[(i0+i)*lda+pc+p0 : (i0+i)*lda+pc+kb]
		for q, v := range src {
			dst[(p0+q)*ps+i] = v
		}
	}
}

// packBPanel packs columns [j0, j0+cols) and rows [pc, pc+kb) of op(B) into
// dst as [kb][nr], zero-filling columns cols..nr-1.
func packBPanel(kern *microKernel, transB bool, b []float32, ldb, pc, kb, j0, cols int, dst []float32) {
	nr := kern.nr
	if !transB {
		if kern.rowCopy != nil && kb > 0 {
			kern.rowCopy(unsafe.Pointer(&dst[0]), unsafe.Pointer(&b[pc*ldb+j0]), uintptr(ldb)*4, kb, cols, nr)
			return
		}
		for p := 0; p < kb; p++ {
			d := dst[p*nr : p*nr+nr]
			copy(d, b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+cols])
			clear(d[cols:])
		}
		return
	}
	// op(B)(p,j) = b[j·ldb+p]: a transpose. Whole groups of tb columns
	// (all of a full panel; the first of an edge panel such as attention's
	// 197 = 6·32 + 5 or 50 = 32 + 18 keys) go through the tb×tb transpose
	// for the k steps it covers; so does an edge panel's last, partial group
	// where the rows of b past it exist (its columns past cols then hold
	// those rows, whose products the kernel does not store, and not zeros);
	// the rest, one element at a time, and zeros past that.
	p0, full := 0, 0 // columns [0, full) are done for k steps [0, p0)
	if tb := kern.tb; tb > 0 && nr%tb == 0 && kb >= tb {
		blocks := kb / tb
		full = cols / tb * tb
		if full < cols && edgeBInPlace && (j0+full+tb-1)*ldb+pc+blocks*tb <= len(b) {
			full += tb
		}
		for h := 0; h < full; h += tb {
			kern.transpose(unsafe.Pointer(&dst[h]), uintptr(nr)*4, unsafe.Pointer(&b[(j0+h)*ldb+pc]), uintptr(ldb)*4, blocks)
		}
		p0 = blocks * tb
	}
	jEnd := nr // columns [jEnd, nr) are done
	if z := max(cols, full); z%8 == 0 && z < nr {
		// whole groups of 8 padding columns: zeros, 32 bytes a store
		for p := 0; p < kb; p++ {
			for j := z; j < nr; j += 8 {
				*(*[8]float32)(dst[p*nr+j:]) = [8]float32{}
			}
		}
		jEnd = z
	}
	for j := 0; j < jEnd; j++ {
		from := 0
		if j < full {
			from = p0
		}
		if j >= cols {
			for p := from; p < kb; p++ {
				dst[p*nr+j] = 0
			}
			continue
		}
		src := b[(j0+j)*ldb+pc+from : (j0+j)*ldb+pc+kb]
		for q, v := range src {
			dst[(from+q)*nr+j] = v
		}
	}
}

// sgemmBatchedNative runs SgemmStridedBatched on kern: small matrices are
// spread over the batch (one thread per matrix), large ones use the pool
// inside each product.
func sgemmBatchedNative(kern *microKernel, batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if batch <= 0 {
		return
	}
	forBatch(batch, m*n*max(k, 1), func(i int, par bool) {
		sgemmNative(kern, par, transA, transB, m, n, k, alpha, a[min(i*strideA, len(a)):], lda, b[min(i*strideB, len(b)):], ldb, beta, c[i*strideC:], ldc)
	})
}

// forBatch runs one(i, par) for i < batch: small products (work = m·n·k
// each) spread over the batch, one thread per product (par false); large
// ones in turn, each on the whole pool (par true).
func forBatch(batch, work int, one func(i int, par bool)) {
	w := parallel.Workers()
	if batch == 1 || w == 1 || batch < w || (batch < 2*w && work >= 1<<21) {
		for i := 0; i < batch; i++ {
			one(i, true)
		}
		return
	}
	var next atomic.Int64
	parallel.For(w, 1, func(_, _ int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= batch {
				return
			}
			one(i, false)
		}
	})
}
