//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 vector kernels (see vec.go for the math). Every loop handles 16
// float32 lanes per step; the last step runs a masked copy of the loop's
// body with a partial opmask K1, so masked-off lanes are neither loaded (no
// fault) nor stored.
// Operand order is Go's: OP src2, src1, dst (reverse of Intel).
// VMINPS/VMAXPS return their Go-first operand (Intel src2) when either input
// is NaN: clamps are written `VMINPS x, c, x` so that NaN propagates.

#include "vec_amd64.h"

DATA half<>+0(SB)/4, $0x3f000000 // 0.5
GLOBL half<>(SB), RODATA|NOPTR, $4
DATA negHalf<>+0(SB)/4, $0xbf000000 // -0.5
GLOBL negHalf<>(SB), RODATA|NOPTR, $4
DATA two<>+0(SB)/4, $0x40000000 // 2
GLOBL two<>(SB), RODATA|NOPTR, $4
DATA negTwo<>+0(SB)/4, $0xc0000000 // -2
GLOBL negTwo<>(SB), RODATA|NOPTR, $4
DATA erfClamp<>+0(SB)/4, $0x40800000 // 4
GLOBL erfClamp<>(SB), RODATA|NOPTR, $4
DATA negErfClamp<>+0(SB)/4, $0xc0800000 // -4
GLOBL negErfClamp<>(SB), RODATA|NOPTR, $4
DATA negOne<>+0(SB)/4, $0xbf800000 // -1
GLOBL negOne<>(SB), RODATA|NOPTR, $4
DATA erfA13<>+0(SB)/4, $0xaf95df0b // -2.72614225801306e-10
GLOBL erfA13<>(SB), RODATA|NOPTR, $4
DATA erfA11<>+0(SB)/4, $0x32edffee // 2.77068142495902e-08
GLOBL erfA11<>(SB), RODATA|NOPTR, $4
DATA erfA9<>+0(SB)/4, $0xb60cff51 // -2.10102402082508e-06
GLOBL erfA9<>(SB), RODATA|NOPTR, $4
DATA erfA7<>+0(SB)/4, $0xb86ec2d2 // -5.69250639462346e-05
GLOBL erfA7<>(SB), RODATA|NOPTR, $4
DATA erfA5<>+0(SB)/4, $0xba40ac63 // -0.000734990630326855
GLOBL erfA5<>(SB), RODATA|NOPTR, $4
DATA erfA3<>+0(SB)/4, $0xbb41a1f6 // -0.00295459980854025
GLOBL erfA3<>(SB), RODATA|NOPTR, $4
DATA erfA1<>+0(SB)/4, $0xbc83dbd4 // -0.0160960333262415
GLOBL erfA1<>(SB), RODATA|NOPTR, $4
DATA erfB8<>+0(SB)/4, $0xb77460cd // -1.45660718464996e-05
GLOBL erfB8<>(SB), RODATA|NOPTR, $4
DATA erfB6<>+0(SB)/4, $0xb95fbd29 // -0.000213374055278905
GLOBL erfB6<>(SB), RODATA|NOPTR, $4
DATA erfB4<>+0(SB)/4, $0xbadc924e // -0.00168282697438203
GLOBL erfB4<>(SB), RODATA|NOPTR, $4
DATA erfB2<>+0(SB)/4, $0xbbf19bf8 // -0.00737332916720468
GLOBL erfB2<>(SB), RODATA|NOPTR, $4
DATA erfB0<>+0(SB)/4, $0xbc69b6a7 // -0.0142647390514189
GLOBL erfB0<>(SB), RODATA|NOPTR, $4
DATA invSqrt2<>+0(SB)/4, $0x3f3504f3 // 0.7071067811865476
GLOBL invSqrt2<>(SB), RODATA|NOPTR, $4
DATA invSqrt2Pi<>+0(SB)/4, $0x3ecc422a // 0.3989422804014327
GLOBL invSqrt2Pi<>(SB), RODATA|NOPTR, $4
DATA sqrt2OverPi<>+0(SB)/4, $0x3f4c422a // 0.7978845608028654
GLOBL sqrt2OverPi<>(SB), RODATA|NOPTR, $4
DATA gtC3<>+0(SB)/4, $0x3d122279 // 0.035677408136300125
GLOBL gtC3<>(SB), RODATA|NOPTR, $4
DATA gtD3<>+0(SB)/4, $0x3ddb33b6 // 0.10703222440890037
GLOBL gtD3<>(SB), RODATA|NOPTR, $4

