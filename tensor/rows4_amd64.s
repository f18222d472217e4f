//go:build amd64 && !purego

#include "textflag.h"

// Four-row column sums (see rows4.go for the math): acc[j] += (t₀ + t₁) +
// (t₂ + t₃), each term a row, a product of two rows or a row times a
// scalar, with no fused multiply-add so that every CPU rounds alike. n is a
// positive multiple of the vector width (the Go wrapper does the tail); ld
// is the row stride in floats. Rows 0 and 1 are read at SI and SI+ld, rows
// 2 and 3 at DX = SI+2·ld and DX+ld (R8 and R9 likewise for b).

// func sumRows4AVX512(acc, m *float32, ld, n int)
TEXT ·sumRows4AVX512(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ ld+16(FP), BX
	MOVQ n+24(FP), CX
	SHLQ $2, BX
	LEAQ (SI)(BX*2), DX
sumAVX512Loop:
	VMOVUPS (SI), Z0
	VADDPS (SI)(BX*1), Z0, Z0
	VMOVUPS (DX), Z1
	VADDPS (DX)(BX*1), Z1, Z1
	VADDPS Z1, Z0, Z0
	VADDPS (DI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ  sumAVX512Loop
	VZEROUPPER
	RET

// func mulRows4AVX512(acc, a, b *float32, ld, n int)
TEXT ·mulRows4AVX512(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), R8
	MOVQ ld+24(FP), BX
	MOVQ n+32(FP), CX
	SHLQ $2, BX
	LEAQ (SI)(BX*2), DX
	LEAQ (R8)(BX*2), R9
mulAVX512Loop:
	VMOVUPS (SI), Z0
	VMULPS (R8), Z0, Z0
	VMOVUPS (SI)(BX*1), Z1
	VMULPS (R8)(BX*1), Z1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS (DX), Z2
	VMULPS (R9), Z2, Z2
	VMOVUPS (DX)(BX*1), Z3
	VMULPS (R9)(BX*1), Z3, Z3
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VADDPS (DI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ  mulAVX512Loop
	VZEROUPPER
	RET

// func scaleRows4AVX512(acc, m *float32, ld, n int, s *[4]float32)
TEXT ·scaleRows4AVX512(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ ld+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ s+32(FP), AX
	SHLQ $2, BX
	LEAQ (SI)(BX*2), DX
	VBROADCASTSS (AX), Z8
	VBROADCASTSS 4(AX), Z9
	VBROADCASTSS 8(AX), Z10
	VBROADCASTSS 12(AX), Z11
scaleAVX512Loop:
	VMULPS (SI), Z8, Z0
	VMULPS (SI)(BX*1), Z9, Z1
	VADDPS Z1, Z0, Z0
	VMULPS (DX), Z10, Z2
	VMULPS (DX)(BX*1), Z11, Z3
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VADDPS (DI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ  scaleAVX512Loop
	VZEROUPPER
	RET

// func sumRows4AVX2(acc, m *float32, ld, n int)
TEXT ·sumRows4AVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ ld+16(FP), BX
	MOVQ n+24(FP), CX
	SHLQ $2, BX
	LEAQ (SI)(BX*2), DX
sumAVX2Loop:
	VMOVUPS (SI), Y0
	VADDPS (SI)(BX*1), Y0, Y0
	VMOVUPS (DX), Y1
	VADDPS (DX)(BX*1), Y1, Y1
	VADDPS Y1, Y0, Y0
	VADDPS (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  sumAVX2Loop
	VZEROUPPER
	RET

// func mulRows4AVX2(acc, a, b *float32, ld, n int)
TEXT ·mulRows4AVX2(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), R8
	MOVQ ld+24(FP), BX
	MOVQ n+32(FP), CX
	SHLQ $2, BX
	LEAQ (SI)(BX*2), DX
	LEAQ (R8)(BX*2), R9
mulAVX2Loop:
	VMOVUPS (SI), Y0
	VMULPS (R8), Y0, Y0
	VMOVUPS (SI)(BX*1), Y1
	VMULPS (R8)(BX*1), Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS (DX), Y2
	VMULPS (R9), Y2, Y2
	VMOVUPS (DX)(BX*1), Y3
	VMULPS (R9)(BX*1), Y3, Y3
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VADDPS (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  mulAVX2Loop
	VZEROUPPER
	RET

// func scaleRows4AVX2(acc, m *float32, ld, n int, s *[4]float32)
TEXT ·scaleRows4AVX2(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ ld+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ s+32(FP), AX
	SHLQ $2, BX
	LEAQ (SI)(BX*2), DX
	VBROADCASTSS (AX), Y8
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 8(AX), Y10
	VBROADCASTSS 12(AX), Y11
scaleAVX2Loop:
	VMULPS (SI), Y8, Y0
	VMULPS (SI)(BX*1), Y9, Y1
	VADDPS Y1, Y0, Y0
	VMULPS (DX), Y10, Y2
	VMULPS (DX)(BX*1), Y11, Y3
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VADDPS (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  scaleAVX2Loop
	VZEROUPPER
	RET
