//go:build ignore

// gemm_asmgen writes gemm_amd64.s: the AVX-512 (14×32, and 28×16 for
// narrow products) and AVX2 SGEMM micro-kernels and the 16×16 (AVX-512)
// and 8×8 (AVX2) transposes used to pack transposed operands.
//
//	go run gemm_asmgen.go asmgen_transpose.go
package main

import (
	"fmt"
	"math/bits"
	"os"
	"strings"
)

var sb strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&sb, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&sb, "%s:\n", l) }

// rowBases are the registers the rows of an A micro-panel hang off, four
// rows each: BX = row stride, DX = 3·BX.
var rowBases = []string{"SI", "R8", "R9", "R10", "R12", "R13", "AX"}

// rowAddr is the address of row i of the A micro-panel (i < 28): rows 0-3
// off SI, 4-7 off R8, 8-11 off R9, 12-15 off R10, 16-19 off R12, 20-23
// off R13, 24-27 off AX.
func rowAddr(i int) string {
	base := rowBases[i/4]
	switch i % 4 {
	case 0:
		return "(" + base + ")"
	case 1:
		return "(" + base + ")(BX*1)"
	case 2:
		return "(" + base + ")(BX*2)"
	}
	return "(" + base + ")(DX*1)"
}

// vecAt is the address of zmm vector v of a row at DI (or of the bias at
// reg): 64 bytes apart.
func vecAt(reg string, v int) string {
	if v == 0 {
		return "(" + reg + ")"
	}
	return fmt.Sprintf("%d(%s)", 64*v, reg)
}

// kernel512 emits sgemmKernel14x32 (mr = 14, nr = 32 in zmm registers);
// with pf, the variant that software-prefetches B 8 steps ahead.
func kernel512(pf bool) {
	name, L := "sgemmKernel14x32", "k512"
	if pf {
		name, L = "sgemmKernel14x32pf", "k512pf"
	}
	kernelZMM(name, L, 14, 2, pf, false, "")
}

// kernel512s emits sgemmKernel14x32s: sgemmKernel14x32pf reading B in
// place, row p of B̂ at b + p·ldb bytes (32 floats), prefetched 8 rows
// ahead, where packing B cannot pay (bInPlace in gemm_driver.go: a
// product of one row panel, such as a rank-8 adapter's dBu = dtᵀ·x, 8 rows
// against the whole of x, or a B block that stays in L1). The same
// instructions on the same values otherwise, so the same floats.
func kernel512s() { kernelZMM("sgemmKernel14x32s", "k512s", 14, 2, true, true, "") }

// kernel512h emits sgemmKernel14x16s, the left half of sgemmKernel14x32s
// (one zmm register a row): for a B panel of at most 16 valid columns,
// packed 32 wide (row stride 128 bytes) or in place, where the 14×32
// kernel would compute 32 columns for at most 16 (attention's 197 keys end
// in a panel of 5; a rank-8 adapter's columns ride in one of 8,
// SgemmSplit). The same chain of fused multiply-adds for every element and
// the same store, so the floats of sgemmKernel14x32.
func kernel512h() { kernelZMM("sgemmKernel14x16s", "k512h", 14, 1, true, true, "") }

// kernel512n emits sgemmKernel28x16, the narrow AVX-512 kernel (mr = 28,
// nr = 16: one zmm register per row) for products of at most 16 columns,
// such as a rank-8 LoRA product, where the 14×32 kernel would compute 32
// columns for 8. Each element's sum is the same chain of fused
// multiply-adds over k, and its store the same alpha·acc + beta·C (or +
// bias), so its results are those of sgemmKernel14x32 bit for bit. B is
// software-prefetched 8 steps ahead, as in sgemmKernel14x32pf.
func kernel512n() { kernelZMM("sgemmKernel28x16", "k512n", 28, 1, true, false, " (i < 28)") }

