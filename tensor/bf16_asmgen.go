//go:build ignore

// bf16_asmgen writes bf16_amd64.s: the bfloat16 GEMM kernels (AVX512-BF16
// and AMX) and the f32 → bf16 packing helpers.
//
//	go run bf16_asmgen.go asmgen_transpose.go          # write bf16_amd64.s
//	go run bf16_asmgen.go asmgen_transpose.go -check   # also compare every hand-encoded
//	                                                   # instruction with GNU as (binutils ≥ 2.38)
//
// The Go assembler knows neither AVX512-BF16 nor AMX, so those instructions
// are emitted as BYTE sequences, each preceded by a comment with the
// instruction in Intel syntax. The -check mode assembles the same Intel
// syntax with GNU as and fails on any byte that differs.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

var sb strings.Builder

// encoded records every hand-encoded instruction (Intel syntax → bytes) for -check.
var encoded []struct {
	intel string
	b     []byte
}

func p(format string, args ...any) { fmt.Fprintf(&sb, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&sb, "%s:\n", l) }

// raw emits the bytes of one instruction with its Intel-syntax comment.
func raw(intel string, b []byte) {
	encoded = append(encoded, struct {
		intel string
		b     []byte
	}{intel, b})
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("BYTE $0x%02x", x)
	}
	fmt.Fprintf(&sb, "\t// %s\n\t%s\n", intel, strings.Join(parts, "; "))
}

// Register numbers of the general registers, by Go name, and their Intel names.
var gpr = map[string]int{"AX": 0, "CX": 1, "DX": 2, "BX": 3, "SP": 4, "BP": 5, "SI": 6, "DI": 7,
	"R8": 8, "R9": 9, "R10": 10, "R11": 11, "R12": 12, "R13": 13, "R14": 14, "R15": 15}
var intelGPR = []string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

// mem is a memory operand base + index·1 + disp (index < 0: none).
type mem struct {
	base, index int
	disp        int
}

func (m mem) intel() string {
	s := intelGPR[m.base]
	if m.index >= 0 {
		s += "+" + intelGPR[m.index] + "*1"
	}
	if m.disp != 0 {
		s += fmt.Sprintf("%+d", m.disp)
	}
	return "[" + s + "]"
}

// modrm encodes reg (low 3 bits) with memory operand m; n is the EVEX
// disp8 scale (1 for VEX). It returns the ModRM, SIB and displacement bytes.
func modrm(reg int, m mem, n int) []byte {
	var out []byte
	mod, disp := 0, []byte(nil)
	switch {
	case m.disp == 0 && m.base&7 != 5:
		mod = 0
	case m.disp%n == 0 && m.disp/n >= -128 && m.disp/n <= 127:
		mod, disp = 1, []byte{byte(int8(m.disp / n))}
	default:
		d := uint32(int32(m.disp))
		mod, disp = 2, []byte{byte(d), byte(d >> 8), byte(d >> 16), byte(d >> 24)}
	}
	if m.index < 0 && m.base&7 != 4 {
		out = append(out, byte(mod<<6|(reg&7)<<3|m.base&7))
	} else {
		idx := 4 // no index
		if m.index >= 0 {
			idx = m.index & 7
		}
		out = append(out, byte(mod<<6|(reg&7)<<3|4), byte(0<<6|idx<<3|m.base&7))
	}
	return append(out, disp...)
}

// evexMem encodes an EVEX.512 instruction "op zmm(dst), zmm(src1), mem"
// (map 0F38 when mm = 2), with {1to16} embedded broadcast when bcst.
func evexMem(op byte, pp int, dst, src1 int, m mem, bcst bool) []byte {
	idx := 0
	if m.index >= 0 {
		idx = m.index
	}
	p0 := byte((^dst>>3&1)<<7 | (^idx>>3&1)<<6 | (^m.base>>3&1)<<5 | (^dst>>4&1)<<4 | 2)
	p1 := byte(0<<7 | (^src1&15)<<3 | 1<<2 | pp)
	b := 0
	n := 64
	if bcst {
		b, n = 1, 4
	}
	p2 := byte(0<<7 | 2<<5 | b<<4 | (^src1>>4&1)<<3)
	return append([]byte{0x62, p0, p1, p2, op}, modrm(dst, m, n)...)
}

