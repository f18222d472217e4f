//go:build !amd64 || purego

package tensor

// No native bf16 kernels off amd64 (or in the purego build): BF16 products
// run emulated on the float32 kernels.

func packBPairsFast(transB bool, b []float32, ldb, pc, kb, kbp, j0, cols, nr int, dst []uint16) bool {
	return false
}

func packAPairsFast(transA bool, a []float32, lda, i0, rows, mrPad, pc, kb, kbp int, dst []uint16) bool {
	return false
}

func packARowsFast(transA bool, a []float32, lda, i0, rows, mr, pc, kb, kbp int, dst []uint16) bool {
	return false
}

func bf16RowFast(dst []uint16, src []float32) int { return 0 }

var amxRefused string
