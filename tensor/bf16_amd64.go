//go:build amd64 && !purego

package tensor

import (
	"os"
	"syscall"
	"unsafe"
)

//go:generate go run bf16_asmgen.go asmgen_transpose.go -check

// sbgemmKernel14x32 computes the rows×32 tile C = alpha·Â·B̂ + beta·C with
// AVX512-BF16 (VDPBF16PS): Â is packed [kp][16] bf16 pairs, B̂ [kp][32];
// mask selects the valid columns; with beta0 != 0, C is not read, and
// with bias != nil then, C = alpha·Â·B̂ + bias[j] in column j.
//
//go:noescape
func sbgemmKernel14x32(kp int, a *uint16, b *uint16, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32)

// sbgemmKernel14x16 is sbgemmKernel14x32 on the first 16 columns of B̂'s
// pair rows, for an edge panel of at most 16 columns (mask < 1<<16): the
// same floats on them, half the multiply-adds.
//
//go:noescape
func sbgemmKernel14x16(kp int, a *uint16, b *uint16, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32)

// dpTile is the signature of the AVX512-BF16 kernels.
type dpTile func(kp int, a *uint16, b *uint16, c *float32, ldc uintptr, alpha, beta float32, rows int, mask int, beta0 int, bias *float32)

// dpHalf is the kernel of an edge panel of at most 16 columns (a variable
// for tests).
var dpHalf dpTile = sbgemmKernel14x16

// dpKernel is the AVX512-BF16 kernel for a panel of cols columns: its
// half for at most 16 (halfEdge).
func dpKernel(cols int) dpTile {
	if cols <= 16 && halfEdge {
		return dpHalf
	}
	return sbgemmKernel14x32
}

// amxRowPanel computes, with AMX tiles, for each of npan B panels the 32×32
// block C = Â·B̂ (zero != 0) or C += Â·B̂: Â is [32][32·kc32] bf16 with row
// stride lda bytes, each B panel [16·kc32][32] bf16 pairs, panels bs bytes
// apart; C has row stride ldc bytes and moves 32 columns per panel. cfg is
// the 64-byte tile configuration (amxTileConfig).
//
//go:noescape
func amxRowPanel(kc32 int, a *uint16, lda uintptr, b *uint16, bs uintptr, npan int, c *float32, ldc uintptr, zero int, cfg *byte)

// bf16ConvertRow sets dst[i] = bf16(src[i]) for i < n (n a multiple of 32).
//
//go:noescape
func bf16ConvertRow(dst *uint16, src *float32, n int)

// bf16PackRows16 converts 16 float32 rows (row i at src + i·ss bytes, rows
// ≥ rows as zeros) to bf16 pairs and transposes them, 32 floats a row at a
// time: dword i of dst + q·ds bytes = (bf16(row i [2q]), bf16(row i [2q+1])).
// Each of chunks chunks covers 32 floats (16 pair steps); the last reads
// the floats its 16-bit masks lo, hi select (zeros elsewhere) and stores
// only its first last pair steps.
//
//go:noescape
func bf16PackRows16(dst *uint16, ds uintptr, src *float32, ss uintptr, rows, chunks, lo, hi, last int)

// bf16InterleavePairs interleaves row pairs as bf16: for pair steps q <
// kp, rows 2q and 2q+1 of src (row stride ld bytes; rows ≥ kb as zeros),
// 16·blocks floats each (blocks 1 or 2; block 0's lanes selected by the
// 16-bit mask0, block 1's by mask1, zeros elsewhere), go to
// dst[(q·16·blocks + j)·2 + e] = bf16(row 2q+e [j]); perm is bf16PairPerm.
//
//go:noescape
func bf16InterleavePairs(dst *uint16, src *float32, ld uintptr, kb, kp, blocks, mask0, mask1 int, perm *uint16)

// bf16PairPerm is VPERMW's index vector that interleaves the low 16 words
// (row 0) with the high 16 (row 1).
var bf16PairPerm = func() (p [32]uint16) {
	for j := 0; j < 16; j++ {
		p[2*j], p[2*j+1] = uint16(j), uint16(16+j)
	}
	return p
}()

// amxTileConfig is LDTILECFG's 64 bytes: palette 1, tiles 0-7 all 16 rows
// of 64 bytes (C quarters: 16×16 f32; A: 16 rows × 32 bf16; B: 16 pair
// rows × 16 columns).
var amxTileConfig = func() (cfg [64]byte) {
	cfg[0] = 1
	for t := 0; t < 8; t++ {
		cfg[16+2*t] = 64
		cfg[48+t] = 16
	}
	return cfg
}()

// hasAVX512BF16 gates the AVX512-BF16 packing helpers.
var hasAVX512BF16 bool

