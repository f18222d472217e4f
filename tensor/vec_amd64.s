//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 vector kernels (see vec.go for the math). Every loop handles 16
// float32 lanes per step; the last step runs a masked copy of the loop's
// body with a partial opmask K1, so masked-off lanes are neither loaded (no
// fault) nor stored.
// Operand order is Go's: OP src2, src1, dst (reverse of Intel).
// VMINPS/VMAXPS return their Go-first operand (Intel src2) when either input
// is NaN: clamps are written `VMINPS x, c, x` so that NaN propagates.

DATA expHi<>+0(SB)/4, $0x42b20000 // 89
GLOBL expHi<>(SB), RODATA|NOPTR, $4
DATA expLo<>+0(SB)/4, $0xc2d00000 // -104
GLOBL expLo<>(SB), RODATA|NOPTR, $4
DATA log2e<>+0(SB)/4, $0x3fb8aa3b // 1.4426950408889634
GLOBL log2e<>(SB), RODATA|NOPTR, $4
DATA ln2Hi<>+0(SB)/4, $0x3f318000 // 0.693359375
GLOBL ln2Hi<>(SB), RODATA|NOPTR, $4
DATA ln2Lo<>+0(SB)/4, $0xb95e8083 // -0.00021219444
GLOBL ln2Lo<>(SB), RODATA|NOPTR, $4
DATA expP0<>+0(SB)/4, $0x39506967 // 0.000198756915
GLOBL expP0<>(SB), RODATA|NOPTR, $4
DATA expP1<>+0(SB)/4, $0x3ab743ce // 0.0013981999507
GLOBL expP1<>(SB), RODATA|NOPTR, $4
DATA expP2<>+0(SB)/4, $0x3c088908 // 0.0083334519073
GLOBL expP2<>(SB), RODATA|NOPTR, $4
DATA expP3<>+0(SB)/4, $0x3d2aa9c1 // 0.041665795894
GLOBL expP3<>(SB), RODATA|NOPTR, $4
DATA expP4<>+0(SB)/4, $0x3e2aaaaa // 0.16666665459
GLOBL expP4<>(SB), RODATA|NOPTR, $4
DATA expP5<>+0(SB)/4, $0x3f000000 // 0.50000001201
GLOBL expP5<>(SB), RODATA|NOPTR, $4
DATA one<>+0(SB)/4, $0x3f800000 // 1
GLOBL one<>(SB), RODATA|NOPTR, $4
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
DATA negInf<>+0(SB)/4, $0xff800000 // -Inf
GLOBL negInf<>(SB), RODATA|NOPTR, $4

// MASKINIT sets K1 to all 16 lanes.
#define MASKINIT \
	MOVL $0xffff, AX; \
	KMOVW AX, K1

// FULLSTEP(cnt, tail): with 16 or more elements left, fall through to the
// loop's unmasked body; otherwise jump to its masked copy, tail. Only the
// last step is masked: AMD's Zen cores run masked loads from memory far
// slower than plain ones on streams larger than the cache (GELU on 19 MB:
// 3.0 ms masked, 1.2 ms plain, on Zen 5).
#define FULLSTEP(cnt, tail) \
	CMPQ cnt, $16; \
	JLT  tail

// MASKTAIL(cnt, done): at a loop's masked copy, with cnt < 16 elements
// left: to done when nothing is left, else K1 covers cnt lanes and cnt is
// set to 16, so that the copy's trailing SUBQ $16 ends the loop.
#define MASKTAIL(cnt, done) \
	TESTQ cnt, cnt; \
	JLE  done; \
	MOVL $1, AX; \
	SHLXL cnt, AX, AX; \
	DECL AX; \
	KMOVW AX, K1; \
	MOVQ $16, cnt

// HSUM reduces the 16 lanes of z into lane 0 of x (y, x: the same register's
// ymm/xmm names; ty, tx: a scratch register's names).
#define HSUM(z, y, x, ty, tx) \
	VEXTRACTF64X4 $1, z, ty; \
	VADDPS ty, y, y; \
	VEXTRACTF128 $1, y, tx; \
	VADDPS tx, x, x; \
	VPERMILPS $0x4e, x, tx; \
	VADDPS tx, x, x; \
	VPERMILPS $0xb1, x, tx; \
	VADDPS tx, x, x