// evexReg encodes an EVEX.512 instruction "op zmm(dst), zmm(src1), zmm(src2)" (map 0F38).
func evexReg(op byte, pp int, dst, src1, src2 int) []byte {
	p0 := byte((^dst>>3&1)<<7 | (^src2>>4&1)<<6 | (^src2>>3&1)<<5 | (^dst>>4&1)<<4 | 2)
	p1 := byte(0<<7 | (^src1&15)<<3 | 1<<2 | pp)
	p2 := byte(0<<7 | 2<<5 | (^src1>>4&1)<<3)
	return []byte{0x62, p0, p1, p2, op, byte(3<<6 | (dst&7)<<3 | src2&7)}
}

// vex3 encodes a VEX.128 map-0F38 W0 instruction with ModRM memory operand.
func vex3Mem(op byte, pp int, reg int, vvvv int, m mem) []byte {
	idx := 0
	if m.index >= 0 {
		idx = m.index
	}
	b1 := byte((^reg>>3&1)<<7 | (^idx>>3&1)<<6 | (^m.base>>3&1)<<5 | 2)
	b2 := byte(0<<7 | (^vvvv&15)<<3 | 0<<2 | pp)
	return append([]byte{0xc4, b1, b2, op}, modrm(reg, m, 1)...)
}

func vex3Reg(op byte, pp int, reg, vvvv, rm int) []byte {
	b1 := byte((^reg>>3&1)<<7 | 1<<6 | (^rm>>3&1)<<5 | 2)
	b2 := byte(0<<7 | (^vvvv&15)<<3 | 0<<2 | pp)
	return []byte{0xc4, b1, b2, op, byte(3<<6 | (reg&7)<<3 | rm&7)}
}

const (
	ppNP = 0
	pp66 = 1
	ppF3 = 2
	ppF2 = 3
)

// VDPBF16PS zmm(acc) += pairs of zmm(x) · broadcast dword at m.
func vdpbf16psBcst(acc, x int, m mem) {
	raw(fmt.Sprintf("vdpbf16ps zmm%d, zmm%d, dword ptr %s{1to16}", acc, x, m.intel()), evexMem(0x52, ppF3, acc, x, m, true))
}

// VDPBF16PS zmm(acc) += pairs of zmm(x) · pairs of zmm(y).
func vdpbf16psReg(acc, x, y int) {
	raw(fmt.Sprintf("vdpbf16ps zmm%d, zmm%d, zmm%d", acc, x, y), evexReg(0x52, ppF3, acc, x, y))
}

// VCVTNE2PS2BF16 zmm(dst) = [bf16(zmm(lo)) | bf16(zmm(hi))]: words 0-15 from lo, 16-31 from hi.
func vcvtne2ps2bf16(dst, hi, lo int) {
	raw(fmt.Sprintf("vcvtne2ps2bf16 zmm%d, zmm%d, zmm%d", dst, hi, lo), evexReg(0x72, ppF2, dst, hi, lo))
}

func ldtilecfg(m mem) { raw("ldtilecfg "+m.intel(), vex3Mem(0x49, ppNP, 0, 0, m)) }
func tilerelease()    { raw("tilerelease", []byte{0xc4, 0xe2, 0x78, 0x49, 0xc0}) }
func tilezero(t int)  { raw(fmt.Sprintf("tilezero tmm%d", t), vex3Reg(0x49, ppF2, t, 0, 0)) }
func tileloadd(t int, m mem) {
	raw(fmt.Sprintf("tileloadd tmm%d, %s", t, m.intel()), vex3Mem(0x4b, ppF2, t, 0, m))
}
func tilestored(m mem, t int) {
	raw(fmt.Sprintf("tilestored %s, tmm%d", m.intel(), t), vex3Mem(0x4b, ppF3, t, 0, m))
}

// tdpbf16ps: tmm(c) += tmm(a) · tmm(b) (a: rows × 32 bf16, b: 16 pair-rows × 16 columns).
func tdpbf16ps(c, a, b int) {
	raw(fmt.Sprintf("tdpbf16ps tmm%d, tmm%d, tmm%d", c, a, b), vex3Reg(0x5c, ppF3, c, b, a))
}

