//go:build ignore

// vec_avx2_asmgen writes vec_avx2_amd64.s: the AVX2+FMA versions of the
// AVX-512 vector kernels in vec_amd64.s, for CPUs without AVX-512 (AMD Zen 2/3,
// Intel before Skylake-SP, Alder Lake). Same math and polynomials; 8 lanes per
// ymm step, the n mod 8 tail in one VMASKMOVPS step (masked-off lanes are
// neither loaded nor stored, so nothing outside the slices is touched).
//
//	go run vec_avx2_asmgen.go
package main

import (
	"fmt"
	"os"
	"strings"
)

var sb strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&sb, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&sb, "%s:\n", l) }

// step is one 8-lane step of a loop body: ld/st are plain moves in the main
// loop and masked moves (mask Y15) in the tail step.
type step struct {
	masked bool
	k      int // unroll index: memory offset k·32 bytes
	sfx    string
	off    string // loopRows: the register of the columns' byte offset
}

func (s step) mem(ptr string) string {
	idx := ""
	if s.off != "" {
		idx = "(" + s.off + "*1)"
	}
	if s.k == 0 {
		return "(" + ptr + ")" + idx
	}
	return fmt.Sprintf("%d(%s)%s", 32*s.k, ptr, idx)
}

func (s step) ld(ptr, reg string) {
	if s.masked {
		p("VMASKMOVPS %s, Y15, %s", s.mem(ptr), reg)
	} else {
		p("VMOVUPS %s, %s", s.mem(ptr), reg)
	}
}

func (s step) st(reg, ptr string) {
	if s.masked {
		p("VMASKMOVPS %s, Y15, %s", reg, s.mem(ptr))
	} else {
		p("VMOVUPS %s, %s", reg, s.mem(ptr))
	}
}

// y names ymm register Y(base+k) for unroll index k.
func y(base, k int) string { return fmt.Sprintf("Y%d", base+k) }

// loop emits: an unrolled main loop of u·8 lanes (u > 1), an 8-lane loop and
// one masked tail step; cnt counts the elements left (it is clobbered), ptrs
// advance by 32 bytes per 8 lanes.
func loop(l, cnt string, ptrs []string, u int, body func(s step)) {
	loopAdv(l, cnt, ptrs, "", u, body)
}

// loopRows is loop over several rows whose base registers stay put: off
// (zeroed here) is the byte offset of the columns, 32 bytes per 8 lanes.
func loopRows(l, cnt, off, from string, u int, body func(s step)) {
	p("XORQ %s, %s", off, off)
	p("MOVQ %s, %s", from, cnt)
	loopAdv(l, cnt, []string{off}, off, u, body)
}

func loopAdv(l, cnt string, ptrs []string, off string, u int, body func(s step)) {
	adv := func(n int) {
		for _, r := range ptrs {
			p("ADDQ $%d, %s", 32*n, r)
		}
		p("SUBQ $%d, %s", 8*n, cnt)
	}
	if u > 1 {
		label(l + "U")
		p("CMPQ %s, $%d", cnt, 8*u)
		p("JL   %s1", l)
		for k := range u {
			body(step{k: k, sfx: fmt.Sprintf("U%d", k), off: off})
		}
		adv(u)
		p("JMP  %sU", l)
	}
	label(l + "1")
	p("CMPQ %s, $8", cnt)
	p("JL   %sTail", l)
	body(step{sfx: "S", off: off})
	adv(1)
	p("JMP  %s1", l)
	label(l + "Tail")
	p("TESTQ %s, %s", cnt, cnt)
	p("JLE  %sDone", l)
	p("LEAQ tailMask<>+32(SB), AX")
	p("NEGQ %s", cnt)
	p("VMOVDQU (AX)(%s*4), Y15", cnt)
	body(step{masked: true, sfx: "T", off: off})
	label(l + "Done")
}

func text(sig, name, frame string) {
	fmt.Fprintf(&sb, "\n// func %s\nTEXT ·%s(SB), NOSPLIT, %s\n", sig, name, frame)
}

func ret() {
	p("VZEROUPPER")
	p("RET")
}

// hsum reduces the 8 lanes of Yr into lane 0 of Xr (Xt scratch).
func hsum(r, t int) {
	p("VEXTRACTF128 $1, Y%d, X%d", r, t)
	p("VADDPS X%d, X%d, X%d", t, r, r)
	p("VPERMILPS $0x4e, X%d, X%d", r, t)
	p("VADDPS X%d, X%d, X%d", t, r, r)
	p("VPERMILPS $0xb1, X%d, X%d", r, t)
	p("VADDPS X%d, X%d, X%d", t, r, r)
}

func hmax(r, t int) {
	p("VEXTRACTF128 $1, Y%d, X%d", r, t)
	p("VMAXPS X%d, X%d, X%d", t, r, r)
	p("VPERMILPS $0x4e, X%d, X%d", r, t)
	p("VMAXPS X%d, X%d, X%d", t, r, r)
	p("VPERMILPS $0xb1, X%d, X%d", r, t)
	p("VMAXPS X%d, X%d, X%d", t, r, r)
}