#define HMAX(z, y, x, ty, tx) \
	VEXTRACTF64X4 $1, z, ty; \
	VMAXPS ty, y, y; \
	VEXTRACTF128 $1, y, tx; \
	VMAXPS tx, x, x; \
	VPERMILPS $0x4e, x, tx; \
	VMAXPS tx, x, x; \
	VPERMILPS $0xb1, x, tx; \
	VMAXPS tx, x, x

// EXPZ: x = eˣ (Cephes expf): clamp x to [−104, 89], n = round(x·log₂e),
// r = x − n·ln2 (two-part ln2), eʳ by a degree-7 Horner polynomial,
// result = eʳ·2ⁿ via VSCALEFPS (gives +Inf above, 0 below, denormals between).
// Clobbers n, t.
#define EXPZ(x, n, t) \
	VBROADCASTSS expHi<>(SB), t; \
	VMINPS x, t, x; \
	VBROADCASTSS expLo<>(SB), t; \
	VMAXPS x, t, x; \
	VMULPS.BCST log2e<>(SB), x, n; \
	VRNDSCALEPS $0, n, n; \
	VFNMADD231PS.BCST ln2Hi<>(SB), n, x; \
	VFNMADD231PS.BCST ln2Lo<>(SB), n, x; \
	VBROADCASTSS expP0<>(SB), t; \
	VFMADD213PS.BCST expP1<>(SB), x, t; \
	VFMADD213PS.BCST expP2<>(SB), x, t; \
	VFMADD213PS.BCST expP3<>(SB), x, t; \
	VFMADD213PS.BCST expP4<>(SB), x, t; \
	VFMADD213PS.BCST expP5<>(SB), x, t; \
	VFMADD213PS.BCST one<>(SB), x, t; \
	VFMADD213PS.BCST one<>(SB), x, t; \
	VSCALEFPS n, t, x

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

// func colSums64AVX512(dst, src *float32, rows, ld int)
//
// dst[j] += src[r·ld + j] for r = 0 … rows−1 in order and j < 64: four
// accumulators held in registers over the rows, each element's sum the
// one a vector add per row gives (an Axpy with α = 1 rounds alike).
TEXT ·colSums64AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ ld+24(FP), BX
	SHLQ $2, BX
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	TESTQ CX, CX
	JLE  cs64Done

cs64Loop:
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	ADDQ BX, SI
	DECQ CX
	JNZ  cs64Loop

cs64Done:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VZEROUPPER
	RET

// func colSums16AVX512(dst, src *float32, rows, ld, mask int)
//
// colSums64AVX512 for the columns of one 16-lane vector that mask selects
// (masked-off lanes are neither loaded nor stored).
TEXT ·colSums16AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ ld+24(FP), BX
	MOVQ mask+32(FP), AX
	KMOVW AX, K1
	SHLQ $2, BX
	VMOVUPS.Z (DI), K1, Z0
	TESTQ CX, CX
	JLE  cs16Done

cs16Loop:
	VMOVUPS.Z (SI), K1, Z1
	VADDPS Z1, Z0, Z0
	ADDQ BX, SI
	DECQ CX
	JNZ  cs16Loop

cs16Done:
	VMOVUPS Z0, K1, (DI)
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

