//go:build amd64 && !purego

package tensor

import "unsafe"

//go:generate go run gemm_asmgen.go asmgen_transpose.go

// sgemmKernel14x32 computes the rows×32 tile C = alpha·Â·B̂ + beta·C with
// AVX-512: Â(i,p) is at a + i·rs + p·cs bytes (i < 14), B̂ is packed [k][32],
// mask selects the valid columns (bit j = column j), rows ≤ 14 are stored.
// With beta0 != 0, C is written without being read: C = alpha·Â·B̂, or,
// with bias != nil, alpha·Â·B̂ + bias[j] in column j of every row.
//
//go:noescape
func sgemmKernel14x32(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32)

// sgemmKernel14x32pf is sgemmKernel14x32 with software prefetch of B.
//
//go:noescape
func sgemmKernel14x32pf(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32)

// sgemmKernel28x16 is the narrow AVX-512 kernel: the rows×16 tile (rows ≤
// 28, one zmm register per row) with sgemmKernel14x32pf's arguments, B̂
// packed [k][16]. Its floats are sgemmKernel14x32's: the same chain of
// fused multiply-adds for every element, the same store.
//
//go:noescape
func sgemmKernel28x16(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32)

// sgemmKernel14x32s is sgemmKernel14x32pf reading B in place: row p of B̂
// (32 floats) at b + p·ldb bytes, prefetched 8 rows ahead. Its floats are
// sgemmKernel14x32's.
//
//go:noescape
func sgemmKernel14x32s(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32, ldb uintptr)

// sgemmKernel14x16s is sgemmKernel14x32s for the first 16 columns of B̂'s
// rows (row p at b + p·ldb bytes): an edge panel of at most 16 columns.
// Its floats are sgemmKernel14x32's.
//
//go:noescape
func sgemmKernel14x16s(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32, ldb uintptr)

// sgemmKernel6x16 computes the 6×16 tile C = alpha·Â·B̂ + beta·C with
// AVX2+FMA; addressing as in sgemmKernel14x32, B̂ packed [k][16]. With
// beta0 != 0 and bias != nil, C = alpha·Â·B̂ + bias[j] in column j. With
// mask != nil (avx2Mask), only the first rows rows and the columns whose
// mask is all ones are read and written (bias too), with the same floats.
//
//go:noescape
func sgemmKernel6x16(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32)

// sgemmKernel12x8 is sgemmKernel6x16 for a 12×8 tile (B̂ packed [k][8];
// mask: 8 lanes).
//
//go:noescape
func sgemmKernel12x8(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32)

// sgemmKernel6x16s is sgemmKernel6x16 reading B's row p at b + p·ldb
// bytes (stridedB).
//
//go:noescape
func sgemmKernel6x16s(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32, ldb uintptr)

// sgemmKernel8x8s is sgemmKernel6x16 for an 8×8 tile, B's row p read at
// b + p·ldb bytes (ldb 32: B̂ packed [k][8]; mask: 8 lanes).
//
//go:noescape
func sgemmKernel8x8s(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32, ldb uintptr)

// sgemmKernel6x8s is sgemmKernel6x16s on the first 8 columns of B̂'s rows
// (row p at b + p·ldb bytes; mask: 8 lanes): an edge panel of at most 8
// columns. Its floats are sgemmKernel6x16's.
//
//go:noescape
func sgemmKernel6x8s(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32, ldb uintptr)

// transpose16x16 writes dst[p][i] = src[i][p] for i < 16 and p < 16·blocks
// (AVX-512); ds and ss are the row strides of dst and src in bytes.
//
//go:noescape
func transpose16x16(dst *float32, ds uintptr, src *float32, ss uintptr, blocks int)

// transpose8x8 is transpose16x16 for AVX2: dst[p][i] = src[i][p] for i < 8
// and p < 8·blocks.
//
//go:noescape
func transpose8x8(dst *float32, ds uintptr, src *float32, ss uintptr, blocks int)

