//go:build ignore

// asmgen_transpose.go is shared by gemm_asmgen.go and bf16_asmgen.go (each
// go:generate line names it beside its generator): the in-register 16×16
// transpose both emit, through the generator's own p.
package main

// transposeZ transposes the 16×16 dwords held in Z0..Z15 (row i in Zi)
// in place: afterwards Zp holds column p. Z16..Z31 are scratch. Both
// transpose16x16 (gemm_asmgen.go) and bf16PackRows16 (bf16_asmgen.go) run it.
func transposeZ() {
	// Stage 1: unpack pairs of rows -> Z16..Z31.
	for i := 0; i < 8; i++ {
		a, b := 2*i, 2*i+1
		p("VUNPCKLPS Z%d, Z%d, Z%d", b, a, 16+2*i)
		p("VUNPCKHPS Z%d, Z%d, Z%d", b, a, 17+2*i)
	}
	// Stage 2: shufps 0x44/0xEE within 128-bit lanes -> Z0..Z15.
	for q := 0; q < 4; q++ {
		t, r := 16+4*q, 4*q
		p("VSHUFPS $0x44, Z%d, Z%d, Z%d", t+2, t, r)
		p("VSHUFPS $0xEE, Z%d, Z%d, Z%d", t+2, t, r+1)
		p("VSHUFPS $0x44, Z%d, Z%d, Z%d", t+3, t+1, r+2)
		p("VSHUFPS $0xEE, Z%d, Z%d, Z%d", t+3, t+1, r+3)
	}
	// Stage 3: 128-bit lane shuffles between r[j] and r[j+4] -> Z16..Z31.
	for h := 0; h < 2; h++ {
		for j := 0; j < 4; j++ {
			a, b := 8*h+j, 8*h+j+4
			p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", b, a, 16+8*h+j)
			p("VSHUFF32X4 $0xDD, Z%d, Z%d, Z%d", b, a, 20+8*h+j)
		}
	}
	// Stage 4: combine the halves -> the columns, in order.
	for j := 0; j < 8; j++ {
		p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 24+j, 16+j, j)
		p("VSHUFF32X4 $0xDD, Z%d, Z%d, Z%d", 24+j, 16+j, 8+j)
	}
}