// kernelDP emits sbgemmKernel14x32: the AVX512-BF16 micro-kernel. A is
// packed [kp][16] dwords (one bf16 pair of row i at k = 2q, 2q+1 per
// dword), B packed [kp][32] dwords (the pair of column j); per pair step,
// 28 VDPBF16PS accumulate C's 14×32 tile in Z4-Z31 (f32). With vecs = 1
// it emits sbgemmKernel14x16, the same kernel on the first 16 columns of
// each B pair row (an edge panel of at most 16 columns: 14 VDPBF16PS a
// step instead of 28), whose floats are the 14×32 kernel's on them.
func kernelDP(vecs int) {
	const mr = 14
	name, L := "sbgemmKernel14x32", "kdp"
	if vecs == 1 {
		name, L = "sbgemmKernel14x16", "kdh"
	}
	acc := func(i, v int) int { return 4 + vecs*i + v }
	sb.WriteString(`
// func ` + name + `(kp int, a *uint16, b *uint16, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32)
// C[0:rows, cols(mask)] = alpha·Â·B̂ + beta·C (C not read when beta0 != 0;
// then, with bias != nil, C = alpha·Â·B̂ + bias[cols] on every row):
// Â packed [kp][16] bf16 pairs, B̂ packed [kp][32] bf16 pairs` + map[bool]string{true: " (its first 16 columns)", false: ""}[vecs == 1] + `.
TEXT ·` + name + `(SB), NOSPLIT, $0-80
`)
	p("MOVQ kp+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ b+16(FP), DI")
	for r := 4; r < 4+mr*vecs; r++ {
		p("VPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	// step emits one pair step: B's vectors at DI+128·u, each A pair
	// (SI+64·u+4·i) broadcast once and multiplied into the row's
	// accumulators.
	step := func(u int) {
		for v := 0; v < vecs; v++ {
			p("VMOVUPS %d(DI), Z%d", 128*u+64*v, v)
		}
		for v := 0; v < vecs; v++ {
			p("PREFETCHT0 %d(DI)", 1024+128*u+64*v)
		}
		for i := 0; i < mr; i++ {
			t := 2 + i%2
			p("VPBROADCASTD %d(SI), Z%d", 64*u+4*i, t)
			for v := 0; v < vecs; v++ {
				vdpbf16psReg(acc(i, v), v, t)
			}
		}
	}
	// two pair steps a turn, then the odd one
	p("MOVQ CX, DX")
	p("SHRQ $1, DX")
	p("JEQ %s_tail", L)
	label(L + "_loop")
	step(0)
	step(1)
	p("ADDQ $256, DI")
	p("ADDQ $128, SI")
	p("DECQ DX")
	p("JNE %s_loop", L)
	label(L + "_tail")
	p("TESTQ $1, CX")
	p("JEQ %s_store", L)
	step(0)
	label(L + "_store")
	p("MOVQ c+24(FP), DI")
	p("MOVQ ldc+32(FP), R11")
	p("MOVQ rows+48(FP), CX")
	p("MOVQ mask+56(FP), AX")
	p("KMOVW AX, K1")
	if vecs == 2 {
		p("SHRQ $16, AX")
		p("KMOVW AX, K2")
	}
	p("VBROADCASTSS alpha+40(FP), Z2")
	p("VBROADCASTSS beta+44(FP), Z3")
	p("MOVQ beta0+64(FP), AX")
	p("TESTQ AX, AX")
	p("JNE %s_store0", L)
	p("MOVQ mask+56(FP), AX")
	if vecs == 2 {
		p("CMPL AX, $-1")
	} else {
		p("CMPQ AX, $0xffff")
	}
	p("JEQ %s_storeF", L)
	done := L + "_done"
	storeTileRows(mr, vecs, true, false, done)
	p("JMP %s", done)
	label(L + "_storeF")
	storeTileRows(mr, vecs, true, true, done)
	p("JMP %s", done)
	label(L + "_store0")
	p("MOVQ bias+72(FP), AX")
	p("TESTQ AX, AX")
	p("JEQ %s_plain", L)
	for v := 0; v < vecs; v++ {
		p("VMOVUPS.Z %s(AX), K%d, Z%d", off(64*v), 1+v, v)
	}
	storeTileRows(mr, vecs, false, true, done)
	p("JMP %s", done)
	label(L + "_plain")
	storeTileRows(mr, vecs, false, false, done)
	label(done)
	p("VZEROUPPER")
	p("RET")
}

// storeTileRows emits the store of the accumulators Z4.. (vecs zmm per
// row): for each of CX ≥ 1 rows at DI (row stride R11), C = alpha·acc
// (Z2 = alpha) or, with beta, alpha·acc + beta·C (Z3 = beta), columns
// masked by K1/K2; it jumps to done after the last row. With beta, full
// reads C with plain loads (a tile of all its columns): Zen cores run masked
// loads from memory several times slower. Without beta, full adds the bias
// row in Z0/Z1: C = alpha·acc + bias, the floats of the FMA with beta 1
// onto a C filled with the bias (both round once).
func storeTileRows(mr, vecs int, beta, full bool, done string) {
	for i := 0; i < mr; i++ {
		a := 4 + vecs*i
		for v := 0; v < vecs; v++ {
			switch {
			case beta && full:
				p("VMOVUPS %s(DI), Z%d", off(64*v), v)
			case beta:
				p("VMOVUPS.Z %s(DI), K%d, Z%d", off(64*v), 1+v, v)
			}
		}
		for v := 0; v < vecs; v++ {
			p("VMULPS Z2, Z%d, Z%d", a+v, a+v)
		}
		if !beta && full {
			for v := 0; v < vecs; v++ {
				p("VADDPS Z%d, Z%d, Z%d", v, a+v, a+v)
			}
		}
		if beta {
			for v := 0; v < vecs; v++ {
				p("VFMADD231PS Z3, Z%d, Z%d", v, a+v)
			}
		}
		for v := 0; v < vecs; v++ {
			p("VMOVUPS Z%d, K%d, %s(DI)", a+v, 1+v, off(64*v))
		}
		if i < mr-1 {
			p("DECQ CX")
			p("JEQ %s", done)
			p("ADDQ R11, DI")
		}
	}
}

// off is a byte offset as the assembler text writes it: none for 0.
func off(d int) string {
	if d == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

// kernelAMX emits amxRowPanel: for each of npan B panels, the 32×32 f32
// block C += Â·B̂ (or C = Â·B̂ when zero != 0) with four accumulator tiles:
// tmm0-3 hold C's quarters, tmm4/5 the A rows 0-15/16-31 (16 rows × 32
// bf16), tmm6/7 the B columns 0-15/16-31 (16 pair rows × 16 columns).
// Â is [32][32·kc32] bf16 (row stride lda bytes); each B panel is
// [16·kc32][32] bf16 pairs (128 bytes per pair row), panels bs bytes
// apart; C has row stride ldc bytes and advances 128 bytes per panel.
func kernelAMX() {
	sb.WriteString(`
// func amxRowPanel(kc32 int, a *uint16, lda uintptr, b *uint16, bs uintptr, npan int, c *float32, ldc uintptr, zero int, cfg *byte)
TEXT ·amxRowPanel(SB), NOSPLIT, $0-80
`)
	p("MOVQ cfg+72(FP), AX")
	ldtilecfg(mem{base: gpr["AX"], index: -1})
	p("MOVQ b+24(FP), R12")
	p("MOVQ npan+40(FP), R13")
	p("MOVQ c+48(FP), DI")
	p("MOVQ ldc+56(FP), DX")
	p("MOVQ DX, R14")
	p("SHLQ $4, R14") // 16 rows of C
	p("TESTQ R13, R13")
	p("JEQ amx_done")
	label("amx_panel")
	// C tiles: zero or load.
	p("LEAQ (DI)(R14*1), R15")
	p("MOVQ zero+64(FP), AX")
	p("TESTQ AX, AX")
	p("JEQ amx_loadc")
	for t := 0; t < 4; t++ {
		tilezero(t)
	}
	p("JMP amx_k")
	label("amx_loadc")
	tileloadd(0, mem{base: gpr["DI"], index: gpr["DX"]})
	tileloadd(1, mem{base: gpr["DI"], index: gpr["DX"], disp: 64})
	tileloadd(2, mem{base: gpr["R15"], index: gpr["DX"]})
	tileloadd(3, mem{base: gpr["R15"], index: gpr["DX"], disp: 64})
	label("amx_k")
	p("MOVQ kc32+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ lda+16(FP), BX")
	p("MOVQ BX, R8")
	p("SHLQ $4, R8")
	p("ADDQ SI, R8") // A rows 16-31
	p("MOVQ R12, R9")
	p("MOVQ $128, R10")
	p("TESTQ CX, CX")
	p("JEQ amx_store")
	label("amx_kloop")
	tileloadd(4, mem{base: gpr["SI"], index: gpr["BX"]})
	tileloadd(6, mem{base: gpr["R9"], index: gpr["R10"]})
	tileloadd(7, mem{base: gpr["R9"], index: gpr["R10"], disp: 64})
	tdpbf16ps(0, 4, 6)
	tdpbf16ps(1, 4, 7)
	tileloadd(5, mem{base: gpr["R8"], index: gpr["BX"]})
	tdpbf16ps(2, 5, 6)
	tdpbf16ps(3, 5, 7)
	p("ADDQ $64, SI")
	p("ADDQ $64, R8")
	p("ADDQ $2048, R9")
	p("DECQ CX")
	p("JNE amx_kloop")
	label("amx_store")
	tilestored(mem{base: gpr["DI"], index: gpr["DX"]}, 0)
	tilestored(mem{base: gpr["DI"], index: gpr["DX"], disp: 64}, 1)
	tilestored(mem{base: gpr["R15"], index: gpr["DX"]}, 2)
	tilestored(mem{base: gpr["R15"], index: gpr["DX"], disp: 64}, 3)
	p("ADDQ bs+32(FP), R12")
	p("ADDQ $128, DI")
	p("DECQ R13")
	p("JNE amx_panel")
	label("amx_done")
	tilerelease()
	p("RET")
}

// cvtRow emits bf16ConvertRow: dst[i] = bf16(src[i]) for i < n, n a multiple of 32.
func cvtRow() {
	sb.WriteString(`
// func bf16ConvertRow(dst *uint16, src *float32, n int)
TEXT ·bf16ConvertRow(SB), NOSPLIT, $0-24
`)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ n+16(FP), CX")
	p("SHRQ $5, CX")
	p("JEQ cr_done")
	label("cr_loop")
	p("VMOVUPS (SI), Z1")
	p("VMOVUPS 64(SI), Z2")
	vcvtne2ps2bf16(0, 2, 1)
	p("VMOVDQU16 Z0, (DI)")
	p("ADDQ $128, SI")
	p("ADDQ $64, DI")
	p("DECQ CX")
	p("JNE cr_loop")
	label("cr_done")
	p("VZEROUPPER")
	p("RET")
}

// packRows16 emits bf16PackRows16: 16 float32 rows (row i at src + i·ss
// bytes; rows ≥ rows read as zeros) turned into bf16 pairs and transposed,
// 32 floats (16 pairs) of each row at a time: pair step q of row i goes to
// dword i of dst + q·ds bytes. All chunks but the last read 32 floats a row
// and store 16 pair steps; the last reads the floats its masks lo, hi
// (16 bits each) select, zeros elsewhere, and stores its first last steps.
func packRows16() {
	sb.WriteString(`
// func bf16PackRows16(dst *uint16, ds uintptr, src *float32, ss uintptr, rows, chunks, lo, hi, last int)
TEXT ·bf16PackRows16(SB), NOSPLIT, $0-72
`)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ ds+8(FP), R11")
	p("MOVQ src+16(FP), SI")
	p("MOVQ ss+24(FP), BX")
	p("MOVQ rows+32(FP), R12")
	p("MOVQ chunks+40(FP), CX")
	p("TESTQ CX, CX")
	p("JEQ pr_done")
	label("pr_chunk")
	p("MOVQ $16, R13")
	p("CMPQ CX, $1")
	p("JNE pr_full")
	// the last chunk: its floats (masks lo, hi) and its pair steps
	p("MOVQ last+64(FP), R13")
	p("MOVQ lo+48(FP), AX")
	p("MOVQ hi+56(FP), DX")
	p("CMPQ AX, $0xffff")
	p("JNE pr_masked")
	p("CMPQ DX, $0xffff")
	p("JEQ pr_full")
	label("pr_masked")
	p("KMOVW AX, K1")
	p("KMOVW DX, K2")
	// Masked loads only where the chunk has fewer floats: Zen cores run
	// them from memory several times slower than plain ones.
	for _, masked := range []bool{true, false} {
		if !masked {
			label("pr_full")
		}
		p("MOVQ SI, AX")
		for i := 0; i < 16; i++ {
			p("CMPQ R12, $%d", i)
			p("JLE pr_zero%d", i)
			if masked {
				p("VMOVUPS.Z (AX), K1, Z16")
				p("VMOVUPS.Z 64(AX), K2, Z17")
			} else {
				p("VMOVUPS (AX), Z16")
				p("VMOVUPS 64(AX), Z17")
			}
			vcvtne2ps2bf16(i, 17, 16) // dword j of Zi: row i's pair j
			if i < 15 {
				p("ADDQ BX, AX")
			}
		}
		if masked {
			p("JMP pr_transpose")
		}
	}
	p("JMP pr_transpose")
	for i := 0; i < 16; i++ { // rows past the panel's: zeros
		label(fmt.Sprintf("pr_zero%d", i))
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	label("pr_transpose")
	transposeZ()
	p("MOVQ DI, DX")
	for q := 0; q < 16; q++ {
		p("CMPQ R13, $%d", q)
		p("JLE pr_stored")
		p("VMOVDQU32 Z%d, (DX)", q)
		p("ADDQ R11, DX")
	}
	label("pr_stored")
	p("MOVQ DX, DI")
	p("ADDQ $128, SI")
	p("DECQ CX")
	p("JNE pr_chunk")
	label("pr_done")
	p("VZEROUPPER")
	p("RET")
}

// interleavePairs emits bf16InterleavePairs: for pair steps q < kp, rows
// 2q and 2q+1 of src (row stride ld bytes; rows ≥ kb as zeros), 16·blocks
// floats each (blocks 1 or 2; the lanes of block 0 that mask0 selects, of
// block 1 those of mask1, zeros elsewhere), interleaved as bf16 pairs into
// dst (dst[(q·16·blocks + j)·2 + e] = bf16(row 2q+e [j])); perm is
// bf16PairPerm. With every lane selected (masks 0xffff) it reads with
// plain loads: Zen cores run masked loads from memory several times slower.
func interleavePairs() {
	sb.WriteString(`
// func bf16InterleavePairs(dst *uint16, src *float32, ld uintptr, kb, kp, blocks, mask0, mask1 int, perm *uint16)
TEXT ·bf16InterleavePairs(SB), NOSPLIT, $0-72
`)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ ld+16(FP), BX")
	p("MOVQ kb+24(FP), R13")
	p("MOVQ kp+32(FP), CX")
	p("MOVQ blocks+40(FP), R12")
	p("MOVQ perm+64(FP), AX")
	p("VMOVDQU16 (AX), Z9")
	p("XORQ R14, R14") // 2q
	p("TESTQ CX, CX")
	p("JEQ ip_done")
	p("MOVQ mask0+48(FP), AX")
	p("KMOVW AX, K1")
	p("MOVQ mask1+56(FP), DX")
	p("KMOVW DX, K2")
	// every lane of the blocks read: plain loads
	p("CMPQ R12, $1")
	p("JNE ip_two")
	p("CMPQ AX, $0xffff")
	p("JEQ ip_full1")
	p("JMP ip_masked1")
	label("ip_two")
	p("CMPQ AX, $0xffff")
	p("JNE ip_masked2")
	p("CMPQ DX, $0xffff")
	p("JEQ ip_full2")
	p("JMP ip_masked2")
	interleaveLoop("ip_full1", false, 1)
	interleaveLoop("ip_full2", false, 2)
	interleaveLoop("ip_masked1", true, 1)
	interleaveLoop("ip_masked2", true, 2)
	label("ip_done")
	p("VZEROUPPER")
	p("RET")
}

// interleaveLoop emits one of bf16InterleavePairs's loops, at label l:
// masked loads (K1, K2) of two blocks, or plain loads of blocks blocks.
func interleaveLoop(l string, masked bool, blocks int) {
	load := func(disp string, row, z int) {
		addr := "(SI)"
		if row == 1 {
			addr = "(SI)(BX*1)"
		}
		k := map[string]int{"": 1, "64": 2}[disp]
		if masked {
			p("VMOVUPS.Z %s%s, K%d, Z%d", disp, addr, k, z)
		} else {
			p("VMOVUPS %s%s, Z%d", disp, addr, z)
		}
	}
	label(l)
	for row := 0; row < 2; row++ {
		// row 2q+row into Z1+row (block 0) and Z3+row (block 1), zeros past kb
		if row == 0 {
			p("CMPQ R14, R13")
		} else {
			p("LEAQ 1(R14), AX")
			p("CMPQ AX, R13")
		}
		p("JGE %s_zero%d", l, row)
		load("", row, 1+row)
		if blocks == 2 {
			load("64", row, 3+row)
		}
		p("JMP %s_row%d", l, row+1)
		label(fmt.Sprintf("%s_zero%d", l, row))
		p("VPXORD Z%d, Z%d, Z%d", 1+row, 1+row, 1+row)
		if blocks == 2 {
			p("VPXORD Z%d, Z%d, Z%d", 3+row, 3+row, 3+row)
		}
		label(fmt.Sprintf("%s_row%d", l, row+1))
	}
	vcvtne2ps2bf16(0, 2, 1) // words 0-15 = row 2q, 16-31 = row 2q+1
	p("VPERMW Z0, Z9, Z0")  // interleave: word 2j = row 2q [j], 2j+1 = row 2q+1 [j]
	p("VMOVDQU16 Z0, (DI)")
	if blocks == 2 {
		vcvtne2ps2bf16(5, 4, 3)
		p("VPERMW Z5, Z9, Z5")
		p("VMOVDQU16 Z5, 64(DI)")
	}
	p("ADDQ $%d, DI", 64*blocks)
	p("LEAQ (SI)(BX*2), SI")
	p("ADDQ $2, R14")
	p("DECQ CX")
	p("JNE %s", l)
	p("JMP ip_done")
}

// check assembles every hand-encoded instruction with GNU as and compares.
func check() error {
	dir, err := os.MkdirTemp("", "bf16asm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var src strings.Builder
	src.WriteString(".intel_syntax noprefix\n")
	for _, e := range encoded {
		src.WriteString(e.intel + "\n")
	}
	s, o := filepath.Join(dir, "x.s"), filepath.Join(dir, "x.o")
	if err := os.WriteFile(s, []byte(src.String()), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("as", s, "-o", o).CombinedOutput(); err != nil {
		return fmt.Errorf("as: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "x.bin")
	if out, err := exec.Command("objcopy", "-O", "binary", "--only-section=.text", o, bin).CombinedOutput(); err != nil {
		return fmt.Errorf("objcopy: %v\n%s", err, out)
	}
	got, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var want []byte
	for _, e := range encoded {
		want = append(want, e.b...)
	}
	if !bytes.Equal(got, want) {
		off := 0
		for _, e := range encoded {
			n := len(e.b)
			if off+n > len(got) || !bytes.Equal(got[off:off+n], e.b) {
				return fmt.Errorf("%s: encoded % x, GNU as % x", e.intel, e.b, got[off:min(off+n+2, len(got))])
			}
			off += n
		}
		return fmt.Errorf("lengths differ: %d vs %d", len(want), len(got))
	}
	fmt.Printf("bf16_asmgen: %d hand-encoded instructions match GNU as\n", len(encoded))
	return nil
}

func main() {
	doCheck := flag.Bool("check", false, "compare the hand-encoded instructions with GNU as")
	flag.Parse()
	sb.WriteString("// Code generated by bf16_asmgen.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	kernelDP(2)
	kernelDP(1)
	kernelAMX()
	cvtRow()
	packRows16()
	interleavePairs()
	if err := os.WriteFile("bf16_amd64.s", []byte(sb.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *doCheck {
		if err := check(); err != nil {
			fmt.Fprintln(os.Stderr, "bf16_asmgen:", err)
			os.Exit(1)
		}
	}
}