// ERFZ: u = erf(u): clamp u to [−4, 4], erf ≈ u·P(u²)/Q(u²) (the rational
// approximation used by Eigen/XLA), clamped to [−1, 1]. Clobbers u2, p, q.
#define ERFZ(u, u2, p, q) \
	VBROADCASTSS erfClamp<>(SB), p; \
	VMINPS u, p, u; \
	VBROADCASTSS negErfClamp<>(SB), p; \
	VMAXPS u, p, u; \
	VMULPS u, u, u2; \
	VBROADCASTSS erfA13<>(SB), p; \
	VFMADD213PS.BCST erfA11<>(SB), u2, p; \
	VFMADD213PS.BCST erfA9<>(SB), u2, p; \
	VFMADD213PS.BCST erfA7<>(SB), u2, p; \
	VFMADD213PS.BCST erfA5<>(SB), u2, p; \
	VFMADD213PS.BCST erfA3<>(SB), u2, p; \
	VFMADD213PS.BCST erfA1<>(SB), u2, p; \
	VMULPS u, p, p; \
	VBROADCASTSS erfB8<>(SB), q; \
	VFMADD213PS.BCST erfB6<>(SB), u2, q; \
	VFMADD213PS.BCST erfB4<>(SB), u2, q; \
	VFMADD213PS.BCST erfB2<>(SB), u2, q; \
	VFMADD213PS.BCST erfB0<>(SB), u2, q; \
	VDIVPS q, p, u; \
	VBROADCASTSS one<>(SB), p; \
	VMINPS u, p, u; \
	VBROADCASTSS negOne<>(SB), p; \
	VMAXPS u, p, u

// func axpyAVX512(alpha float32, x, y *float32, n int)
TEXT ·axpyAVX512(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Z8
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX

axpy64:
	CMPQ CX, $64
	JL   axpyTail
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VFMADD231PS (SI), Z8, Z0
	VFMADD231PS 64(SI), Z8, Z1
	VFMADD231PS 128(SI), Z8, Z2
	VFMADD231PS 192(SI), Z8, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  axpy64

axpyTail:
	MASKINIT

axpyLoop:
	FULLSTEP(CX, axpyBodyTail)

axpyBody:
	VMOVUPS (DI), Z0
	VMOVUPS (SI), Z1
	VFMADD231PS Z1, Z8, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  axpyLoop

axpyBodyTail:
	MASKTAIL(CX, axpyDone)
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VFMADD231PS Z1, Z8, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  axpyLoop

axpyDone:
	VZEROUPPER
	RET

// func scaleAVX512(alpha float32, x *float32, n int)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-24
	VBROADCASTSS alpha+0(FP), Z8
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	MASKINIT

scaleLoop:
	FULLSTEP(CX, scaleBodyTail)

scaleBody:
	VMOVUPS (DI), Z0
	VMULPS Z8, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  scaleLoop

scaleBodyTail:
	MASKTAIL(CX, scaleDone)
	VMOVUPS.Z (DI), K1, Z0
	VMULPS Z8, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  scaleLoop

scaleDone:
	VZEROUPPER
	RET

// func addAVX512(dst, a, b *float32, n int)
TEXT ·addAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MASKINIT

addLoop:
	FULLSTEP(CX, addBodyTail)

addBody:
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  addLoop

addBodyTail:
	MASKTAIL(CX, addDone)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  addLoop

addDone:
	VZEROUPPER
	RET

// func mulAVX512(dst, a, b *float32, n int)
TEXT ·mulAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MASKINIT

mulLoop:
	FULLSTEP(CX, mulBodyTail)

mulBody:
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z1
	VMULPS Z1, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  mulLoop

mulBodyTail:
	MASKTAIL(CX, mulDone)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VMULPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  mulLoop

mulDone:
	VZEROUPPER
	RET

// func dotAVX512(a, b *float32, n int) float32
TEXT ·dotAVX512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13

dot64:
	CMPQ CX, $64
	JL   dotTail
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VFMADD231PS (DI), Z0, Z10
	VFMADD231PS 64(DI), Z1, Z11
	VFMADD231PS 128(DI), Z2, Z12
	VFMADD231PS 192(DI), Z3, Z13
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  dot64

dotTail:
	VADDPS Z11, Z10, Z10
	VADDPS Z13, Z12, Z12
	VADDPS Z12, Z10, Z10
	MASKINIT

dotLoop:
	FULLSTEP(CX, dotBodyTail)

dotBody:
	VMOVUPS (SI), Z0
	VMOVUPS (DI), Z1
	VFMADD231PS Z1, Z0, Z10
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  dotLoop

dotBodyTail:
	MASKTAIL(CX, dotDone)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DI), K1, Z1
	VFMADD231PS Z1, Z0, Z10
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  dotLoop