// exp: x = eˣ as EXPZ in vec_amd64.s; VSCALEFPS becomes two multiplications
// by 2^⌊n/2⌋ and 2^(n−⌊n/2⌋) built from integer exponents, so that results
// overflow to +Inf and underflow gradually through the subnormals exactly
// as VSCALEFPS does (each factor is a normal float; one rounding).
// Clobbers n, t, u.
func exp(x, n, t, u string) {
	p("VMOVUPS expHi<>(SB), %s", t)
	p("VMINPS %s, %s, %s", x, t, x)
	p("VMOVUPS expLo<>(SB), %s", t)
	p("VMAXPS %s, %s, %s", x, t, x)
	p("VMULPS log2e<>(SB), %s, %s", x, n)
	p("VROUNDPS $0, %s, %s", n, n)
	p("VFNMADD231PS ln2Hi<>(SB), %s, %s", n, x)
	p("VFNMADD231PS ln2Lo<>(SB), %s, %s", n, x)
	p("VMOVUPS expP0<>(SB), %s", t)
	for _, c := range []string{"expP1", "expP2", "expP3", "expP4", "expP5", "one", "one"} {
		p("VFMADD213PS %s<>(SB), %s, %s", c, x, t)
	}
	p("VCVTPS2DQ %s, %s", n, n)
	p("VPSRAD $1, %s, %s", n, u)
	p("VPSUBD %s, %s, %s", u, n, n)
	p("VPADDD expBias<>(SB), %s, %s", u, u)
	p("VPSLLD $23, %s, %s", u, u)
	p("VPADDD expBias<>(SB), %s, %s", n, n)
	p("VPSLLD $23, %s, %s", n, n)
	p("VMULPS %s, %s, %s", u, t, x)
	p("VMULPS %s, %s, %s", n, x, x)
}

// erf: u = erf(u) as ERFZ in vec_amd64.s. Clobbers u2, pr, q.
func erf(u, u2, pr, q string) {
	p("VMOVUPS erfClamp<>(SB), %s", pr)
	p("VMINPS %s, %s, %s", u, pr, u)
	p("VMOVUPS negErfClamp<>(SB), %s", pr)
	p("VMAXPS %s, %s, %s", u, pr, u)
	p("VMULPS %s, %s, %s", u, u, u2)
	p("VMOVUPS erfA13<>(SB), %s", pr)
	for _, c := range []string{"erfA11", "erfA9", "erfA7", "erfA5", "erfA3", "erfA1"} {
		p("VFMADD213PS %s<>(SB), %s, %s", c, u2, pr)
	}
	p("VMULPS %s, %s, %s", u, pr, pr)
	p("VMOVUPS erfB8<>(SB), %s", q)
	for _, c := range []string{"erfB6", "erfB4", "erfB2", "erfB0"} {
		p("VFMADD213PS %s<>(SB), %s, %s", c, u2, q)
	}
	p("VDIVPS %s, %s, %s", q, pr, u)
	p("VMOVUPS one<>(SB), %s", pr)
	p("VMINPS %s, %s, %s", u, pr, u)
	p("VMOVUPS negOne<>(SB), %s", pr)
	p("VMAXPS %s, %s, %s", u, pr, u)
}

var consts = []struct {
	name string
	bits uint32
	note string
}{
	{"expHi", 0x42b20000, "89"},
	{"expLo", 0xc2d00000, "-104"},
	{"log2e", 0x3fb8aa3b, "1.4426950408889634"},
	{"ln2Hi", 0x3f318000, "0.693359375"},
	{"ln2Lo", 0xb95e8083, "-0.00021219444"},
	{"expP0", 0x39506967, "0.000198756915"},
	{"expP1", 0x3ab743ce, "0.0013981999507"},
	{"expP2", 0x3c088908, "0.0083334519073"},
	{"expP3", 0x3d2aa9c1, "0.041665795894"},
	{"expP4", 0x3e2aaaaa, "0.16666665459"},
	{"expP5", 0x3f000000, "0.50000001201"},
	{"expBias", 127, "the float32 exponent bias (int32)"},
	{"one", 0x3f800000, "1"},
	{"half", 0x3f000000, "0.5"},
	{"negHalf", 0xbf000000, "-0.5"},
	{"two", 0x40000000, "2"},
	{"negTwo", 0xc0000000, "-2"},
	{"negOne", 0xbf800000, "-1"},
	{"erfClamp", 0x40800000, "4"},
	{"negErfClamp", 0xc0800000, "-4"},
	{"erfA13", 0xaf95df0b, "-2.72614225801306e-10"},
	{"erfA11", 0x32edffee, "2.77068142495902e-08"},
	{"erfA9", 0xb60cff51, "-2.10102402082508e-06"},
	{"erfA7", 0xb86ec2d2, "-5.69250639462346e-05"},
	{"erfA5", 0xba40ac63, "-0.000734990630326855"},
	{"erfA3", 0xbb41a1f6, "-0.00295459980854025"},
	{"erfA1", 0xbc83dbd4, "-0.0160960333262415"},
	{"erfB8", 0xb77460cd, "-1.45660718464996e-05"},
	{"erfB6", 0xb95fbd29, "-0.000213374055278905"},
	{"erfB4", 0xbadc924e, "-0.00168282697438203"},
	{"erfB2", 0xbbf19bf8, "-0.00737332916720468"},
	{"erfB0", 0xbc69b6a7, "-0.0142647390514189"},
	{"invSqrt2", 0x3f3504f3, "0.7071067811865476"},
	{"invSqrt2Pi", 0x3ecc422a, "0.3989422804014327"},
	{"sqrt2OverPi", 0x3f4c422a, "0.7978845608028654"},
	{"gtC3", 0x3d122279, "0.035677408136300125"},
	{"gtD3", 0x3ddb33b6, "0.10703222440890037"},
	{"negInf", 0xff800000, "-Inf"},
	{"signBit", 0x80000000, "the sign bit (-0)"},
}