// func softmaxRows4AVX512(x *float32, ld, n int)
//
// softmaxRowAVX512 on four rows of n ≥ 1 floats, ld floats apart, with each
// row's operations exactly as there (the same floats), the four rows' in
// step: one row's reductions and exponentials are chains of dependent
// instructions (about 200 cycles for 50 floats on Zen 5), and four
// independent chains overlap. Registers per row r: the row at SI, R8, R9,
// R10; max Z8+r; sum Z12+r, then its reciprocal; data and EXPZ
// temporaries Z0–Z2, Z3–Z5, Z16–Z18, Z19–Z21 (Z1, Z2, Z4, Z5 are the
// reductions' scratch: VEXTRACTF128 reaches only the first 16 registers).
TEXT ·softmaxRows4AVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ ld+8(FP), BX
	MOVQ n+16(FP), CX
	SHLQ $2, BX
	LEAQ (SI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10

	// Pass 1: m = max x per row (NaNs skipped).
	XORQ DI, DI
	MOVQ CX, DX
	VBROADCASTSS negInf<>(SB), Z8
	VMOVAPS Z8, Z9
	VMOVAPS Z8, Z10
	VMOVAPS Z8, Z11
	MASKINIT

s4MaxLoop:
	FULLSTEP(DX, s4MaxTail)
	VMOVUPS (SI)(DI*1), Z0
	VMOVUPS (R8)(DI*1), Z3
	VMOVUPS (R9)(DI*1), Z16
	VMOVUPS (R10)(DI*1), Z19
	VMAXPS Z8, Z0, K1, Z8
	VMAXPS Z9, Z3, K1, Z9
	VMAXPS Z10, Z16, K1, Z10
	VMAXPS Z11, Z19, K1, Z11
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  s4MaxLoop

s4MaxTail:
	MASKTAIL(DX, s4MaxDone)
	VMOVUPS.Z (SI)(DI*1), K1, Z0
	VMOVUPS.Z (R8)(DI*1), K1, Z3
	VMOVUPS.Z (R9)(DI*1), K1, Z16
	VMOVUPS.Z (R10)(DI*1), K1, Z19
	VMAXPS Z8, Z0, K1, Z8
	VMAXPS Z9, Z3, K1, Z9
	VMAXPS Z10, Z16, K1, Z10
	VMAXPS Z11, Z19, K1, Z11
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  s4MaxLoop

s4MaxDone:
	HMAX(Z8, Y8, X8, Y1, X1)
	HMAX(Z9, Y9, X9, Y2, X2)
	HMAX(Z10, Y10, X10, Y4, X4)
	HMAX(Z11, Y11, X11, Y5, X5)
	VBROADCASTSS X8, Z8
	VBROADCASTSS X9, Z9
	VBROADCASTSS X10, Z10
	VBROADCASTSS X11, Z11

	// Pass 2: x = exp(x − m), s = Σ per row.
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	XORQ DI, DI
	MOVQ CX, DX
	MASKINIT

s4ExpLoop:
	FULLSTEP(DX, s4ExpTail)
	VMOVUPS (SI)(DI*1), Z0
	VMOVUPS (R8)(DI*1), Z3
	VMOVUPS (R9)(DI*1), Z16
	VMOVUPS (R10)(DI*1), Z19
	VSUBPS Z8, Z0, Z0
	VSUBPS Z9, Z3, Z3
	VSUBPS Z10, Z16, Z16
	VSUBPS Z11, Z19, Z19
	EXPZ(Z0, Z1, Z2)
	EXPZ(Z3, Z4, Z5)
	EXPZ(Z16, Z17, Z18)
	EXPZ(Z19, Z20, Z21)
	VMOVUPS Z0, (SI)(DI*1)
	VMOVUPS Z3, (R8)(DI*1)
	VMOVUPS Z16, (R9)(DI*1)
	VMOVUPS Z19, (R10)(DI*1)
	VADDPS Z0, Z12, K1, Z12
	VADDPS Z3, Z13, K1, Z13
	VADDPS Z16, Z14, K1, Z14
	VADDPS Z19, Z15, K1, Z15
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  s4ExpLoop

s4ExpTail:
	MASKTAIL(DX, s4ExpDone)
	VMOVUPS.Z (SI)(DI*1), K1, Z0
	VMOVUPS.Z (R8)(DI*1), K1, Z3
	VMOVUPS.Z (R9)(DI*1), K1, Z16
	VMOVUPS.Z (R10)(DI*1), K1, Z19
	VSUBPS Z8, Z0, Z0
	VSUBPS Z9, Z3, Z3
	VSUBPS Z10, Z16, Z16
	VSUBPS Z11, Z19, Z19
	EXPZ(Z0, Z1, Z2)
	EXPZ(Z3, Z4, Z5)
	EXPZ(Z16, Z17, Z18)
	EXPZ(Z19, Z20, Z21)
	VMOVUPS Z0, K1, (SI)(DI*1)
	VMOVUPS Z3, K1, (R8)(DI*1)
	VMOVUPS Z16, K1, (R9)(DI*1)
	VMOVUPS Z19, K1, (R10)(DI*1)
	VADDPS Z0, Z12, K1, Z12
	VADDPS Z3, Z13, K1, Z13
	VADDPS Z16, Z14, K1, Z14
	VADDPS Z19, Z15, K1, Z15
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  s4ExpLoop

s4ExpDone:
	HSUM(Z12, Y12, X12, Y1, X1)
	HSUM(Z13, Y13, X13, Y2, X2)
	HSUM(Z14, Y14, X14, Y4, X4)
	HSUM(Z15, Y15, X15, Y5, X5)
	VBROADCASTSS one<>(SB), X1
	VDIVSS X12, X1, X1
	VBROADCASTSS X1, Z12
	VBROADCASTSS one<>(SB), X2
	VDIVSS X13, X2, X2
	VBROADCASTSS X2, Z13
	VBROADCASTSS one<>(SB), X4
	VDIVSS X14, X4, X4
	VBROADCASTSS X4, Z14
	VBROADCASTSS one<>(SB), X5
	VDIVSS X15, X5, X5
	VBROADCASTSS X5, Z15

	// Pass 3: x *= 1/s.
	XORQ DI, DI
	MOVQ CX, DX
	MASKINIT

s4ScaleLoop:
	FULLSTEP(DX, s4ScaleTail)
	VMOVUPS (SI)(DI*1), Z0
	VMOVUPS (R8)(DI*1), Z3
	VMOVUPS (R9)(DI*1), Z16
	VMOVUPS (R10)(DI*1), Z19
	VMULPS Z12, Z0, Z0
	VMULPS Z13, Z3, Z3
	VMULPS Z14, Z16, Z16
	VMULPS Z15, Z19, Z19
	VMOVUPS Z0, (SI)(DI*1)
	VMOVUPS Z3, (R8)(DI*1)
	VMOVUPS Z16, (R9)(DI*1)
	VMOVUPS Z19, (R10)(DI*1)
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  s4ScaleLoop

s4ScaleTail:
	MASKTAIL(DX, s4ScaleDone)
	VMOVUPS.Z (SI)(DI*1), K1, Z0
	VMOVUPS.Z (R8)(DI*1), K1, Z3
	VMOVUPS.Z (R9)(DI*1), K1, Z16
	VMOVUPS.Z (R10)(DI*1), K1, Z19
	VMULPS Z12, Z0, Z0
	VMULPS Z13, Z3, Z3
	VMULPS Z14, Z16, Z16
	VMULPS Z15, Z19, Z19
	VMOVUPS Z0, K1, (SI)(DI*1)
	VMOVUPS Z3, K1, (R8)(DI*1)
	VMOVUPS Z16, K1, (R9)(DI*1)
	VMOVUPS Z19, K1, (R10)(DI*1)
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  s4ScaleLoop

s4ScaleDone:
	VZEROUPPER
	RET

DATA signBit<>+0(SB)/4, $0x80000000
GLOBL signBit<>(SB), RODATA|NOPTR, $4

// func softmaxGrad4AVX512(d, p *float32, ld, n int)
//
// Four rows (ld floats apart in d and in p) of d = p ⊙ (d − Σ d⊙p), each
// row with exactly the operations of dotAVX512(d, p), mulAVX512(d, d, p)
// and axpyAVX512(−dot, p, d) for 1 ≤ n < 64 (where dotAVX512 runs only its
// 16-lane loop): the same floats, four rows in step. Registers per row r:
// d at SI, R8, R9, R10 and p at DI, R11, R12, R13; data Z0+r and Z4+r;
// the dot's sum Z10+r; −dot Z20+r; BX, once the row addresses are set,
// the byte offset of the columns.
TEXT ·softmaxGrad4AVX512(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), SI
	MOVQ p+8(FP), DI
	MOVQ ld+16(FP), BX
	MOVQ n+24(FP), CX
	SHLQ $2, BX
	LEAQ (SI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	LEAQ (DI)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	LEAQ (R12)(BX*1), R13
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	MOVQ CX, DX
	MASKINIT
	XORQ BX, BX

sg4DotLoop:
	FULLSTEP(DX, sg4DotTail)
	VMOVUPS (SI)(BX*1), Z0
	VMOVUPS (R8)(BX*1), Z1
	VMOVUPS (R9)(BX*1), Z2
	VMOVUPS (R10)(BX*1), Z3
	VMOVUPS (DI)(BX*1), Z4
	VMOVUPS (R11)(BX*1), Z5
	VMOVUPS (R12)(BX*1), Z6
	VMOVUPS (R13)(BX*1), Z7
	VFMADD231PS Z4, Z0, Z10
	VFMADD231PS Z5, Z1, Z11
	VFMADD231PS Z6, Z2, Z12
	VFMADD231PS Z7, Z3, Z13
	ADDQ $64, BX
	SUBQ $16, DX
	JMP  sg4DotLoop

sg4DotTail:
	MASKTAIL(DX, sg4DotDone)
	VMOVUPS.Z (SI)(BX*1), K1, Z0
	VMOVUPS.Z (R8)(BX*1), K1, Z1
	VMOVUPS.Z (R9)(BX*1), K1, Z2
	VMOVUPS.Z (R10)(BX*1), K1, Z3
	VMOVUPS.Z (DI)(BX*1), K1, Z4
	VMOVUPS.Z (R11)(BX*1), K1, Z5
	VMOVUPS.Z (R12)(BX*1), K1, Z6
	VMOVUPS.Z (R13)(BX*1), K1, Z7
	VFMADD231PS Z4, Z0, Z10
	VFMADD231PS Z5, Z1, Z11
	VFMADD231PS Z6, Z2, Z12
	VFMADD231PS Z7, Z3, Z13
	ADDQ $64, BX
	SUBQ $16, DX
	JMP  sg4DotLoop

sg4DotDone:
	HSUM(Z10, Y10, X10, Y14, X14)
	VBROADCASTSS X10, Z20
	VPXORD.BCST signBit<>(SB), Z20, Z20
	HSUM(Z11, Y11, X11, Y15, X15)
	VBROADCASTSS X11, Z21
	VPXORD.BCST signBit<>(SB), Z21, Z21
	HSUM(Z12, Y12, X12, Y8, X8)
	VBROADCASTSS X12, Z22
	VPXORD.BCST signBit<>(SB), Z22, Z22
	HSUM(Z13, Y13, X13, Y9, X9)
	VBROADCASTSS X13, Z23
	VPXORD.BCST signBit<>(SB), Z23, Z23
	XORQ BX, BX
	MOVQ CX, DX
	MASKINIT

sg4Loop:
	FULLSTEP(DX, sg4Tail)
	VMOVUPS (SI)(BX*1), Z0
	VMOVUPS (R8)(BX*1), Z1
	VMOVUPS (R9)(BX*1), Z2
	VMOVUPS (R10)(BX*1), Z3
	VMOVUPS (DI)(BX*1), Z4
	VMOVUPS (R11)(BX*1), Z5
	VMOVUPS (R12)(BX*1), Z6
	VMOVUPS (R13)(BX*1), Z7
	VMULPS Z4, Z0, Z0
	VMULPS Z5, Z1, Z1
	VMULPS Z6, Z2, Z2
	VMULPS Z7, Z3, Z3
	VFMADD231PS Z4, Z20, Z0
	VFMADD231PS Z5, Z21, Z1
	VFMADD231PS Z6, Z22, Z2
	VFMADD231PS Z7, Z23, Z3
	VMOVUPS Z0, (SI)(BX*1)
	VMOVUPS Z1, (R8)(BX*1)
	VMOVUPS Z2, (R9)(BX*1)
	VMOVUPS Z3, (R10)(BX*1)
	ADDQ $64, BX
	SUBQ $16, DX
	JMP  sg4Loop

sg4Tail:
	MASKTAIL(DX, sg4Done)
	VMOVUPS.Z (SI)(BX*1), K1, Z0
	VMOVUPS.Z (R8)(BX*1), K1, Z1
	VMOVUPS.Z (R9)(BX*1), K1, Z2
	VMOVUPS.Z (R10)(BX*1), K1, Z3
	VMOVUPS.Z (DI)(BX*1), K1, Z4
	VMOVUPS.Z (R11)(BX*1), K1, Z5
	VMOVUPS.Z (R12)(BX*1), K1, Z6
	VMOVUPS.Z (R13)(BX*1), K1, Z7
	VMULPS Z4, Z0, Z0
	VMULPS Z5, Z1, Z1
	VMULPS Z6, Z2, Z2
	VMULPS Z7, Z3, Z3
	VFMADD231PS Z4, Z20, Z0
	VFMADD231PS Z5, Z21, Z1
	VFMADD231PS Z6, Z22, Z2
	VFMADD231PS Z7, Z23, Z3
	VMOVUPS Z0, K1, (SI)(BX*1)
	VMOVUPS Z1, K1, (R8)(BX*1)
	VMOVUPS Z2, K1, (R9)(BX*1)
	VMOVUPS Z3, K1, (R10)(BX*1)
	ADDQ $64, BX
	SUBQ $16, DX
	JMP  sg4Loop

sg4Done:
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

// func lnStats4AVX512(x *float32, ld, n int, out *float32)
//
// lnStatsAVX512 on four rows of n ≥ 1 floats, ld floats apart, with each
// row's operations exactly as there (the same floats), the four rows' in
// step so that their dependent sums overlap: out[r] = mean of row r,
// out[4+r] = Σ (x − mean)². Registers per row r: the row at SI, R8, R9,
// R10; data Z0+r; sums Z10+r; mean Z20+r; reduction scratch Z4+r.
TEXT ·lnStats4AVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ ld+8(FP), BX
	MOVQ n+16(FP), CX
	MOVQ out+24(FP), R11
	SHLQ $2, BX
	LEAQ (SI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	XORQ DI, DI
	MOVQ CX, DX
	MASKINIT

ls4SumLoop:
	FULLSTEP(DX, ls4SumTail)
	VMOVUPS (SI)(DI*1), Z0
	VMOVUPS (R8)(DI*1), Z1
	VMOVUPS (R9)(DI*1), Z2
	VMOVUPS (R10)(DI*1), Z3
	VADDPS Z0, Z10, Z10
	VADDPS Z1, Z11, Z11
	VADDPS Z2, Z12, Z12
	VADDPS Z3, Z13, Z13
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  ls4SumLoop

ls4SumTail:
	MASKTAIL(DX, ls4SumDone)
	VMOVUPS.Z (SI)(DI*1), K1, Z0
	VMOVUPS.Z (R8)(DI*1), K1, Z1
	VMOVUPS.Z (R9)(DI*1), K1, Z2
	VMOVUPS.Z (R10)(DI*1), K1, Z3
	VADDPS Z0, Z10, Z10
	VADDPS Z1, Z11, Z11
	VADDPS Z2, Z12, Z12
	VADDPS Z3, Z13, Z13
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  ls4SumLoop

ls4SumDone:
	HSUM(Z10, Y10, X10, Y4, X4)
	VCVTSI2SSQ CX, X4, X4
	VDIVSS X4, X10, X10
	VMOVSS X10, 0(R11)
	VBROADCASTSS X10, Z20
	HSUM(Z11, Y11, X11, Y5, X5)
	VCVTSI2SSQ CX, X5, X5
	VDIVSS X5, X11, X11
	VMOVSS X11, 4(R11)
	VBROADCASTSS X11, Z21
	HSUM(Z12, Y12, X12, Y6, X6)
	VCVTSI2SSQ CX, X6, X6
	VDIVSS X6, X12, X12
	VMOVSS X12, 8(R11)
	VBROADCASTSS X12, Z22
	HSUM(Z13, Y13, X13, Y7, X7)
	VCVTSI2SSQ CX, X7, X7
	VDIVSS X7, X13, X13
	VMOVSS X13, 12(R11)
	VBROADCASTSS X13, Z23
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	XORQ DI, DI
	MOVQ CX, DX
	MASKINIT

ls4VarLoop:
	FULLSTEP(DX, ls4VarTail)
	VMOVUPS (SI)(DI*1), Z0
	VMOVUPS (R8)(DI*1), Z1
	VMOVUPS (R9)(DI*1), Z2
	VMOVUPS (R10)(DI*1), Z3
	VSUBPS Z20, Z0, Z0
	VSUBPS Z21, Z1, Z1
	VSUBPS Z22, Z2, Z2
	VSUBPS Z23, Z3, Z3
	VFMADD231PS Z0, Z0, K1, Z10
	VFMADD231PS Z1, Z1, K1, Z11
	VFMADD231PS Z2, Z2, K1, Z12
	VFMADD231PS Z3, Z3, K1, Z13
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  ls4VarLoop

ls4VarTail:
	MASKTAIL(DX, ls4VarDone)
	VMOVUPS.Z (SI)(DI*1), K1, Z0
	VMOVUPS.Z (R8)(DI*1), K1, Z1
	VMOVUPS.Z (R9)(DI*1), K1, Z2
	VMOVUPS.Z (R10)(DI*1), K1, Z3
	VSUBPS Z20, Z0, Z0
	VSUBPS Z21, Z1, Z1
	VSUBPS Z22, Z2, Z2
	VSUBPS Z23, Z3, Z3
	VFMADD231PS Z0, Z0, K1, Z10
	VFMADD231PS Z1, Z1, K1, Z11
	VFMADD231PS Z2, Z2, K1, Z12
	VFMADD231PS Z3, Z3, K1, Z13
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  ls4VarLoop

ls4VarDone:
	HSUM(Z10, Y10, X10, Y4, X4)
	VMOVSS X10, 16(R11)
	HSUM(Z11, Y11, X11, Y5, X5)
	VMOVSS X11, 20(R11)
	HSUM(Z12, Y12, X12, Y6, X6)
	VMOVSS X12, 24(R11)
	HSUM(Z13, Y13, X13, Y7, X7)
	VMOVSS X13, 28(R11)
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
