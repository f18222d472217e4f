//go:build !amd64 || purego

package tensor

// rows4Asm: no assembly in the portable build; the generic loops do all.
func rows4Asm(kind int, acc, a, b []float32, ld int, s *[4]float32) int { return 0 }