// packMasked16 copies, for each of k steps, the first bits.Len(mask) ≤ 16
// floats at src to a 16-float row of dst (zero-filled); src advances ss bytes.
//
//go:noescape
func packMasked16(dst *float32, src *float32, ss uintptr, k int, mask int)

// packMasked16AVX2 is packMasked16 for AVX2: mask[j] is all ones for each
// float j < 16 kept (a masked load: nothing past them is read); with
// full != 0 all 16 are, and mask is not read.
//
//go:noescape
func packMasked16AVX2(dst *float32, src *float32, ss uintptr, k int, mask *int32, full int)

// copy6 copies 6 floats from src to dst n times, src advancing ss bytes
// and dst ds bytes (AVX2).
//
//go:noescape
func copy6(dst *float32, ds uintptr, src *float32, ss uintptr, n int)

// packMasked32 is packMasked16 with 32-float rows.
//
//go:noescape
func packMasked32(dst *float32, src *float32, ss uintptr, k int, mask int)

//go:noescape
func cpuid(eax, ecx uint32) (a, b, c, d uint32)

func xgetbv0() (lo, hi uint32)

// cpuFeatures reports AVX2+FMA and AVX-512F support, including the OS
// saving the ymm/zmm state.
func cpuFeatures() (avx2fma, avx512 bool) {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false, false
	}
	_, _, c1, _ := cpuid(1, 0)
	fma := c1&(1<<12) != 0
	osxsave := c1&(1<<27) != 0
	avx := c1&(1<<28) != 0
	if !osxsave || !avx {
		return false, false
	}
	xcr0, _ := xgetbv0()
	osYMM := xcr0&0x6 == 0x6
	osZMM := xcr0&0xe6 == 0xe6
	_, b7, _, _ := cpuid(7, 0)
	avx2 := b7&(1<<5) != 0
	avx512f := b7&(1<<16) != 0
	return avx2 && fma && osYMM, avx512f && fma && osZMM
}

// bf16CPU reports the CPU's bfloat16 instructions: AVX512-BF16 (CPUID
// leaf 7 subleaf 1, EAX bit 5, with the zmm state saved) and AMX-BF16
// (leaf 7 EDX bits 22 and 24, AMX-BF16 and AMX-TILE, with the tile state
// enabled in XCR0 bits 17 and 18; Linux still requires a process to ask
// for it with arch_prctl before the first tile instruction).
func bf16CPU() BF16Features {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return BF16Features{}
	}
	_, _, c1, _ := cpuid(1, 0)
	if c1&(1<<27) == 0 { // no OSXSAVE: no XCR0 to read
		return BF16Features{}
	}
	xcr0, _ := xgetbv0()
	_, b7, _, d7 := cpuid(7, 0)
	a71, _, _, _ := cpuid(7, 1)
	return BF16Features{
		AVX512BF16: b7&(1<<16) != 0 && a71&(1<<5) != 0 && xcr0&0xe6 == 0xe6,
		AMXBF16:    d7&(1<<22) != 0 && d7&(1<<24) != 0 && xcr0&(3<<17) == 3<<17,
	}
}

// gemmPrefetch selects the AVX-512 kernel variant with software prefetch.
var gemmPrefetch = true

func f32p(p unsafe.Pointer) *float32 { return (*float32)(p) }

// flag is b as the kernels' int flags (beta0): 1 or 0.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// zmmTile is the signature of the AVX-512 micro-kernels.
type zmmTile func(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32)

// kernel14x32 is the AVX-512 kernel variant in use: with software prefetch
// unless gemmPrefetch is off (tests).
func kernel14x32() zmmTile {
	if gemmPrefetch {
		return sgemmKernel14x32pf
	}
	return sgemmKernel14x32
}