var kernelDPBF16 = &bf16Kernel{
	name: "avx512bf16-14x32", mr: 14, nr: 32, mrPad: 16, kAlign: 2, kcMax: 384, layout: pairLayout,
	tiles: func(kbp int, a, b []uint16, npan int, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, lastCols int, beta0 bool) {
		z := flag(beta0)
		for jp := 0; jp < npan; jp++ {
			cols := 32
			if jp == npan-1 {
				cols = lastCols
			}
			dpKernel(cols)(kbp/2, &a[0], &b[jp*kbp*32], (*float32)(unsafe.Add(c, jp*32*4)), ldc, alpha, beta, rows, int(uint32(1)<<cols-1), z, nil)
		}
	},
	biasTiles: func(kbp int, a, b []uint16, npan int, c unsafe.Pointer, ldc uintptr, alpha float32, rows, lastCols int, bias unsafe.Pointer) {
		for jp := 0; jp < npan; jp++ {
			cols := 32
			if jp == npan-1 {
				cols = lastCols
			}
			dpKernel(cols)(kbp/2, &a[0], &b[jp*kbp*32], (*float32)(unsafe.Add(c, jp*32*4)), ldc, alpha, 0, rows, int(uint32(1)<<cols-1), 1, (*float32)(unsafe.Add(bias, jp*32*4)))
		}
	},
}

var kernelAMX = &bf16Kernel{
	name: "amx-32x32", mr: 32, nr: 32, kAlign: 32, kcMax: 768, layout: rowLayout,
	tiles: amxTiles,
	// With a bias: the tile's rows of C set to it, then C += alpha·Â·B̂,
	// the floats of a C filled with the bias before and beta 1 (the bias is
	// the first term of each sum, in the accumulator tiles), without a pass
	// of its own over C (SgemmBias) and so that SgemmSplit runs as one
	// product with one.
	biasTiles: func(kbp int, a, b []uint16, npan int, c unsafe.Pointer, ldc uintptr, alpha float32, rows, lastCols int, bias unsafe.Pointer) {
		cols := (npan-1)*32 + lastCols
		brow := unsafe.Slice((*float32)(bias), cols)
		for i := 0; i < rows; i++ {
			copy(unsafe.Slice((*float32)(unsafe.Add(c, uintptr(i)*ldc)), cols), brow)
		}
		amxTiles(kbp, a, b, npan, c, ldc, alpha, 1, rows, lastCols, false)
	},
}

// amxTiles is kernelAMX's tiles.
func amxTiles(kbp int, a, b []uint16, npan int, c unsafe.Pointer, ldc uintptr, alpha, beta float32, rows, lastCols int, beta0 bool) {
	const panel = 32 * 32
	lda := uintptr(kbp) * 2
	bs := uintptr(kbp*32) * 2
	direct := npan
	if lastCols < 32 {
		direct--
	}
	if rows < 32 || alpha != 1 || !(beta0 || beta == 1) {
		direct = 0
	}
	if direct > 0 {
		// Whole 32×32 blocks with C = Â·B̂ or C += Â·B̂: the tiles load
		// and store C in place.
		z := flag(beta0)
		amxRowPanel(kbp/32, &a[0], lda, &b[0], bs, direct, (*float32)(c), ldc, z, &amxTileConfig[0])
	}
	var tmp [panel]float32
	for jp := direct; jp < npan; jp++ {
		cols := 32
		if jp == npan-1 {
			cols = lastCols
		}
		amxRowPanel(kbp/32, &a[0], lda, &b[jp*kbp*32], bs, 1, &tmp[0], 128, 1, &amxTileConfig[0])
		storeTile(tmp[:], 32, unsafe.Add(c, jp*32*4), ldc, alpha, beta, rows, cols, beta0)
	}
}

// Linux's arch_prctl request for a dynamically enabled state component.
const (
	sysArchPrctl        = 158
	archReqXcompPerm    = 0x1023
	xfeatureXtileData   = 18
	envBF16KernelChoice = "GLORA_BF16_KERNEL"
)

// requestAMX asks Linux for the AMX tile-data state (kernel ≥ 5.16); a
// process that has not may not execute tile instructions.
func requestAMX() bool {
	_, _, errno := syscall.RawSyscall(sysArchPrctl, archReqXcompPerm, xfeatureXtileData, 0)
	return errno == 0
}

// amxRefused says why AMX is not used although the CPU has it ("" if it is).
var amxRefused string

func init() {
	f := bf16CPU()
	if f.AVX512BF16 {
		hasAVX512BF16 = true
		bf16Kernels = append(bf16Kernels, kernelDPBF16)
		nativeBF16 = kernelDPBF16
	}
	if f.AMXBF16 {
		if requestAMX() {
			bf16Kernels = append(bf16Kernels, kernelAMX)
			nativeBF16 = kernelAMX
		} else {
			amxRefused = "the OS refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM)"
		}
	}
	if name := os.Getenv(envBF16KernelChoice); name != "" {
		useBF16KernelByName(name)
	}
}

// interleaveRows packs pair steps q < kp of a stored matrix whose rows are
// k (row p at x[off + p·ld]; width 16 or 32 floats from there, of which
// the first cols are read): dst[(q·width + j)·2 + e] = bf16(row 2q+e [j])
// for j < cols, zeros for j ≥ cols and for rows ≥ kb.
func interleaveRows(dst []uint16, x []float32, off, ld, kb, kp, width, cols int) {
	bf16InterleavePairs(&dst[0], &x[off], uintptr(ld)*4, kb, kp, width/16, 1<<min(cols, 16)-1, 1<<min(max(cols-16, 0), 16)-1, &bf16PairPerm[0])
}

