//go:build !amd64 || purego

package tensor

// No assembly in the portable build: the generic loops do all.
func colSums4Asm(mask int, g, da, db, dy, y, sx []float32, groups, ld, w int) int { return 0 }

func scaleShiftAsm(dst, a, s, b, v []float32, x float32) int { return 0 }