// zmmKernel is the microKernel of an AVX-512 tile function (fn gives it
// at each call): its column mask, bias store, 16×16 transposes and masked
// row copies.
func zmmKernel(name string, mr, nr, mrPad int, fn func() zmmTile) *microKernel {
	return &microKernel{
		name: name, mr: mr, nr: nr, mrPad: mrPad, tb: 16,
		tile: func(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool) {
			fn()(k, f32p(a), rs, cs, f32p(b), f32p(c), ldc, alpha, beta, rows, int(uint32(1)<<cols-1), flag(beta0), nil)
		},
		biasTile: func(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, alpha float32, rows, cols int, bias unsafe.Pointer) {
			fn()(k, f32p(a), rs, cs, f32p(b), f32p(c), ldc, alpha, 0, rows, int(uint32(1)<<cols-1), 1, f32p(bias))
		},
		transpose: func(dst unsafe.Pointer, ds uintptr, src unsafe.Pointer, ss uintptr, blocks int) {
			transpose16x16(f32p(dst), ds, f32p(src), ss, blocks)
		},
		rowCopy: func(dst, src unsafe.Pointer, ss uintptr, k, width, dw int) {
			if dw == 16 {
				packMasked16(f32p(dst), f32p(src), ss, k, 1<<width-1)
			} else {
				packMasked32(f32p(dst), f32p(src), ss, k, int(uint32(1)<<width-1))
			}
		},
	}
}

var kernelAVX512 = func() *microKernel {
	k := zmmKernel("avx512-14x32", 14, 32, 16, kernel14x32)
	k.stridedB = func(kn int, a unsafe.Pointer, rs, cs uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool, bias unsafe.Pointer) {
		sgemmKernel14x32s(kn, f32p(a), rs, cs, f32p(b), f32p(c), ldc, alpha, beta, rows, int(uint32(1)<<cols-1), flag(beta0), f32p(bias), ldb)
	}
	k.halfB = func(kn int, a unsafe.Pointer, rs, cs uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool, bias unsafe.Pointer) {
		sgemmKernel14x16s(kn, f32p(a), rs, cs, f32p(b), f32p(c), ldc, alpha, beta, rows, 1<<cols-1, flag(beta0), f32p(bias), ldb)
	}
	return k
}()

// kernelAVX512N is the AVX-512 kernel for products of at most 16 columns
// (kernelAVX512.narrow): 28 rows of one zmm register each, where the 14×32
// kernel computes 32 columns for 8 (a rank-8 LoRA product: t = x·Buᵀ,
// dt = dy·Bd). The same floats as kernelAVX512.
var kernelAVX512N = zmmKernel("avx512-28x16", 28, 16, 28, func() zmmTile { return sgemmKernel28x16 })

// ymmTile is the signature of the AVX2 micro-kernels.
type ymmTile func(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32)

// ymmKernel is the microKernel of an AVX2 tile function: its column mask
// (avx2Mask), bias store and 8×8 transposes.
func ymmKernel(name string, mr, nr int, fn ymmTile) *microKernel {
	return &microKernel{
		name: name, mr: mr, nr: nr, mrPad: mr, tb: 8,
		transpose: func(dst unsafe.Pointer, ds uintptr, src unsafe.Pointer, ss uintptr, blocks int) {
			transpose8x8(f32p(dst), ds, f32p(src), ss, blocks)
		},
		tile: func(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool) {
			fn(k, f32p(a), rs, cs, f32p(b), f32p(c), ldc, alpha, beta, flag(beta0), nil, rows, avx2Mask(mr, nr, rows, cols))
		},
		biasTile: func(k int, a unsafe.Pointer, rs, cs uintptr, b, c unsafe.Pointer, ldc uintptr, alpha float32, rows, cols int, bias unsafe.Pointer) {
			fn(k, f32p(a), rs, cs, f32p(b), f32p(c), ldc, alpha, 0, 1, f32p(bias), rows, avx2Mask(mr, nr, rows, cols))
		},
	}
}