// packRowsPairs packs rows [0, rows) of a stored matrix (row i at
// x[off + i·ld], floats [0, kb) of it; with no rows, x[off] need only
// exist) as 16 columns of the pair layout: dword i of pair step q at
// dst[2·(q·stride + i)], for q < kp (rows ≥ rows and floats ≥ kb as
// zeros). It reports false, packing nothing, when kp pair steps reach past
// the 32-float chunks that cover kb.
func packRowsPairs(dst []uint16, stride int, x []float32, off, ld, rows, kb, kp int) bool {
	chunks := (kb + 31) / 32
	if chunks == 0 || kp > 16*chunks {
		return false
	}
	r := kb - 32*(chunks-1) // floats in the last chunk, 1 … 32
	lo, hi := 1<<min(r, 16)-1, 1<<max(r-16, 0)-1
	bf16PackRows16(&dst[0], uintptr(stride)*4, &x[off], uintptr(ld)*4, rows, chunks, lo, hi, kp-16*(chunks-1))
	return true
}

// transpose32 is transpose16x16 on 32-bit bf16 pairs: dst[p][i] = src[i][p]
// for i < 16, p < 16·blocks; strides in bytes.
func transpose32(dst *uint16, ds uintptr, src *uint16, ss uintptr, blocks int) {
	transpose16x16((*float32)(unsafe.Pointer(dst)), ds, (*float32)(unsafe.Pointer(src)), ss, blocks)
}

// packBPairsFast packs a B panel with AVX512-BF16: untransposed B (whole
// 32-column panels) interleaves row pairs (VPERMW); transposed B converts
// its columns' rows and transposes the pairs in registers, 16 columns at a
// time (columns past cols as zeros). It reports false when it did not.
func packBPairsFast(transB bool, b []float32, ldb, pc, kb, kbp, j0, cols, nr int, dst []uint16) bool {
	if !hasAVX512BF16 || nr%16 != 0 {
		return false
	}
	if !transB {
		if nr > 32 {
			return false
		}
		interleaveRows(dst, b, pc*ldb+j0, ldb, kb, kbp/2, nr, cols)
		return true
	}
	for g := 0; g < nr/16; g++ {
		rows := min(16, max(cols-16*g, 0))
		off := 0 // a group past the panel's columns reads nothing
		if rows > 0 {
			off = (j0+16*g)*ldb + pc
		}
		// every group has the same k: the first refusal (padding past
		// kb's chunks) comes before anything is packed
		if !packRowsPairs(dst[2*16*g:], nr, b, off, ldb, rows, kb, kbp/2) {
			return false
		}
	}
	return true
}

// packAPairsFast packs an A micro-panel in the pair layout with AVX-512
// (mrPad = 16): transposed A interleaves row pairs, plain A converts 16
// rows and transposes the pairs (rows past the panel's are zeros); it
// reports false when it did not.
func packAPairsFast(transA bool, a []float32, lda, i0, rows, mrPad, pc, kb, kbp int, dst []uint16) bool {
	if !hasAVX512BF16 || mrPad != 16 {
		return false
	}
	if transA {
		interleaveRows(dst, a, pc*lda+i0, lda, kb, kbp/2, 16, rows)
		return true
	}
	// Plain A: the panel's rows converted and transposed in registers.
	return packRowsPairs(dst, mrPad, a, (i0*lda)+pc, lda, rows, kb, kbp/2)
}

// packARowsFast packs a transposed-A panel in the row layout (mr = 32):
// row pairs interleaved into [kbp/2][32] dwords, then transposed 16×16
// dwords at a time into [32][kbp]; it reports false when it did not.
func packARowsFast(transA bool, a []float32, lda, i0, rows, mr, pc, kb, kbp int, dst []uint16) bool {
	if !hasAVX512BF16 || !transA || mr != 32 || kbp%32 != 0 {
		return false
	}
	kp := kbp / 2
	tmp, h := getU16(kp * 64)
	defer putU16(h)
	interleaveRows(tmp, a, pc*lda+i0, lda, kb, kp, 32, rows)
	for qb := 0; qb < kp/16; qb++ {
		// src: pair steps 16·qb.., 32 dwords each; dst: A rows, dwords 16·qb..
		transpose32(&dst[2*16*qb], uintptr(kbp)*2, &tmp[qb*16*64], 128, 2)
	}
	return true // rows past the panel's: zeros, as interleaveRows read no lane of them
}

// bf16RowFast converts the longest multiple of 32 of src with
// VCVTNE2PS2BF16 and returns how many it converted.
func bf16RowFast(dst []uint16, src []float32) int {
	n := len(src) &^ 31
	if !hasAVX512BF16 || n == 0 {
		return 0
	}
	bf16ConvertRow(&dst[0], &src[0], n)
	return n
}
