// Shared by vec_amd64.s and the generated vec4_amd64.s: the constants of
// EXPZ (file-local symbols: each file that includes this has its own
// copies) and the loop and reduction macros of the AVX-512 vector kernels.
// Every loop handles 16 float32 lanes per step; the last step runs a
// masked copy of the loop's body with a partial opmask K1, so masked-off
// lanes are neither loaded (no fault) nor stored.

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