dotDone:
	HSUM(Z10, Y10, X10, Y11, X11)
	VMOVSS X10, ret+24(FP)
	VZEROUPPER
	RET

// func sumAVX512(x *float32, n int) float32
TEXT ·sumAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13

sum64:
	CMPQ CX, $64
	JL   sumTail
	VADDPS (SI), Z10, Z10
	VADDPS 64(SI), Z11, Z11
	VADDPS 128(SI), Z12, Z12
	VADDPS 192(SI), Z13, Z13
	ADDQ $256, SI
	SUBQ $64, CX
	JMP  sum64

sumTail:
	VADDPS Z11, Z10, Z10
	VADDPS Z13, Z12, Z12
	VADDPS Z12, Z10, Z10
	MASKINIT

sumLoop:
	FULLSTEP(CX, sumBodyTail)

sumBody:
	VMOVUPS (SI), Z0
	VADDPS Z0, Z10, Z10
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  sumLoop

sumBodyTail:
	MASKTAIL(CX, sumDone)
	VMOVUPS.Z (SI), K1, Z0
	VADDPS Z0, Z10, Z10
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  sumLoop

sumDone:
	HSUM(Z10, Y10, X10, Y11, X11)
	VMOVSS X10, ret+16(FP)
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) float32
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS negInf<>(SB), Z10
	VMOVAPS Z10, Z11
	MASKINIT

max32:
	CMPQ CX, $32
	JL   maxLoop
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMAXPS Z10, Z0, Z10
	VMAXPS Z11, Z1, Z11
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  max32

maxLoop:
	FULLSTEP(CX, maxBodyTail)

maxBody:
	VMOVUPS (SI), Z0
	VMAXPS Z10, Z0, K1, Z10
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  maxLoop

maxBodyTail:
	MASKTAIL(CX, maxDone)
	VMOVUPS.Z (SI), K1, Z0
	VMAXPS Z10, Z0, K1, Z10
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  maxLoop

maxDone:
	VMAXPS Z10, Z11, Z10
	HMAX(Z10, Y10, X10, Y11, X11)
	VMOVSS X10, ret+16(FP)
	VZEROUPPER
	RET

// func expAVX512(dst, x *float32, n int)
TEXT ·expAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MASKINIT

expLoop:
	FULLSTEP(CX, expBodyTail)

expBody:
	VMOVUPS (SI), Z0
	EXPZ(Z0, Z1, Z2)
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  expLoop

expBodyTail:
	MASKTAIL(CX, expDone)
	VMOVUPS.Z (SI), K1, Z0
	EXPZ(Z0, Z1, Z2)
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  expLoop

expDone:
	VZEROUPPER
	RET

// func softmaxRowAVX512(x *float32, n int)
TEXT ·softmaxRowAVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX

	// Pass 1: m = max x (NaNs skipped) → Z8.
	MOVQ SI, DI
	MOVQ CX, DX
	VBROADCASTSS negInf<>(SB), Z8
	MASKINIT

smMaxLoop:
	FULLSTEP(DX, smMaxBodyTail)

smMaxBody:
	VMOVUPS (DI), Z0
	VMAXPS Z8, Z0, K1, Z8
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  smMaxLoop

smMaxBodyTail:
	MASKTAIL(DX, smMaxDone)
	VMOVUPS.Z (DI), K1, Z0
	VMAXPS Z8, Z0, K1, Z8
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  smMaxLoop

smMaxDone:
	HMAX(Z8, Y8, X8, Y9, X9)
	VBROADCASTSS X8, Z8

	// Pass 2: x = exp(x − m), s = Σ → Z10.
	VXORPS Z10, Z10, Z10
	MOVQ SI, DI
	MOVQ CX, DX
	MASKINIT

smExpLoop:
	FULLSTEP(DX, smExpBodyTail)

smExpBody:
	VMOVUPS (DI), Z0
	VSUBPS Z8, Z0, Z0
	EXPZ(Z0, Z1, Z2)
	VMOVUPS Z0, (DI)
	VADDPS Z0, Z10, K1, Z10
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  smExpLoop