// kernelZMM emits an AVX-512 micro-kernel of mr rows and vecs zmm
// registers (16 columns each) per row, accumulators Z4 on, 4 + mr·vecs ≤
// 32; with pf, B is prefetched 8 steps ahead; strided, B's rows are ldb
// bytes apart (an extra argument, in R12: mr ≤ 16). rowNote follows "A
// element (i,p) is at a + i·rs + p·cs bytes" in its comment.
func kernelZMM(name, L string, mr, vecs int, pf, strided bool, rowNote string) {
	nr := 16 * vecs
	acc := func(i, v int) int { return 4 + vecs*i + v }
	args, frame, layout := "", 96, "B is packed [k]["+fmt.Sprint(nr)+"]"
	if strided {
		args, frame, layout = ", ldb uintptr", 104, "row p of B is at b + p·ldb bytes"
	}
	sb.WriteString(`
// func ` + name + `(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32` + args + `)
// C[0:rows, cols(mask)] = alpha·Apanel·Bpanel + beta·C (C not read when beta0 != 0;
// then, with bias != nil, C = alpha·Apanel·Bpanel + bias[cols] on every row).
// A element (i,p) is at a + i·rs + p·cs bytes` + rowNote + `; ` + layout + `.
TEXT ·` + name + `(SB), NOSPLIT, $0-` + fmt.Sprint(frame) + `
`)
	bases := rowBases[:(mr+3)/4]
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ rs+16(FP), BX")
	p("MOVQ cs+24(FP), R11")
	p("MOVQ b+32(FP), DI")
	if strided {
		p("MOVQ ldb+96(FP), R12")
	}
	p("LEAQ (BX)(BX*2), DX")
	for j := 1; j < len(bases); j++ {
		p("LEAQ (%s)(BX*4), %s", bases[j-1], bases[j])
	}
	for r := 4; r < 4+mr*vecs; r++ {
		p("VPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	p("TESTQ CX, CX")
	p("JEQ %s_store", L)
	label(L + "_loop")
	for v := 0; v < vecs; v++ {
		p("VMOVUPS %s, Z%d", vecAt("DI", v), v)
	}
	switch {
	case pf && strided: // 8 rows ahead
		for v := 0; v < vecs; v++ {
			p("PREFETCHT0 %s(R12*8)", vecAt("DI", v))
		}
	case pf:
		for v := 0; v < vecs; v++ {
			p("PREFETCHT0 %d(DI)", 8*4*nr+64*v)
		}
	}
	for i := 0; i < mr; i++ {
		t := 2 + i%2
		p("VBROADCASTSS %s, Z%d", rowAddr(i), t)
		for v := 0; v < vecs; v++ {
			p("VFMADD231PS Z%d, Z%d, Z%d", v, t, acc(i, v))
		}
	}
	if strided {
		p("ADDQ R12, DI")
	} else {
		p("ADDQ $%d, DI", 4*nr)
	}
	for _, r := range bases {
		p("ADDQ R11, %s", r)
	}
	p("DECQ CX")
	p("JNE %s_loop", L)
	label(L + "_store")
	p("MOVQ c+40(FP), DI")
	p("MOVQ ldc+48(FP), R11")
	p("MOVQ rows+64(FP), CX")
	p("MOVQ mask+72(FP), AX")
	p("KMOVW AX, K1")
	if vecs == 2 {
		p("SHRQ $16, AX")
		p("KMOVW AX, K2")
	}
	p("VBROADCASTSS alpha+56(FP), Z2")
	p("VBROADCASTSS beta+60(FP), Z3")
	p("MOVQ beta0+80(FP), AX")
	p("TESTQ AX, AX")
	p("JNE %s_store0", L)
	// C is read: a tile of all its columns reads it with plain loads (Zen
	// cores run masked loads from memory several times slower), an edge
	// tile with masked ones. Same arithmetic either way.
	p("MOVQ mask+72(FP), AX")
	if vecs == 2 {
		p("CMPL AX, $-1")
	} else {
		p("CMPQ AX, $0xffff")
	}
	p("JEQ %s_storeF", L)
	// next moves DI to the next row, or ends the store after the last of rows.
	next := func(last bool) {
		if !last {
			p("DECQ CX")
			p("JEQ %s_done", L)
			p("ADDQ R11, DI")
		}
	}
	for _, full := range []bool{false, true} {
		if full {
			label(L + "_storeF")
		}
		for i := 0; i < mr; i++ {
			for v := 0; v < vecs; v++ {
				if full {
					p("VMOVUPS %s, Z%d", vecAt("DI", v), v)
				} else {
					p("VMOVUPS.Z %s, K%d, Z%d", vecAt("DI", v), 1+v, v)
				}
			}
			for v := 0; v < vecs; v++ {
				p("VMULPS Z2, Z%d, Z%d", acc(i, v), acc(i, v))
			}
			for v := 0; v < vecs; v++ {
				p("VFMADD231PS Z3, Z%d, Z%d", v, acc(i, v))
			}
			for v := 0; v < vecs; v++ {
				p("VMOVUPS Z%d, K%d, %s", acc(i, v), 1+v, vecAt("DI", v))
			}
			next(i == mr-1)
		}
		p("JMP %s_done", L)
	}
	label(L + "_store0")
	// With a bias: C = alpha·acc + bias, the floats of beta 1 onto a C
	// filled with the bias (the FMA above with beta 1 rounds once, as
	// VADDPS does), without C being filled or read.
	p("MOVQ bias+88(FP), AX")
	p("TESTQ AX, AX")
	p("JEQ %s_plain", L)
	for v := 0; v < vecs; v++ {
		p("VMOVUPS.Z %s, K%d, Z%d", vecAt("AX", v), 1+v, v)
	}
	for _, bias := range []bool{true, false} {
		if !bias {
			label(L + "_plain")
		}
		for i := 0; i < mr; i++ {
			for v := 0; v < vecs; v++ {
				p("VMULPS Z2, Z%d, Z%d", acc(i, v), acc(i, v))
			}
			if bias {
				for v := 0; v < vecs; v++ {
					p("VADDPS Z%d, Z%d, Z%d", v, acc(i, v), acc(i, v))
				}
			}
			for v := 0; v < vecs; v++ {
				p("VMOVUPS Z%d, K%d, %s", acc(i, v), 1+v, vecAt("DI", v))
			}
			next(i == mr-1)
		}
		if bias {
			p("JMP %s_done", L)
		}
	}
	label(L + "_done")
	p("VZEROUPPER")
	p("RET")
}

// kernelAVX2 emits sgemmKernel6x16 (mr = 6, nr = 16 in ymm registers).
// A full tile (mask nil) is stored whole; an edge tile stores its first
// rows rows through the column mask (VMASKMOVPS: the columns past it are
// neither read nor written), with the same floats.
func kernelAVX2() {
	kernelYMM("sgemmKernel6x16", "k256", 6, 2, `
// C[0:6, 0:16] = alpha·Apanel·Bpanel + beta·C (C not read when beta0 != 0;
// then, with bias != nil, C = alpha·Apanel·Bpanel + bias[0:16] on every row).
// With mask != nil, only C[0:rows, j] for the j whose mask[j] is all ones.
`)
}

// kernelAVX2N emits sgemmKernel12x8, sgemmKernel6x16 for products of at
// most 8 columns (a rank-8 LoRA's t = x·Buᵀ and dt = dy·Bd): 12 rows of one
// ymm register each, where the 6×16 kernel computes 16 columns for 8.
func kernelAVX2N() {
	kernelYMM("sgemmKernel12x8", "k12x8", 12, 1, `
// sgemmKernel6x16 for a 12×8 tile (mask: 8 lanes).
`)
}

// kernelAVX2S emits sgemmKernel6x16s, sgemmKernel6x16 reading B in place
// (see bInPlace), and sgemmKernel8x8s, sgemmKernel6x16 for products of at
// most 8 rows (a rank-8 LoRA's weight gradients dBd = tᵀ·dy and dBu =
// dtᵀ·x): one row panel, so B is read once, in place, row p at b + p·ldb
// bytes, where the 6×16 kernel packs it and computes 12 rows for 8.
//
// sgemmKernel8x8s prefetches B 16 rows ahead: it walks down 8 columns of
// a B whose rows are a layer's width apart (3 KB for ViT-Tiny's fc2 input
// x), one cache line a k step, a pattern the hardware prefetchers do not
// follow, so without it each step waited on memory (8×768×6304, Zen 3, 2
// cores: 31–46 → 64–77 GFLOP/s; 8 rows ahead did less, 32 and 64 no
// better). sgemmKernel6x16s reads B blocks that fit L1 (bInPlaceMax) and
// prefetches nothing.
func kernelAVX2S() {
	kernelYMMS("sgemmKernel6x16s", "k256s", 6, 2, `
// sgemmKernel6x16, B's row p read at b + p·ldb bytes.
`, true, 0)
	kernelYMMS("sgemmKernel8x8s", "k8x8s", 8, 1, `
// sgemmKernel6x16 for an 8×8 tile, B's row p at b + p·ldb bytes (mask: 8
// lanes), prefetched 16 rows ahead.
`, true, 16)
}

// kernelAVX2H emits sgemmKernel6x8s, the left half of sgemmKernel6x16s
// (one ymm register a row): for a B panel of at most 8 valid columns,
// packed 16 wide (row stride 64 bytes) or in place, where the 6×16 kernel
// would compute 16 columns for at most 8 (attention's 197 keys end in a
// panel of 5; a rank-8 adapter's columns ride in one of 8, SgemmSplit).
// The same floats as sgemmKernel6x16.
func kernelAVX2H() {
	kernelYMMS("sgemmKernel6x8s", "k6x8s", 6, 1, `
// sgemmKernel6x16 for a 6×8 tile, B's row p at b + p·ldb bytes (mask: 8
// lanes).
`, true, 0)
}

// kernelYMM emits an AVX2 kernel of mr rows of nv ymm registers (at most
// 12 accumulators, Y4…Y15: row i, vector h in Y(4+nv·i+h)). B's vectors
// are loaded into Y0 (and Y1); A's elements are broadcast into the rest
// of Y1…Y3 in turn.
func kernelYMM(name, L string, mr, nv int, doc string) { kernelYMMS(name, L, mr, nv, doc, false, 0) }

// kernelYMMS is kernelYMM; with strided, the kernel takes B's row stride
// in bytes (ldb, after mask) instead of reading B̂ packed, and with pfRows
// (a power of two) it prefetches B's row p + pfRows at each step p.
func kernelYMMS(name, L string, mr, nv int, doc string, strided bool, pfRows int) {
	args, frame := "", 96
	if strided {
		args, frame = ", ldb uintptr", 104
	}
	fmt.Fprintf(&sb, "\n// func %s(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32%s)%sTEXT ·%s(SB), NOSPLIT, $0-%d\n", name, args, doc, name, frame)
	acc := func(i, h int) int { return 4 + nv*i + h }
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ rs+16(FP), BX")
	p("MOVQ cs+24(FP), R11")
	p("MOVQ b+32(FP), DI")
	if strided {
		p("MOVQ ldb+96(FP), R12")
	}
	if pfRows > 0 { // R13 = pfRows·ldb
		p("MOVQ R12, R13")
		p("SHLQ $%d, R13", bits.TrailingZeros(uint(pfRows)))
	}
	p("LEAQ (BX)(BX*2), DX")
	for r := 1; r < (mr+3)/4; r++ {
		p("LEAQ (%s)(BX*4), %s", rowBases[r-1], rowBases[r])
	}
	for r := 4; r < 4+mr*nv; r++ {
		p("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	p("TESTQ CX, CX")
	p("JEQ %s_store", L)
	label(L + "_loop")
	for h := 0; h < nv; h++ {
		p("VMOVUPS %s, Y%d", vecAtY("DI", h), h)
	}
	if pfRows > 0 {
		p("PREFETCHT0 (DI)(R13*1)")
	}
	temps := 4 - nv
	for i := 0; i < mr; i++ {
		t := nv + i%temps
		p("VBROADCASTSS %s, Y%d", rowAddr(i), t)
		for h := 0; h < nv; h++ {
			p("VFMADD231PS Y%d, Y%d, Y%d", h, t, acc(i, h))
		}
	}
	if strided {
		p("ADDQ R12, DI")
	} else {
		p("ADDQ $%d, DI", 32*nv)
	}
	for r := 0; r < (mr+3)/4; r++ {
		p("ADDQ R11, %s", rowBases[r])
	}
	p("DECQ CX")
	p("JNE %s_loop", L)
	label(L + "_store")
	p("MOVQ c+40(FP), DI")
	p("MOVQ ldc+48(FP), R11")
	p("VBROADCASTSS alpha+56(FP), Y2")
	p("VBROADCASTSS beta+60(FP), Y3")
	p("MOVQ mask+88(FP), AX")
	p("TESTQ AX, AX")
	p("JNE %s_edge", L)
	p("MOVQ beta0+64(FP), AX")
	p("TESTQ AX, AX")
	p("JNE %s_store0", L)
	for i := 0; i < mr; i++ {
		for h := 0; h < nv; h++ {
			p("VMULPS Y2, Y%d, Y%d", acc(i, h), acc(i, h))
		}
		for h := 0; h < nv; h++ {
			p("VFMADD231PS %s, Y3, Y%d", vecAtY("DI", h), acc(i, h))
		}
		for h := 0; h < nv; h++ {
			p("VMOVUPS Y%d, %s", acc(i, h), vecAtY("DI", h))
		}
		p("ADDQ R11, DI")
	}
	p("VZEROUPPER")
	p("RET")
	label(L + "_store0")
	// With a bias: C = alpha·acc + bias, the floats of the FMA above with
	// beta 1 onto a C filled with the bias (both round once).
	p("MOVQ bias+72(FP), AX")
	p("TESTQ AX, AX")
	p("JEQ %s_plain", L)
	for h := 0; h < nv; h++ {
		p("VMOVUPS %s, Y%d", vecAtY("AX", h), h)
	}
	for _, bias := range []bool{true, false} {
		if !bias {
			label(L + "_plain")
		}
		for i := 0; i < mr; i++ {
			for h := 0; h < nv; h++ {
				p("VMULPS Y2, Y%d, Y%d", acc(i, h), acc(i, h))
			}
			if bias {
				for h := 0; h < nv; h++ {
					p("VADDPS Y%d, Y%d, Y%d", h, acc(i, h), acc(i, h))
				}
			}
			for h := 0; h < nv; h++ {
				p("VMOVUPS Y%d, %s", acc(i, h), vecAtY("DI", h))
			}
			p("ADDQ R11, DI")
		}
		p("VZEROUPPER")
		p("RET")
	}
	// The edge tile: Y0 (and Y1) hold the column mask, every accumulator
	// is scaled by alpha first (freeing Y2 for C or the bias), then row by
	// row the same operations as above through masked loads and stores,
	// until rows rows are stored.
	label(L + "_edge")
	for h := 0; h < nv; h++ {
		p("VMOVDQU %s, Y%d", vecAtY("AX", h), h)
	}
	p("MOVQ rows+80(FP), R9")
	for r := 4; r < 4+mr*nv; r++ {
		p("VMULPS Y2, Y%d, Y%d", r, r)
	}
	p("MOVQ beta0+64(FP), AX")
	p("TESTQ AX, AX")
	p("JNE %s_edge0", L)
	edgeRows := func(E string, row func(i int)) {
		for i := 0; i < mr; i++ {
			if i > 0 {
				p("CMPQ R9, $%d", i)
				p("JEQ %s_done", E)
				p("ADDQ R11, DI")
			}
			row(i)
		}
		label(E + "_done")
		p("VZEROUPPER")
		p("RET")
	}
	edgeRows(L+"_edgeb", func(i int) {
		for h := 0; h < nv; h++ {
			p("VMASKMOVPS %s, Y%d, Y2", vecAtY("DI", h), h)
			p("VFMADD231PS Y2, Y3, Y%d", acc(i, h))
			p("VMASKMOVPS Y%d, Y%d, %s", acc(i, h), h, vecAtY("DI", h))
		}
	})
	label(L + "_edge0")
	p("MOVQ bias+72(FP), AX")
	p("TESTQ AX, AX")
	p("JEQ %s_edgep", L)
	edgeRows(L+"_edgebias", func(i int) {
		for h := 0; h < nv; h++ {
			p("VMASKMOVPS %s, Y%d, Y2", vecAtY("AX", h), h)
			p("VADDPS Y2, Y%d, Y%d", acc(i, h), acc(i, h))
			p("VMASKMOVPS Y%d, Y%d, %s", acc(i, h), h, vecAtY("DI", h))
		}
	})
	label(L + "_edgep")
	edgeRows(L+"_edgeplain", func(i int) {
		for h := 0; h < nv; h++ {
			p("VMASKMOVPS Y%d, Y%d, %s", acc(i, h), h, vecAtY("DI", h))
		}
	})
}

// vecAtY is the address of ymm vector v of a row at reg: 32 bytes apart.
func vecAtY(reg string, v int) string {
	if v == 0 {
		return "(" + reg + ")"
	}
	return fmt.Sprintf("%d(%s)", 32*v, reg)
}

// transpose16 emits transpose16x16: for each of blocks 16-column blocks of a
// 16-row source (row stride ss bytes), writes the transposed 16×16 block to
// dst (row stride ds bytes), i.e. dst[p][i] = src[i][p].
func transpose16() {
	sb.WriteString(`
// func transpose16x16(dst *float32, ds uintptr, src *float32, ss uintptr, blocks int)
TEXT ·transpose16x16(SB), NOSPLIT, $0-40
`)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ ds+8(FP), R11")
	p("MOVQ src+16(FP), SI")
	p("MOVQ ss+24(FP), BX")
	p("MOVQ blocks+32(FP), CX")
	p("LEAQ (BX)(BX*2), DX")
	p("TESTQ CX, CX")
	p("JEQ t16_done")
	label("t16_loop")
	// Load 16 rows into Z0..Z15 (rows 0-3 off SI, 4-7 off R8, ...).
	p("LEAQ (SI)(BX*4), R8")
	p("LEAQ (R8)(BX*4), R9")
	p("LEAQ (R9)(BX*4), R10")
	for i := 0; i < 16; i++ {
		p("VMOVUPS %s, Z%d", rowAddr(i), i)
	}
	transposeZ()
	p("MOVQ DI, AX")
	for i := 0; i < 16; i++ {
		p("VMOVUPS Z%d, (AX)", i)
		p("ADDQ R11, AX")
	}
	p("MOVQ AX, DI")
	p("ADDQ $64, SI")
	p("DECQ CX")
	p("JNE t16_loop")
	label("t16_done")
	p("VZEROUPPER")
	p("RET")
}

// transpose8 emits transpose8x8, the AVX2 counterpart of transpose16x16: for each of
// blocks 8-column blocks of an 8-row source (row stride ss bytes), writes
// the transposed 8×8 block to dst (row stride ds bytes), i.e.
// dst[p][i] = src[i][p]. Each half of 4 columns loads rows i and i+4 into
// the two 128-bit lanes of one register, so two unpacks and a shufps give
// whole rows of the transpose, with no lane crossing.
func transpose8() {
	sb.WriteString(`
// func transpose8x8(dst *float32, ds uintptr, src *float32, ss uintptr, blocks int)
TEXT ·transpose8x8(SB), NOSPLIT, $0-40
`)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ ds+8(FP), R11")
	p("MOVQ src+16(FP), SI")
	p("MOVQ ss+24(FP), BX")
	p("MOVQ blocks+32(FP), CX")
	p("LEAQ (BX)(BX*2), DX")
	p("TESTQ CX, CX")
	p("JEQ t8_done")
	label("t8_loop")
	p("LEAQ (SI)(BX*4), R8")
	p("MOVQ DI, AX")
	for half := 0; half < 2; half++ {
		off := ""
		if half == 1 {
			off = "16"
		}
		// Yi = [row i, columns 4h…4h+3 | row i+4, the same columns]
		for i := 0; i < 4; i++ {
			p("VMOVUPS %s%s, X%d", off, rowAddr(i), i)
			p("VINSERTF128 $1, %s%s, Y%d, Y%d", off, rowAddr(i+4), i, i)
		}
		p("VUNPCKLPS Y1, Y0, Y4")      // [a0 b0 a1 b1 | e0 f0 e1 f1]
		p("VUNPCKHPS Y1, Y0, Y5")      // [a2 b2 a3 b3 | e2 f2 e3 f3]
		p("VUNPCKLPS Y3, Y2, Y6")      // [c0 d0 c1 d1 | g0 h0 g1 h1]
		p("VUNPCKHPS Y3, Y2, Y7")      // [c2 d2 c3 d3 | g2 h2 g3 h3]
		p("VSHUFPS $0x44, Y6, Y4, Y8") // column 4h: [a0 b0 c0 d0 | e0 f0 g0 h0]
		p("VSHUFPS $0xEE, Y6, Y4, Y9")
		p("VSHUFPS $0x44, Y7, Y5, Y10")
		p("VSHUFPS $0xEE, Y7, Y5, Y11")
		for j := 0; j < 4; j++ {
			p("VMOVUPS Y%d, (AX)", 8+j)
			p("ADDQ R11, AX")
		}
	}
	p("MOVQ AX, DI")
	p("ADDQ $32, SI")
	p("DECQ CX")
	p("JNE t8_loop")
	label("t8_done")
	p("VZEROUPPER")
	p("RET")
}

// packAVX2 emits the AVX2 packing copies. packMasked16AVX2 is packMasked16
// with the lanes to keep given as a vector of 16 masks (all ones: keep),
// and plain loads when all are kept. copy6 copies n groups of 6 floats:
// one k step of a transposed A into each of the AVX2 kernel's 6-float
// micro-panels, or one micro-panel's k steps.
func packAVX2() {
	sb.WriteString(`
// func packMasked16AVX2(dst *float32, src *float32, ss uintptr, k int, mask *int32, full int)
TEXT ·packMasked16AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ss+16(FP), BX
	MOVQ k+24(FP), CX
	MOVQ mask+32(FP), AX
	MOVQ full+40(FP), DX
	TESTQ CX, CX
	JEQ pm16a_done
	TESTQ DX, DX
	JNE pm16a_full
	VMOVDQU (AX), Y2
	VMOVDQU 32(AX), Y3
`)
	maskedCopyLoops("pm16a", []string{"VMASKMOVPS (SI), Y2, Y0", "VMASKMOVPS 32(SI), Y3, Y1"},
		[]string{"VMOVUPS (SI), Y0", "VMOVUPS 32(SI), Y1"}, []string{"VMOVUPS Y0, (DI)", "VMOVUPS Y1, 32(DI)"}, 64)
	sb.WriteString(`
// func copy6(dst *float32, ds uintptr, src *float32, ss uintptr, n int)
TEXT ·copy6(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ds+8(FP), R11
	MOVQ src+16(FP), SI
	MOVQ ss+24(FP), BX
	MOVQ n+32(FP), CX
	TESTQ CX, CX
	JEQ c6_done
c6_loop:
	VMOVUPS (SI), X0
	VMOVQ 16(SI), X1
	VMOVUPS X0, (DI)
	VMOVQ X1, 16(DI)
	ADDQ BX, SI
	ADDQ R11, DI
	DECQ CX
	JNE c6_loop
c6_done:
	RET
`)
}

// packMasked emits packMasked16/32: for each of k steps, a masked load of
// 16 (32) floats from src (zeros beyond mask) stored whole to dst; src
// advances ss bytes and dst 64 (128) bytes per step. A full mask takes a
// copy of the loop with plain loads: Zen cores run masked loads from memory
// several times slower when the rows stream from beyond the cache.
func packMasked() {
	sb.WriteString(`
// func packMasked16(dst *float32, src *float32, ss uintptr, k int, mask int)
TEXT ·packMasked16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ss+16(FP), BX
	MOVQ k+24(FP), CX
	MOVQ mask+32(FP), AX
	KMOVW AX, K1
	TESTQ CX, CX
	JEQ pm16_done
	CMPQ AX, $0xffff
	JEQ pm16_full
`)
	maskedCopyLoops("pm16", []string{"VMOVUPS.Z (SI), K1, Z0"}, []string{"VMOVUPS (SI), Z0"}, []string{"VMOVUPS Z0, (DI)"}, 64)
	sb.WriteString(`
// func packMasked32(dst *float32, src *float32, ss uintptr, k int, mask int)
TEXT ·packMasked32(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ss+16(FP), BX
	MOVQ k+24(FP), CX
	MOVQ mask+32(FP), AX
	TESTQ CX, CX
	JEQ pm32_done
	CMPL AX, $-1 // all 32 lanes
	JEQ pm32_full
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
`)
	maskedCopyLoops("pm32", []string{"VMOVUPS.Z (SI), K1, Z0", "VMOVUPS.Z 64(SI), K2, Z1"},
		[]string{"VMOVUPS (SI), Z0", "VMOVUPS 64(SI), Z1"}, []string{"VMOVUPS Z0, (DI)", "VMOVUPS Z1, 64(DI)"}, 128)
}

// maskedCopyLoops emits the two copy loops the masked row copies share,
// for k (CX) steps from src (SI, advancing ss = BX bytes) to dst (DI,
// advancing step bytes): L_loop with the masked loads, L_full with the
// plain ones (for a full mask; see packMasked), both storing the vectors
// whole; then L_done returns.
func maskedCopyLoops(L string, masked, plain, stores []string, step int) {
	for _, loop := range []struct {
		name  string
		loads []string
	}{{"loop", masked}, {"full", plain}} {
		label(L + "_" + loop.name)
		for _, ins := range append(append([]string(nil), loop.loads...), stores...) {
			p("%s", ins)
		}
		p("ADDQ BX, SI")
		p("ADDQ $%d, DI", step)
		p("DECQ CX")
		p("JNE %s_%s", L, loop.name)
		if loop.name == "loop" {
			p("JMP %s_done", L)
		}
	}
	label(L + "_done")
	p("VZEROUPPER")
	p("RET")
}

// cpuid emits the CPUID/XGETBV helpers used for feature detection.
func cpuid() {
	sb.WriteString(`
// func cpuid(eax, ecx uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eax+0(FP), AX
	MOVL ecx+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv0() (lo, hi uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, lo+0(FP)
	MOVL DX, hi+4(FP)
	RET
`)
}

func main() {
	sb.WriteString("// Code generated by gemm_asmgen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	kernel512(false)
	kernel512(true)
	kernel512n()
	kernel512s()
	kernel512h()
	kernelAVX2()
	kernelAVX2N()
	kernelAVX2S()
	kernelAVX2H()
	transpose16()
	transpose8()
	packMasked()
	packAVX2()
	cpuid()
	if err := os.WriteFile("gemm_amd64.s", []byte(sb.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