func main() {
	sb.WriteString(`// Code generated by vec_avx2_asmgen.go; DO NOT EDIT.

//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA vector kernels (see vec.go for the math, vec_amd64.s for the
// AVX-512 originals). 8 float32 lanes per ymm step; the n mod 8 tail runs as
// one step with VMASKMOVPS under the lane mask Y15 (masked-off lanes are
// neither loaded, so no fault, nor stored). Operand order is Go's (reverse
// of Intel). VMINPS/VMAXPS return their Go-first operand when either input
// is NaN: clamps are written ` + "`VMINPS x, c, x`" + ` so that NaN propagates.

// Constants: 8 copies each (32 bytes), used as full-width memory operands.
`)
	for _, c := range consts {
		fmt.Fprintf(&sb, "// %s = %s\n", c.name, c.note)
		for i := range 8 {
			fmt.Fprintf(&sb, "DATA %s<>+%d(SB)/4, $0x%08x\n", c.name, 4*i, c.bits)
		}
		fmt.Fprintf(&sb, "GLOBL %s<>(SB), RODATA|NOPTR, $32\n", c.name)
	}
	sb.WriteString("// tailMask: 8 all-ones lanes then 8 zero lanes; the 8 lanes at +32−4c select the first c.\n")
	for i := range 16 {
		v := uint32(0xffffffff)
		if i >= 8 {
			v = 0
		}
		fmt.Fprintf(&sb, "DATA tailMask<>+%d(SB)/4, $0x%08x\n", 4*i, v)
	}
	sb.WriteString("GLOBL tailMask<>(SB), RODATA|NOPTR, $64\n")

	simple()
	reductions()
	transcendental()
	softmax()
	softmaxRows3()
	layerNorm()
	adamW()

	if err := os.WriteFile("vec_avx2_amd64.s", []byte(sb.String()), 0o644); err != nil {
		panic(err)
	}
}

func simple() {
	text("axpyAVX2(alpha float32, x, y *float32, n int)", "axpyAVX2", "$0-32")
	p("VBROADCASTSS alpha+0(FP), Y8")
	p("MOVQ x+8(FP), SI")
	p("MOVQ y+16(FP), DI")
	p("MOVQ n+24(FP), CX")
	loop("axpy", "CX", []string{"SI", "DI"}, 4, func(s step) {
		s.ld("DI", y(0, s.k))
		s.ld("SI", y(4, s.k))
		p("VFMADD231PS %s, Y8, %s", y(4, s.k), y(0, s.k))
		s.st(y(0, s.k), "DI")
	})
	ret()

	text("scaleAVX2(alpha float32, x *float32, n int)", "scaleAVX2", "$0-24")
	p("VBROADCASTSS alpha+0(FP), Y8")
	p("MOVQ x+8(FP), DI")
	p("MOVQ n+16(FP), CX")
	loop("scale", "CX", []string{"DI"}, 4, func(s step) {
		s.ld("DI", y(0, s.k))
		p("VMULPS Y8, %s, %s", y(0, s.k), y(0, s.k))
		s.st(y(0, s.k), "DI")
	})
	ret()

	for _, op := range []struct{ name, insn string }{{"add", "VADDPS"}, {"mul", "VMULPS"}} {
		text(op.name+"AVX2(dst, a, b *float32, n int)", op.name+"AVX2", "$0-32")
		p("MOVQ dst+0(FP), DI")
		p("MOVQ a+8(FP), SI")
		p("MOVQ b+16(FP), DX")
		p("MOVQ n+24(FP), CX")
		loop(op.name, "CX", []string{"SI", "DX", "DI"}, 4, func(s step) {
			s.ld("SI", y(0, s.k))
			s.ld("DX", y(4, s.k))
			p("%s %s, %s, %s", op.insn, y(4, s.k), y(0, s.k), y(0, s.k))
			s.st(y(0, s.k), "DI")
		})
		ret()
	}
}