smExpBodyTail:
	MASKTAIL(DX, smExpDone)
	VMOVUPS.Z (DI), K1, Z0
	VSUBPS Z8, Z0, Z0
	EXPZ(Z0, Z1, Z2)
	VMOVUPS Z0, K1, (DI)
	VADDPS Z0, Z10, K1, Z10
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  smExpLoop

smExpDone:
	HSUM(Z10, Y10, X10, Y11, X11)
	VBROADCASTSS one<>(SB), X11
	VDIVSS X10, X11, X11
	VBROADCASTSS X11, Z11

	// Pass 3: x *= 1/s.
	MOVQ SI, DI
	MOVQ CX, DX
	MASKINIT

smScaleLoop:
	FULLSTEP(DX, smScaleBodyTail)

smScaleBody:
	VMOVUPS (DI), Z0
	VMULPS Z11, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  smScaleLoop

smScaleBodyTail:
	MASKTAIL(DX, smScaleDone)
	VMOVUPS.Z (DI), K1, Z0
	VMULPS Z11, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  smScaleLoop

smScaleDone:
	VZEROUPPER
	RET

// func softmaxRowBackwardAVX512(dx, y, dy *float32, n int)
TEXT ·softmaxRowBackwardAVX512(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), R8
	MOVQ y+8(FP), SI
	MOVQ dy+16(FP), BX
	MOVQ n+24(FP), CX

	// Pass 1: s = Σ dy⊙y → Z10.
	VXORPS Z10, Z10, Z10
	MOVQ SI, DI
	MOVQ BX, R9
	MOVQ CX, DX
	MASKINIT

sbDotLoop:
	FULLSTEP(DX, sbDotBodyTail)

sbDotBody:
	VMOVUPS (DI), Z0
	VMOVUPS (R9), Z1
	VFMADD231PS Z1, Z0, Z10
	ADDQ $64, DI
	ADDQ $64, R9
	SUBQ $16, DX
	JMP  sbDotLoop

sbDotBodyTail:
	MASKTAIL(DX, sbDotDone)
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (R9), K1, Z1
	VFMADD231PS Z1, Z0, Z10
	ADDQ $64, DI
	ADDQ $64, R9
	SUBQ $16, DX
	JMP  sbDotLoop

sbDotDone:
	HSUM(Z10, Y10, X10, Y11, X11)
	VBROADCASTSS X10, Z10

	// Pass 2: dx += y⊙(dy − s).
	MASKINIT

sbLoop:
	FULLSTEP(CX, sbBodyTail)

sbBody:
	VMOVUPS (SI), Z0
	VMOVUPS (BX), Z1
	VMOVUPS (R8), Z2
	VSUBPS Z10, Z1, Z1
	VFMADD231PS Z1, Z0, Z2
	VMOVUPS Z2, (R8)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, R8
	SUBQ $16, CX
	JMP  sbLoop

sbBodyTail:
	MASKTAIL(CX, sbDone)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (BX), K1, Z1
	VMOVUPS.Z (R8), K1, Z2
	VSUBPS Z10, Z1, Z1
	VFMADD231PS Z1, Z0, Z2
	VMOVUPS Z2, K1, (R8)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, R8
	SUBQ $16, CX
	JMP  sbLoop

sbDone:
	VZEROUPPER
	RET

// func geluAVX512(dst, x *float32, n int)
TEXT ·geluAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MASKINIT

geluLoop:
	FULLSTEP(CX, geluBodyTail)

geluBody:
	VMOVUPS (SI), Z0
	VMULPS.BCST invSqrt2<>(SB), Z0, Z1
	ERFZ(Z1, Z2, Z3, Z4)
	VMULPS.BCST half<>(SB), Z0, Z0
	VFMADD213PS Z0, Z0, Z1 // x/2·erf + x/2
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  geluLoop

geluBodyTail:
	MASKTAIL(CX, geluDone)
	VMOVUPS.Z (SI), K1, Z0
	VMULPS.BCST invSqrt2<>(SB), Z0, Z1
	ERFZ(Z1, Z2, Z3, Z4)
	VMULPS.BCST half<>(SB), Z0, Z0
	VFMADD213PS Z0, Z0, Z1 // x/2·erf + x/2
	VMOVUPS Z1, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  geluLoop

geluDone:
	VZEROUPPER
	RET

// func geluBackwardAVX512(dx, x, dy *float32, n int)
TEXT ·geluBackwardAVX512(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), BX
	MOVQ n+24(FP), CX
	MASKINIT

gbLoop:
	FULLSTEP(CX, gbBodyTail)