// ymmStridedB is the stridedB of an AVX2 kernel of mr×nr tiles that takes
// B's row stride (ldb, its last argument).
func ymmStridedB(mr, nr int, fn func(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32, ldb uintptr)) func(int, unsafe.Pointer, uintptr, uintptr, unsafe.Pointer, uintptr, unsafe.Pointer, uintptr, float32, float32, int, int, bool, unsafe.Pointer) {
	return func(k int, a unsafe.Pointer, rs, cs uintptr, b unsafe.Pointer, ldb uintptr, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, cols int, beta0 bool, bias unsafe.Pointer) {
		fn(k, f32p(a), rs, cs, f32p(b), f32p(c), ldc, alpha, beta, flag(beta0), f32p(bias), rows, avx2Mask(mr, nr, rows, cols), ldb)
	}
}

var kernelAVX2 = func() *microKernel {
	kern := ymmKernel("avx2-6x16", 6, 16, sgemmKernel6x16)
	kern.rowCopy = func(dst, src unsafe.Pointer, ss uintptr, k, width, dw int) {
		if dw != 16 {
			panic("tensor: the AVX2 row copy takes 16-float rows")
		}
		full := 0
		if width == 16 {
			full = 1
		}
		packMasked16AVX2(f32p(dst), f32p(src), ss, k, &avx2ColMasks[width][0], full)
	}
	kern.copy6 = func(dst unsafe.Pointer, ds uintptr, src unsafe.Pointer, ss uintptr, n int) {
		copy6(f32p(dst), ds, f32p(src), ss, n)
	}
	kern.stridedB = ymmStridedB(6, 16, sgemmKernel6x16s)
	kern.halfB = ymmStridedB(6, 16, sgemmKernel6x8s)
	return kern
}()

// kernelAVX2N is the AVX2 kernel for products of at most 8 columns
// (kernelAVX2.narrow): 12 rows of one ymm register each, where the 6×16
// kernel computes 16 columns for 8 (a rank-8 LoRA product). The same
// floats as kernelAVX2.
var kernelAVX2N = ymmKernel("avx2-12x8", 12, 8, sgemmKernel12x8)

// kernelAVX2S is the AVX2 kernel for products of at most 8 rows and more
// than 8 columns (kernelAVX2.short): one row panel, which reads B in
// place (stridedB) where B is not transposed, where the 6×16 kernel
// packs B and computes 12 rows for 8 (a rank-8 LoRA's weight gradients
// dBd = tᵀ·dy and dBu = dtᵀ·x). The same floats as kernelAVX2.
var kernelAVX2S = func() *microKernel {
	kern := ymmKernel("avx2-8x8", 8, 8, func(k int, a *float32, rs, cs uintptr, b *float32, c *float32, ldc uintptr, alpha, beta float32, beta0 int, bias *float32, rows int, mask *int32) {
		sgemmKernel8x8s(k, a, rs, cs, b, c, ldc, alpha, beta, beta0, bias, rows, mask, 32)
	})
	kern.stridedB = ymmStridedB(8, 8, sgemmKernel8x8s)
	return kern
}()

// avx2ColMasks[w] keeps the first w of 16 columns (all ones) in the AVX2
// kernel's masked loads and stores.
var avx2ColMasks = func() (m [17][16]int32) {
	for w := range m {
		for j := range w {
			m[w][j] = -1
		}
	}
	return m
}()

// avx2Mask is the column mask an AVX2 kernel of mr×nr tiles takes for a
// rows×cols tile: nil for a full one, which it stores whole.
func avx2Mask(mr, nr, rows, cols int) *int32 {
	if rows == mr && cols == nr {
		return nil
	}
	return &avx2ColMasks[cols][0]
}

func init() {
	avx2, avx512 := cpuFeatures()
	switch {
	case avx512:
		defaultKernel = kernelAVX512
	case avx2:
		defaultKernel = kernelAVX2
	}
	if avx2 {
		kernelAVX2.narrow, kernelAVX2.short = kernelAVX2N, kernelAVX2S
		availableKernels = append(availableKernels, kernelAVX2, kernelAVX2N, kernelAVX2S)
	}
	if avx512 {
		kernelAVX512.narrow = kernelAVX512N
		availableKernels = append(availableKernels, kernelAVX512, kernelAVX512N)
	}
}