// zero4 clears the accumulators Y10..Y13; fold4 adds them into Y10.
func zero4() {
	for r := 10; r < 14; r++ {
		p("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
}

func fold4(insn string) { foldAt(insn, 10) }

// foldAt adds (insn) the four accumulators Yb…Yb+3 into Yb, in fold4's order.
func foldAt(insn string, b int) {
	p("%s Y%d, Y%d, Y%d", insn, b+1, b, b)
	p("%s Y%d, Y%d, Y%d", insn, b+3, b+2, b+2)
	p("%s Y%d, Y%d, Y%d", insn, b+2, b, b)
}

// maxLoop leaves max x (NaNs skipped) in lane 0 of X10, broadcast by the caller.
// Accumulators start at −Inf; masked-off tail lanes are replaced by −Inf.
func maxLoop(l, ptr, cnt string) {
	p("VMOVUPS negInf<>(SB), Y14")
	for r := 10; r < 14; r++ {
		p("VMOVUPS Y14, Y%d", r)
	}
	loop(l, cnt, []string{ptr}, 4, func(s step) {
		s.ld(ptr, y(0, s.k))
		if s.masked {
			p("VBLENDVPS Y15, %s, Y14, %s", y(0, s.k), y(0, s.k))
		}
		// The accumulator is the Go-first operand: returned when x is NaN.
		p("VMAXPS %s, %s, %s", y(10, s.k), y(0, s.k), y(10, s.k))
	})
	fold4("VMAXPS")
	hmax(10, 11)
}

func reductions() {
	text("dotAVX2(a, b *float32, n int) float32", "dotAVX2", "$0-28")
	p("MOVQ a+0(FP), SI")
	p("MOVQ b+8(FP), DI")
	p("MOVQ n+16(FP), CX")
	zero4()
	loop("dot", "CX", []string{"SI", "DI"}, 4, func(s step) {
		s.ld("SI", y(0, s.k))
		s.ld("DI", y(4, s.k))
		p("VFMADD231PS %s, %s, %s", y(4, s.k), y(0, s.k), y(10, s.k))
	})
	fold4("VADDPS")
	hsum(10, 11)
	p("VMOVSS X10, ret+24(FP)")
	ret()

	text("sumAVX2(x *float32, n int) float32", "sumAVX2", "$0-20")
	p("MOVQ x+0(FP), SI")
	p("MOVQ n+8(FP), CX")
	zero4()
	loop("sum", "CX", []string{"SI"}, 4, func(s step) {
		s.ld("SI", y(0, s.k))
		p("VADDPS %s, %s, %s", y(0, s.k), y(10, s.k), y(10, s.k))
	})
	fold4("VADDPS")
	hsum(10, 11)
	p("VMOVSS X10, ret+16(FP)")
	ret()

	text("maxAVX2(x *float32, n int) float32", "maxAVX2", "$0-20")
	p("MOVQ x+0(FP), SI")
	p("MOVQ n+8(FP), CX")
	maxLoop("max", "SI", "CX")
	p("VMOVSS X10, ret+16(FP)")
	ret()
}

// unary emits a dst = f(x) kernel whose body maps Y0 to the register it returns.
func unary(name, doc string, body func() string) {
	text(name+"AVX2(dst, x *float32, n int)", name+"AVX2", "$0-24")
	fmt.Fprintf(&sb, "// %s\n", doc)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ n+16(FP), CX")
	loop(name, "CX", []string{"SI", "DI"}, 1, func(s step) {
		s.ld("SI", "Y0")
		r := body()
		s.st(r, "DI")
	})
	ret()
}

// backward emits a dx += dy·f'(x) kernel: the body gets x in Y0, dy in Y5,
// dx in Y6 and leaves the new dx in Y6.
func backward(name, doc string, body func()) {
	text(name+"AVX2(dx, x, dy *float32, n int)", name+"AVX2", "$0-32")
	fmt.Fprintf(&sb, "// %s\n", doc)
	p("MOVQ dx+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ dy+16(FP), BX")
	p("MOVQ n+24(FP), CX")
	loop(name, "CX", []string{"SI", "BX", "DI"}, 1, func(s step) {
		s.ld("SI", "Y0")
		s.ld("BX", "Y5")
		s.ld("DI", "Y6")
		body()
		s.st("Y6", "DI")
	})
	ret()
}

func transcendental() {
	unary("exp", "dst = eˣ", func() string {
		exp("Y0", "Y1", "Y2", "Y3")
		return "Y0"
	})
	unary("gelu", "dst = x/2·(1 + erf(x/√2))", func() string {
		p("VMULPS invSqrt2<>(SB), Y0, Y1")
		erf("Y1", "Y2", "Y3", "Y4")
		p("VMULPS half<>(SB), Y0, Y0")
		p("VFMADD213PS Y0, Y0, Y1 // x/2·erf + x/2")
		return "Y1"
	})
	backward("geluBackward", "dx += dy·(Φ(x) + x·φ(x))", func() {
		p("VMULPS invSqrt2<>(SB), Y0, Y1")
		erf("Y1", "Y2", "Y3", "Y4")
		p("VMOVUPS half<>(SB), Y2")
		p("VFMADD213PS Y2, Y2, Y1 // Φ = erf/2 + 1/2")
		p("VMULPS Y0, Y0, Y3")
		p("VMULPS negHalf<>(SB), Y3, Y3")
		exp("Y3", "Y4", "Y2", "Y7")
		p("VMULPS invSqrt2Pi<>(SB), Y3, Y3 // φ")
		p("VFMADD231PS Y3, Y0, Y1 // Φ + x·φ")
		p("VFMADD231PS Y1, Y5, Y6")
	})
	unary("geluTanh", "dst = x / (1 + e^(−2u)), u = √(2/π)·(x + 0.044715x³)", func() string {
		p("VMULPS Y0, Y0, Y1")
		p("VMOVUPS sqrt2OverPi<>(SB), Y2")
		p("VFMADD231PS gtC3<>(SB), Y1, Y2")
		p("VMULPS Y0, Y2, Y2 // u")
		p("VMULPS negTwo<>(SB), Y2, Y2")
		exp("Y2", "Y3", "Y4", "Y5")
		p("VADDPS one<>(SB), Y2, Y2")
		p("VDIVPS Y2, Y0, Y1")
		return "Y1"
	})
	backward("geluTanhBackward", "dx += dy·GELUTanh'(x)", func() {
		p("VMULPS Y0, Y0, Y1")
		p("VMOVUPS sqrt2OverPi<>(SB), Y2")
		p("VFMADD231PS gtC3<>(SB), Y1, Y2")
		p("VMULPS Y0, Y2, Y2 // u")
		p("VMOVUPS sqrt2OverPi<>(SB), Y7")
		p("VFMADD231PS gtD3<>(SB), Y1, Y7 // du/dx")
		p("VMULPS negTwo<>(SB), Y2, Y2")
		exp("Y2", "Y3", "Y4", "Y8") // e = e^(−2u)
		p("VADDPS one<>(SB), Y2, Y8")
		p("VMOVUPS one<>(SB), Y9")
		p("VDIVPS Y8, Y9, Y3 // s = 1/(1+e) = σ(2u) = (1 + tanh u)/2")
		p("VMULPS Y3, Y2, Y4 // 1 − s = e·s without cancellation")
		p("VMINPS Y9, Y4, Y4 // e = +Inf: Inf·0 = NaN → 1")
		p("VMULPS Y3, Y4, Y4")
		p("VMULPS Y7, Y4, Y4")
		p("VMULPS Y0, Y4, Y4")
		p("VFMADD231PS two<>(SB), Y4, Y3 // s + 2x·s(1−s)·du")
		p("VFMADD231PS Y3, Y5, Y6")
	})
	unary("silu", "dst = x / (1 + e^(−x))", func() string {
		p("VMULPS negOne<>(SB), Y0, Y1")
		exp("Y1", "Y2", "Y3", "Y4")
		p("VADDPS one<>(SB), Y1, Y1")
		p("VDIVPS Y1, Y0, Y2")
		return "Y2"
	})
	backward("siluBackward", "dx += dy·σ(x)·(1 + x·(1 − σ(x)))", func() {
		p("VMULPS negOne<>(SB), Y0, Y1")
		exp("Y1", "Y2", "Y3", "Y4") // e = e^(−x)
		p("VADDPS one<>(SB), Y1, Y8")
		p("VMOVUPS one<>(SB), Y9")
		p("VDIVPS Y8, Y9, Y3 // s = σ(x)")
		p("VMULPS Y3, Y1, Y4 // 1 − s = e·s without cancellation")
		p("VMINPS Y9, Y4, Y4 // e = +Inf: Inf·0 = NaN → 1")
		p("VFMADD213PS one<>(SB), Y0, Y4 // 1 + x(1−s)")
		p("VMULPS Y3, Y4, Y4")
		p("VFMADD231PS Y4, Y5, Y6")
	})
}

func softmax() {
	text("softmaxRowAVX2(x *float32, n int)", "softmaxRowAVX2", "$0-16")
	p("MOVQ x+0(FP), SI")
	p("MOVQ n+8(FP), CX")
	sb.WriteString("\t// Pass 1: m = max x (NaNs skipped) → Y8.\n")
	p("MOVQ SI, DI")
	p("MOVQ CX, DX")
	maxLoop("smMax", "DI", "DX")
	p("VBROADCASTSS X10, Y8")
	sb.WriteString("\t// Pass 2: x = exp(x − m), s = Σ → Y10.\n")
	p("VXORPS Y10, Y10, Y10")
	p("MOVQ SI, DI")
	p("MOVQ CX, DX")
	loop("smExp", "DX", []string{"DI"}, 1, func(s step) {
		s.ld("DI", "Y0")
		p("VSUBPS Y8, Y0, Y0")
		exp("Y0", "Y1", "Y2", "Y3")
		s.st("Y0", "DI")
		if s.masked {
			p("VANDPS Y15, Y0, Y0")
		}
		p("VADDPS Y0, Y10, Y10")
	})
	hsum(10, 11)
	p("VMOVSS one<>(SB), X11")
	p("VDIVSS X10, X11, X11")
	p("VBROADCASTSS X11, Y11")
	sb.WriteString("\t// Pass 3: x *= 1/s.\n")
	loop("smScale", "CX", []string{"SI"}, 4, func(s step) {
		s.ld("SI", y(0, s.k))
		p("VMULPS Y11, %s, %s", y(0, s.k), y(0, s.k))
		s.st(y(0, s.k), "SI")
	})
	ret()

	text("softmaxRowBackwardAVX2(dx, y, dy *float32, n int)", "softmaxRowBackwardAVX2", "$0-32")
	p("MOVQ dx+0(FP), R8")
	p("MOVQ y+8(FP), SI")
	p("MOVQ dy+16(FP), BX")
	p("MOVQ n+24(FP), CX")
	sb.WriteString("\t// Pass 1: s = Σ dy⊙y → Y14.\n")
	p("MOVQ SI, DI")
	p("MOVQ BX, R9")
	p("MOVQ CX, DX")
	zero4()
	loop("sbDot", "DX", []string{"DI", "R9"}, 4, func(s step) {
		s.ld("DI", y(0, s.k))
		s.ld("R9", y(4, s.k))
		p("VFMADD231PS %s, %s, %s", y(4, s.k), y(0, s.k), y(10, s.k))
	})
	fold4("VADDPS")
	hsum(10, 11)
	p("VBROADCASTSS X10, Y14")
	sb.WriteString("\t// Pass 2: dx += y⊙(dy − s).\n")
	loop("sb", "CX", []string{"SI", "BX", "R8"}, 4, func(s step) {
		yy, dy, dx := y(0, 3*s.k), y(1, 3*s.k), y(2, 3*s.k)
		s.ld("SI", yy)
		s.ld("BX", dy)
		s.ld("R8", dx)
		p("VSUBPS Y14, %s, %s", dy, dy)
		p("VFMADD231PS %s, %s, %s", dy, yy, dx)
		s.st(dx, "R8")
	})
	ret()
}

func layerNorm() {
	text("lnStatsAVX2(x *float32, n int) (mean, ss float32)", "lnStatsAVX2", "$0-24")
	p("MOVQ x+0(FP), SI")
	p("MOVQ n+8(FP), CX")
	p("MOVQ SI, DI")
	p("MOVQ CX, DX")
	zero4()
	loop("lsSum", "DX", []string{"DI"}, 4, func(s step) {
		s.ld("DI", y(0, s.k))
		p("VADDPS %s, %s, %s", y(0, s.k), y(10, s.k), y(10, s.k))
	})
	fold4("VADDPS")
	hsum(10, 11)
	p("VCVTSI2SSQ CX, X11, X11")
	p("VDIVSS X11, X10, X10")
	p("VMOVSS X10, mean+16(FP)")
	p("VBROADCASTSS X10, Y8")
	zero4()
	loop("lsVar", "CX", []string{"SI"}, 4, func(s step) {
		r := y(0, s.k)
		s.ld("SI", r)
		p("VSUBPS Y8, %s, %s", r, r)
		if s.masked {
			p("VANDPS Y15, %s, %s", r, r)
		}
		p("VFMADD231PS %s, %s, %s", r, r, y(10, s.k))
	})
	fold4("VADDPS")
	hsum(10, 11)
	p("VMOVSS X10, ss+20(FP)")
	ret()

	// Optional operands (w, b, dw, db, dx may be nil) are tested per step, as
	// in the AVX-512 kernels; their pointers advance inside the body.
	opt := func(s step, ptr, skip string, f func()) {
		l := skip + s.sfx
		p("TESTQ %s, %s", ptr, ptr)
		p("JZ    %s", l)
		f()
		if !s.masked {
			p("ADDQ $32, %s", ptr)
		}
		label(l)
	}

	text("lnApplyAVX2(y, x, w, b *float32, n int, mean, rstd float32)", "lnApplyAVX2", "$0-48")
	p("MOVQ y+0(FP), DI")
	p("MOVQ x+8(FP), SI")
	p("MOVQ w+16(FP), R8")
	p("MOVQ b+24(FP), R9")
	p("MOVQ n+32(FP), CX")
	p("VBROADCASTSS mean+40(FP), Y8")
	p("VBROADCASTSS rstd+44(FP), Y9")
	loop("la", "CX", []string{"SI", "DI"}, 1, func(s step) {
		s.ld("SI", "Y0")
		p("VSUBPS Y8, Y0, Y0")
		p("VMULPS Y9, Y0, Y0")
		opt(s, "R8", "laNoW", func() {
			s.ld("R8", "Y1")
			p("VMULPS Y1, Y0, Y0")
		})
		opt(s, "R9", "laNoB", func() {
			s.ld("R9", "Y1")
			p("VADDPS Y1, Y0, Y0")
		})
		s.st("Y0", "DI")
	})
	ret()

	text("lnBackwardAVX2(dx, dw, db, dy, x, w *float32, n int, mean, rstd float32)", "lnBackwardAVX2", "$0-64")
	p("MOVQ dx+0(FP), R10")
	p("MOVQ dw+8(FP), R11")
	p("MOVQ db+16(FP), R12")
	p("MOVQ dy+24(FP), BX")
	p("MOVQ x+32(FP), SI")
	p("MOVQ w+40(FP), R8")
	p("MOVQ n+48(FP), CX")
	p("VBROADCASTSS mean+56(FP), Y8")
	p("VBROADCASTSS rstd+60(FP), Y9")
	sb.WriteString("\t// Pass 1: Y10 = Σ g, Y11 = Σ g⊙x̂ with g = dy⊙w, x̂ = (x − μ)·rstd.\n")
	p("VXORPS Y10, Y10, Y10")
	p("VXORPS Y11, Y11, Y11")
	p("MOVQ BX, DX")
	p("MOVQ SI, DI")
	p("MOVQ R8, R9")
	p("MOVQ CX, R13")
	loop("lb1", "R13", []string{"DX", "DI"}, 1, func(s step) {
		s.ld("DX", "Y0")
		opt(s, "R9", "lb1NoW", func() {
			s.ld("R9", "Y2")
			p("VMULPS Y2, Y0, Y0")
		})
		s.ld("DI", "Y1")
		p("VSUBPS Y8, Y1, Y1")
		p("VMULPS Y9, Y1, Y1")
		if s.masked {
			p("VANDPS Y15, Y1, Y1")
		}
		p("VADDPS Y0, Y10, Y10")
		p("VFMADD231PS Y1, Y0, Y11")
	})
	p("VCVTSI2SSQ CX, X12, X12")
	hsum(10, 13)
	hsum(11, 13)
	p("VDIVSS X12, X10, X10")
	p("VDIVSS X12, X11, X11")
	p("VBROADCASTSS X10, Y10")
	p("VBROADCASTSS X11, Y11")
	sb.WriteString("\t// Pass 2.\n")
	loop("lb2", "CX", []string{"BX", "SI"}, 1, func(s step) {
		s.ld("BX", "Y0") // dy
		s.ld("SI", "Y1")
		p("VSUBPS Y8, Y1, Y1")
		p("VMULPS Y9, Y1, Y1 // x̂")
		opt(s, "R12", "lb2NoDB", func() {
			s.ld("R12", "Y2")
			p("VADDPS Y0, Y2, Y2")
			s.st("Y2", "R12")
		})
		opt(s, "R11", "lb2NoDW", func() {
			s.ld("R11", "Y2")
			p("VFMADD231PS Y1, Y0, Y2")
			s.st("Y2", "R11")
		})
		p("VMOVAPS Y0, Y3")
		opt(s, "R8", "lb2NoW", func() {
			s.ld("R8", "Y4")
			p("VMULPS Y4, Y0, Y3")
		})
		opt(s, "R10", "lb2NoDX", func() {
			p("VSUBPS Y10, Y3, Y3")
			p("VFNMADD231PS Y11, Y1, Y3")
			p("VMULPS Y9, Y3, Y3")
			s.ld("R10", "Y2")
			p("VADDPS Y3, Y2, Y2")
			s.st("Y2", "R10")
		})
	})
	ret()
}

// zip emits the instructions of each fn interleaved, one line of each in
// turn: several rows' independent chains in step, so that a short row's
// dependent reductions and exponentials overlap with the others'.
func zip(fns ...func()) {
	before := sb.String()
	var parts [][]string
	for _, f := range fns {
		sb.Reset()
		f()
		parts = append(parts, strings.SplitAfter(strings.TrimSuffix(sb.String(), "\n"), "\n"))
	}
	sb.Reset()
	sb.WriteString(before)
	for i := 0; ; i++ {
		done := true
		for _, lines := range parts {
			if i < len(lines) {
				sb.WriteString(strings.TrimSuffix(lines[i], "\n") + "\n")
				done = false
			}
		}
		if done {
			return
		}
	}
}

// perRow runs f for rows 0, 1, 2 interleaved (zip).
func perRow(f func(r int)) {
	zip(func() { f(0) }, func() { f(1) }, func() { f(2) })
}

// softmaxRows3 writes the three-row kernels of SoftmaxRows and
// SoftmaxGradRows: each row's instructions are exactly those of the
// one-row kernels (softmaxRowAVX2; dotAVX2, mulAVX2, axpyAVX2), so each
// row gets the same floats, interleaved so that three rows' chains overlap.
func softmaxRows3() {
	rows := []string{"SI", "R8", "R9"}
	text("softmaxRows3AVX2(x *float32, ld, n int)", "softmaxRows3AVX2", "$0-24")
	sb.WriteString(`// softmaxRowAVX2 on three rows of n ≥ 1 floats, ld floats apart (at SI,
// R8, R9); DI is the byte offset of the columns. Pass 1: max accumulators
// Y0–Y3, Y4–Y7, Y8–Y11 per row, data Y12, Y13, Y15. Pass 2: per row x, n, t in Y0–Y2, Y3–Y5,
// Y6–Y8, sums Y9–Y11, maxima Y12–Y14. Pass 3: data Y0–Y11, 1/s Y12–Y14.
`)
	p("MOVQ x+0(FP), SI")
	p("MOVQ ld+8(FP), BX")
	p("MOVQ n+16(FP), CX")
	p("SHLQ $2, BX")
	p("LEAQ (SI)(BX*1), R8")
	p("LEAQ (R8)(BX*1), R9")
	sb.WriteString("\t// Pass 1: m = max x per row (NaNs skipped) → Y12, Y13, Y14.\n")
	p("VMOVUPS negInf<>(SB), Y14")
	for r := 0; r < 12; r++ {
		p("VMOVUPS Y14, Y%d", r)
	}
	loopRows("sm3Max", "DX", "DI", "CX", 4, func(s step) {
		if s.masked { // Y15 holds the mask, Y14 −Inf: one data register, the rows in turn
			for r := range 3 {
				s.ld(rows[r], "Y12")
				p("VBLENDVPS Y15, Y12, Y14, Y12")
				p("VMAXPS %s, Y12, %s", y(4*r, 0), y(4*r, 0))
			}
			return
		}
		perRow(func(r int) {
			d := []string{"Y12", "Y13", "Y15"}[r] // the mask is loaded in the tail step only
			s.ld(rows[r], d)
			// the accumulator is the Go-first operand: returned when x is NaN
			p("VMAXPS %s, %s, %s", y(4*r, s.k), d, y(4*r, s.k))
		})
	})
	perRow(func(r int) {
		b := 4 * r
		foldAt("VMAXPS", b)
		hmax(b, b+1)
	})
	for r := range 3 {
		p("VBROADCASTSS X%d, Y%d", 4*r, 12+r)
	}
	sb.WriteString("\t// Pass 2: x = exp(x − m), s = Σ per row → Y9, Y10, Y11.\n")
	for r := range 3 {
		p("VXORPS Y%d, Y%d, Y%d", 9+r, 9+r, 9+r)
	}
	loopRows("sm3Exp", "DX", "DI", "CX", 1, func(s step) {
		perRow(func(r int) {
			x, n, t, sum, m := y(3*r, 0), y(3*r+1, 0), y(3*r+2, 0), y(9+r, 0), y(12+r, 0)
			s.ld(rows[r], x)
			p("VSUBPS %s, %s, %s", m, x, x)
			exp(x, n, t, x) // x is free once the polynomial is in t
			s.st(x, rows[r])
			if s.masked {
				p("VANDPS Y15, %s, %s", x, x)
			}
			p("VADDPS %s, %s, %s", x, sum, sum)
		})
	})
	perRow(func(r int) {
		hsum(9+r, r)
		p("VMOVSS one<>(SB), X%d", 3+r)
		p("VDIVSS X%d, X%d, X%d", 9+r, 3+r, 3+r)
		p("VBROADCASTSS X%d, Y%d", 3+r, 12+r)
	})
	sb.WriteString("\t// Pass 3: x *= 1/s.\n")
	loopRows("sm3Scale", "DX", "DI", "CX", 4, func(s step) {
		perRow(func(r int) {
			d := y(4*r, s.k)
			s.ld(rows[r], d)
			p("VMULPS Y%d, %s, %s", 12+r, d, d)
			s.st(d, rows[r])
		})
	})
	ret()

	prow := []string{"R10", "R11", "R12"}
	text("softmaxGrad3AVX2(d, p *float32, ld, n int)", "softmaxGrad3AVX2", "$0-32")
	sb.WriteString(`// Three rows of d = p ⊙ (d − Σ d⊙p) (ld floats apart; d at SI, R8, R9, p
// at R10, R11, R12), each with exactly the instructions of dotAVX2(d, p),
// mulAVX2(d, d, p) and axpyAVX2(−dot, p, d); DI is the byte offset of the
// columns. Dot: accumulators Y0–Y3, Y4–Y7, Y8–Y11 per row, data Y12–Y14.
// Then −dot in Y12–Y14 (the sign flipped, as Go's −dot: −0 for a +0 dot),
// data Y0–Y11 (unmasked steps read p from memory).
`)
	p("MOVQ d+0(FP), SI")
	p("MOVQ p+8(FP), R10")
	p("MOVQ ld+16(FP), BX")
	p("MOVQ n+24(FP), CX")
	p("SHLQ $2, BX")
	p("LEAQ (SI)(BX*1), R8")
	p("LEAQ (R8)(BX*1), R9")
	p("LEAQ (R10)(BX*1), R11")
	p("LEAQ (R11)(BX*1), R12")
	for r := 0; r < 12; r++ {
		p("VXORPS Y%d, Y%d, Y%d", r, r, r)
	}
	loopRows("sg3Dot", "DX", "DI", "CX", 4, func(s step) {
		if s.masked { // Y15 holds the mask: two data registers, the rows in turn
			for r := range 3 {
				s.ld(rows[r], "Y12")
				s.ld(prow[r], "Y13")
				p("VFMADD231PS Y13, Y12, %s", y(4*r, 0))
			}
			return
		}
		perRow(func(r int) {
			d := y(12, r) // Y12–Y14; p read from memory (a product is the same either way round)
			s.ld(rows[r], d)
			p("VFMADD231PS %s, %s, %s", s.mem(prow[r]), d, y(4*r, s.k))
		})
	})
	perRow(func(r int) {
		b := 4 * r
		foldAt("VADDPS", b)
		hsum(b, b+1)
		p("VBROADCASTSS X%d, Y%d", b, 12+r)
		p("VXORPS signBit<>(SB), Y%d, Y%d", 12+r, 12+r)
	})
	loopRows("sg3", "DX", "DI", "CX", 4, func(s step) {
		perRow(func(r int) {
			d, pv := y(4*r, s.k), s.mem(prow[r])
			if s.masked { // a register, loaded under the mask
				pv = y(4*r+1, 0)
				s.ld(prow[r], pv)
			}
			s.ld(rows[r], d)
			p("VMULPS %s, %s, %s", pv, d, d)
			p("VFMADD231PS %s, Y%d, %s", pv, 12+r, d)
			s.st(d, rows[r])
		})
	})
	ret()
}

// adamW emits one AdamW step over n parameters (AdamWUpdate in vec.go):
// the Go loop's float32 operations in its order, without fused
// multiply-adds, so the floats are the portable path's. c points to the
// eight AdamWCoef scalars, broadcast into Y6..Y13.
func adamW() {
	text("adamwAVX2(w, grad, m, v *float32, n int, c *AdamWCoef)", "adamwAVX2", "$0-48")
	p("MOVQ w+0(FP), DI")
	p("MOVQ grad+8(FP), SI")
	p("MOVQ m+16(FP), DX")
	p("MOVQ v+24(FP), BX")
	p("MOVQ n+32(FP), CX")
	p("MOVQ c+40(FP), R8")
	// Y6 β1, Y7 1−β1, Y8 β2, Y9 1−β2, Y10 1/√(1−β2ᵗ), Y11 eps, Y12 decay, Y13 stepSize
	for i := range 8 {
		p("VBROADCASTSS %d(R8), Y%d", 4*i, 6+i)
	}
	loop("adamw", "CX", []string{"DI", "SI", "DX", "BX"}, 1, func(s step) {
		s.ld("SI", "Y1")       // g
		s.ld("DX", "Y2")       // m
		s.ld("BX", "Y3")       // v
		p("VMULPS Y6, Y2, Y2") // β1·m
		p("VMULPS Y7, Y1, Y4") // (1−β1)·g
		p("VADDPS Y4, Y2, Y2") // m = β1·m + (1−β1)·g
		s.st("Y2", "DX")
		p("VMULPS Y8, Y3, Y3") // β2·v
		p("VMULPS Y9, Y1, Y4") // (1−β2)·g
		p("VMULPS Y1, Y4, Y4") // ((1−β2)·g)·g
		p("VADDPS Y4, Y3, Y3") // v = β2·v + ((1−β2)·g)·g
		s.st("Y3", "BX")
		p("VSQRTPS Y3, Y3")     // √v
		p("VMULPS Y10, Y3, Y3") // √v·invBC2
		p("VADDPS Y11, Y3, Y3") // den = √v·invBC2 + eps
		p("VDIVPS Y3, Y2, Y2")  // m / den
		p("VMULPS Y2, Y13, Y2") // stepSize·(m / den)
		s.ld("DI", "Y0")        // w
		p("VMULPS Y12, Y0, Y0") // w·decay
		p("VSUBPS Y2, Y0, Y0")  // w·decay − stepSize·(m / den)
		s.st("Y0", "DI")
	})
	ret()
}