gbBody:
	VMOVUPS (SI), Z0
	VMOVUPS (BX), Z5
	VMOVUPS (DI), Z6
	VMULPS.BCST invSqrt2<>(SB), Z0, Z1
	ERFZ(Z1, Z2, Z3, Z4)
	VBROADCASTSS half<>(SB), Z2
	VFMADD213PS Z2, Z2, Z1 // Φ = erf/2 + 1/2
	VMULPS Z0, Z0, Z3
	VMULPS.BCST negHalf<>(SB), Z3, Z3
	EXPZ(Z3, Z4, Z2)
	VMULPS.BCST invSqrt2Pi<>(SB), Z3, Z3 // φ
	VFMADD231PS Z3, Z0, Z1 // Φ + x·φ
	VFMADD231PS Z1, Z5, Z6
	VMOVUPS Z6, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  gbLoop

gbBodyTail:
	MASKTAIL(CX, gbDone)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (BX), K1, Z5
	VMOVUPS.Z (DI), K1, Z6
	VMULPS.BCST invSqrt2<>(SB), Z0, Z1
	ERFZ(Z1, Z2, Z3, Z4)
	VBROADCASTSS half<>(SB), Z2
	VFMADD213PS Z2, Z2, Z1 // Φ = erf/2 + 1/2
	VMULPS Z0, Z0, Z3
	VMULPS.BCST negHalf<>(SB), Z3, Z3
	EXPZ(Z3, Z4, Z2)
	VMULPS.BCST invSqrt2Pi<>(SB), Z3, Z3 // φ
	VFMADD231PS Z3, Z0, Z1 // Φ + x·φ
	VFMADD231PS Z1, Z5, Z6
	VMOVUPS Z6, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  gbLoop

gbDone:
	VZEROUPPER
	RET

// func geluTanhAVX512(dst, x *float32, n int)
TEXT ·geluTanhAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MASKINIT

gtLoop:
	FULLSTEP(CX, gtBodyTail)

gtBody:
	VMOVUPS (SI), Z0
	VMULPS Z0, Z0, Z1
	VBROADCASTSS sqrt2OverPi<>(SB), Z2
	VFMADD231PS.BCST gtC3<>(SB), Z1, Z2
	VMULPS Z0, Z2, Z2 // u
	VMULPS.BCST negTwo<>(SB), Z2, Z2
	EXPZ(Z2, Z3, Z4)
	VADDPS.BCST one<>(SB), Z2, Z2
	VDIVPS Z2, Z0, Z1 // x / (1 + e^(−2u))
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  gtLoop

gtBodyTail:
	MASKTAIL(CX, gtDone)
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z0, Z0, Z1
	VBROADCASTSS sqrt2OverPi<>(SB), Z2
	VFMADD231PS.BCST gtC3<>(SB), Z1, Z2
	VMULPS Z0, Z2, Z2 // u
	VMULPS.BCST negTwo<>(SB), Z2, Z2
	EXPZ(Z2, Z3, Z4)
	VADDPS.BCST one<>(SB), Z2, Z2
	VDIVPS Z2, Z0, Z1 // x / (1 + e^(−2u))
	VMOVUPS Z1, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  gtLoop

gtDone:
	VZEROUPPER
	RET

// func geluTanhBackwardAVX512(dx, x, dy *float32, n int)
TEXT ·geluTanhBackwardAVX512(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), BX
	MOVQ n+24(FP), CX
	MASKINIT

gtbLoop:
	FULLSTEP(CX, gtbBodyTail)

gtbBody:
	VMOVUPS (SI), Z0
	VMOVUPS (BX), Z5
	VMOVUPS (DI), Z6
	VMULPS Z0, Z0, Z1
	VBROADCASTSS sqrt2OverPi<>(SB), Z2
	VFMADD231PS.BCST gtC3<>(SB), Z1, Z2
	VMULPS Z0, Z2, Z2 // u
	VBROADCASTSS sqrt2OverPi<>(SB), Z7
	VFMADD231PS.BCST gtD3<>(SB), Z1, Z7 // du/dx
	VMULPS.BCST negTwo<>(SB), Z2, Z2
	EXPZ(Z2, Z3, Z4) // e = e^(−2u)
	VADDPS.BCST one<>(SB), Z2, Z8
	VBROADCASTSS one<>(SB), Z9
	VDIVPS Z8, Z9, Z3 // s = 1/(1+e) = σ(2u) = (1 + tanh u)/2
	VMULPS Z3, Z2, Z4 // 1 − s = e·s without cancellation
	VMINPS Z9, Z4, Z4 // e = +Inf: Inf·0 = NaN → 1
	VMULPS Z3, Z4, Z4
	VMULPS Z7, Z4, Z4
	VMULPS Z0, Z4, Z4
	VFMADD231PS.BCST two<>(SB), Z4, Z3 // s + 2x·s(1−s)·du
	VFMADD231PS Z3, Z5, Z6
	VMOVUPS Z6, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  gtbLoop

gtbBodyTail:
	MASKTAIL(CX, gtbDone)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (BX), K1, Z5
	VMOVUPS.Z (DI), K1, Z6
	VMULPS Z0, Z0, Z1
	VBROADCASTSS sqrt2OverPi<>(SB), Z2
	VFMADD231PS.BCST gtC3<>(SB), Z1, Z2
	VMULPS Z0, Z2, Z2 // u
	VBROADCASTSS sqrt2OverPi<>(SB), Z7
	VFMADD231PS.BCST gtD3<>(SB), Z1, Z7 // du/dx
	VMULPS.BCST negTwo<>(SB), Z2, Z2
	EXPZ(Z2, Z3, Z4) // e = e^(−2u)
	VADDPS.BCST one<>(SB), Z2, Z8
	VBROADCASTSS one<>(SB), Z9
	VDIVPS Z8, Z9, Z3 // s = 1/(1+e) = σ(2u) = (1 + tanh u)/2
	VMULPS Z3, Z2, Z4 // 1 − s = e·s without cancellation
	VMINPS Z9, Z4, Z4 // e = +Inf: Inf·0 = NaN → 1
	VMULPS Z3, Z4, Z4
	VMULPS Z7, Z4, Z4
	VMULPS Z0, Z4, Z4
	VFMADD231PS.BCST two<>(SB), Z4, Z3 // s + 2x·s(1−s)·du
	VFMADD231PS Z3, Z5, Z6
	VMOVUPS Z6, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  gtbLoop

gtbDone:
	VZEROUPPER
	RET

// func siluAVX512(dst, x *float32, n int)
TEXT ·siluAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MASKINIT

siluLoop:
	FULLSTEP(CX, siluBodyTail)

siluBody:
	VMOVUPS (SI), Z0
	VMULPS.BCST negOne<>(SB), Z0, Z1
	EXPZ(Z1, Z2, Z3)
	VADDPS.BCST one<>(SB), Z1, Z1
	VDIVPS Z1, Z0, Z2
	VMOVUPS Z2, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  siluLoop

siluBodyTail:
	MASKTAIL(CX, siluDone)
	VMOVUPS.Z (SI), K1, Z0
	VMULPS.BCST negOne<>(SB), Z0, Z1
	EXPZ(Z1, Z2, Z3)
	VADDPS.BCST one<>(SB), Z1, Z1
	VDIVPS Z1, Z0, Z2
	VMOVUPS Z2, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  siluLoop

siluDone:
	VZEROUPPER
	RET

// func siluBackwardAVX512(dx, x, dy *float32, n int)
TEXT ·siluBackwardAVX512(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), BX
	MOVQ n+24(FP), CX
	MASKINIT

sibLoop:
	FULLSTEP(CX, sibBodyTail)

sibBody:
	VMOVUPS (SI), Z0
	VMOVUPS (BX), Z5
	VMOVUPS (DI), Z6
	VMULPS.BCST negOne<>(SB), Z0, Z1
	EXPZ(Z1, Z2, Z3) // e = e^(−x)
	VADDPS.BCST one<>(SB), Z1, Z8
	VBROADCASTSS one<>(SB), Z9
	VDIVPS Z8, Z9, Z3 // s = σ(x)
	VMULPS Z3, Z1, Z4 // 1 − s = e·s without cancellation
	VMINPS Z9, Z4, Z4 // e = +Inf: Inf·0 = NaN → 1
	VFMADD213PS.BCST one<>(SB), Z0, Z4 // 1 + x(1−s)
	VMULPS Z3, Z4, Z4
	VFMADD231PS Z4, Z5, Z6
	VMOVUPS Z6, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  sibLoop

sibBodyTail:
	MASKTAIL(CX, sibDone)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (BX), K1, Z5
	VMOVUPS.Z (DI), K1, Z6
	VMULPS.BCST negOne<>(SB), Z0, Z1
	EXPZ(Z1, Z2, Z3) // e = e^(−x)
	VADDPS.BCST one<>(SB), Z1, Z8
	VBROADCASTSS one<>(SB), Z9
	VDIVPS Z8, Z9, Z3 // s = σ(x)
	VMULPS Z3, Z1, Z4 // 1 − s = e·s without cancellation
	VMINPS Z9, Z4, Z4 // e = +Inf: Inf·0 = NaN → 1
	VFMADD213PS.BCST one<>(SB), Z0, Z4 // 1 + x(1−s)
	VMULPS Z3, Z4, Z4
	VFMADD231PS Z4, Z5, Z6
	VMOVUPS Z6, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  sibLoop

sibDone:
	VZEROUPPER
	RET

// func lnStatsAVX512(x *float32, n int) (mean, ss float32)
TEXT ·lnStatsAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Z10, Z10, Z10
	MOVQ SI, DI
	MOVQ CX, DX
	MASKINIT

lsSumLoop:
	FULLSTEP(DX, lsSumBodyTail)

lsSumBody:
	VMOVUPS (DI), Z0
	VADDPS Z0, Z10, Z10
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  lsSumLoop

lsSumBodyTail:
	MASKTAIL(DX, lsSumDone)
	VMOVUPS.Z (DI), K1, Z0
	VADDPS Z0, Z10, Z10
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  lsSumLoop

lsSumDone:
	HSUM(Z10, Y10, X10, Y11, X11)
	VCVTSI2SSQ CX, X11, X11
	VDIVSS X11, X10, X10
	VMOVSS X10, mean+16(FP)
	VBROADCASTSS X10, Z8
	VXORPS Z10, Z10, Z10
	MASKINIT

lsVarLoop:
	FULLSTEP(CX, lsVarBodyTail)

lsVarBody:
	VMOVUPS (SI), Z0
	VSUBPS Z8, Z0, Z0
	VFMADD231PS Z0, Z0, K1, Z10
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  lsVarLoop

lsVarBodyTail:
	MASKTAIL(CX, lsVarDone)
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS Z8, Z0, Z0
	VFMADD231PS Z0, Z0, K1, Z10
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  lsVarLoop

lsVarDone:
	HSUM(Z10, Y10, X10, Y11, X11)
	VMOVSS X10, ss+20(FP)
	VZEROUPPER
	RET

// func lnApplyAVX512(y, x, w, b *float32, n int, mean, rstd float32)
TEXT ·lnApplyAVX512(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), R8
	MOVQ b+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS mean+40(FP), Z8
	VBROADCASTSS rstd+44(FP), Z9
	MASKINIT

laLoop:
	FULLSTEP(CX, laBodyTail)

laBody:
	VMOVUPS (SI), Z0
	VSUBPS Z8, Z0, Z0
	VMULPS Z9, Z0, Z0
	TESTQ R8, R8
	JZ    laNoW
	VMULPS (R8), Z0, Z0
	ADDQ $64, R8

laNoW:
	TESTQ R9, R9
	JZ    laNoB
	VADDPS (R9), Z0, Z0
	ADDQ $64, R9

laNoB:
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  laLoop

laBodyTail:
	MASKTAIL(CX, laDone)
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS Z8, Z0, Z0
	VMULPS Z9, Z0, Z0
	TESTQ R8, R8
	JZ    laNoWTail
	VMULPS.Z (R8), Z0, K1, Z0
	ADDQ $64, R8

laNoWTail:
	TESTQ R9, R9
	JZ    laNoBTail
	VADDPS.Z (R9), Z0, K1, Z0
	ADDQ $64, R9

laNoBTail:
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  laLoop

laDone:
	VZEROUPPER
	RET

// func lnBackwardAVX512(dx, dw, db, dy, x, w *float32, n int, mean, rstd float32)
TEXT ·lnBackwardAVX512(SB), NOSPLIT, $0-64
	MOVQ dx+0(FP), R10
	MOVQ dw+8(FP), R11
	MOVQ db+16(FP), R12
	MOVQ dy+24(FP), BX
	MOVQ x+32(FP), SI
	MOVQ w+40(FP), R8
	MOVQ n+48(FP), CX
	VBROADCASTSS mean+56(FP), Z8
	VBROADCASTSS rstd+60(FP), Z9

	// Pass 1: Z10 = Σ g, Z11 = Σ g⊙x̂ with g = dy⊙w, x̂ = (x − μ)·rstd.
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	MOVQ BX, DX
	MOVQ SI, DI
	MOVQ R8, R9
	MOVQ CX, R13
	MASKINIT

lb1Loop:
	FULLSTEP(R13, lb1BodyTail)

lb1Body:
	VMOVUPS (DX), Z0
	TESTQ R9, R9
	JZ    lb1NoW
	VMULPS (R9), Z0, Z0
	ADDQ $64, R9

lb1NoW:
	VMOVUPS (DI), Z1
	VSUBPS Z8, Z1, Z1
	VMULPS Z9, Z1, Z1
	VADDPS Z0, Z10, K1, Z10
	VFMADD231PS Z1, Z0, K1, Z11
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, R13
	JMP  lb1Loop

lb1BodyTail:
	MASKTAIL(R13, lb1Done)
	VMOVUPS.Z (DX), K1, Z0
	TESTQ R9, R9
	JZ    lb1NoWTail
	VMULPS.Z (R9), Z0, K1, Z0
	ADDQ $64, R9

lb1NoWTail:
	VMOVUPS.Z (DI), K1, Z1
	VSUBPS Z8, Z1, Z1
	VMULPS Z9, Z1, Z1
	VADDPS Z0, Z10, K1, Z10
	VFMADD231PS Z1, Z0, K1, Z11
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, R13
	JMP  lb1Loop

lb1Done:
	VCVTSI2SSQ CX, X12, X12
	HSUM(Z10, Y10, X10, Y13, X13)
	HSUM(Z11, Y11, X11, Y13, X13)
	VDIVSS X12, X10, X10
	VDIVSS X12, X11, X11
	VBROADCASTSS X10, Z10
	VBROADCASTSS X11, Z11
	MASKINIT

	// Pass 2.
lb2Loop:
	FULLSTEP(CX, lb2BodyTail)

lb2Body:
	VMOVUPS (BX), Z0 // dy
	VMOVUPS (SI), Z1
	VSUBPS Z8, Z1, Z1
	VMULPS Z9, Z1, Z1 // x̂
	TESTQ R12, R12
	JZ    lb2NoDB
	VMOVUPS (R12), Z2
	VADDPS Z0, Z2, Z2
	VMOVUPS Z2, (R12)
	ADDQ $64, R12

lb2NoDB:
	TESTQ R11, R11
	JZ    lb2NoDW
	VMOVUPS (R11), Z2
	VFMADD231PS Z1, Z0, Z2
	VMOVUPS Z2, (R11)
	ADDQ $64, R11

lb2NoDW:
	VMOVAPS Z0, Z3
	TESTQ R8, R8
	JZ    lb2NoW
	VMULPS (R8), Z0, Z3
	ADDQ $64, R8

lb2NoW:
	TESTQ R10, R10
	JZ    lb2Next
	VSUBPS Z10, Z3, Z3
	VFNMADD231PS Z11, Z1, Z3
	VMULPS Z9, Z3, Z3
	VMOVUPS (R10), Z2
	VADDPS Z3, Z2, Z2
	VMOVUPS Z2, (R10)
	ADDQ $64, R10

lb2Next:
	ADDQ $64, BX
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  lb2Loop

lb2BodyTail:
	MASKTAIL(CX, lb2Done)
	VMOVUPS.Z (BX), K1, Z0 // dy
	VMOVUPS.Z (SI), K1, Z1
	VSUBPS Z8, Z1, Z1
	VMULPS Z9, Z1, Z1 // x̂
	TESTQ R12, R12
	JZ    lb2NoDBTail
	VMOVUPS.Z (R12), K1, Z2
	VADDPS Z0, Z2, Z2
	VMOVUPS Z2, K1, (R12)
	ADDQ $64, R12

lb2NoDBTail:
	TESTQ R11, R11
	JZ    lb2NoDWTail
	VMOVUPS.Z (R11), K1, Z2
	VFMADD231PS Z1, Z0, Z2
	VMOVUPS Z2, K1, (R11)
	ADDQ $64, R11

lb2NoDWTail:
	VMOVAPS Z0, Z3
	TESTQ R8, R8
	JZ    lb2NoWTail
	VMULPS.Z (R8), Z0, K1, Z3
	ADDQ $64, R8

lb2NoWTail:
	TESTQ R10, R10
	JZ    lb2NextTail
	VSUBPS Z10, Z3, Z3
	VFNMADD231PS Z11, Z1, Z3
	VMULPS Z9, Z3, Z3
	VMOVUPS.Z (R10), K1, Z2
	VADDPS Z3, Z2, Z2
	VMOVUPS Z2, K1, (R10)
	ADDQ $64, R10

lb2NextTail:
	ADDQ $64, BX
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  lb2Loop

lb2Done:
	VZEROUPPER
	RET
