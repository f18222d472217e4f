//go:build amd64 && !purego

package tensor

// The four-row kernels in rows4_amd64.s take n, a multiple of the vector
// width (16 floats for AVX-512, 8 for AVX2), and the row stride in floats.

//go:noescape
func sumRows4AVX512(acc, m *float32, ld, n int)

//go:noescape
func mulRows4AVX512(acc, a, b *float32, ld, n int)

//go:noescape
func scaleRows4AVX512(acc, m *float32, ld, n int, s *[4]float32)

//go:noescape
func sumRows4AVX2(acc, m *float32, ld, n int)

//go:noescape
func mulRows4AVX2(acc, a, b *float32, ld, n int)

//go:noescape
func scaleRows4AVX2(acc, m *float32, ld, n int, s *[4]float32)

// rows4Asm runs the kind's kernel on the longest prefix of acc the vector
// width divides and returns its length (0: none ran).
func rows4Asm(kind int, acc, a, b []float32, ld int, s *[4]float32) int {
	w := 0
	switch {
	case useAVX512:
		w = 16
	case useAVX2:
		w = 8
	}
	n := 0
	if w > 0 {
		n = len(acc) / w * w
	}
	if n == 0 {
		return 0
	}
	switch kind {
	case rows4Sum:
		if useAVX512 {
			sumRows4AVX512(&acc[0], &a[0], ld, n)
		} else {
			sumRows4AVX2(&acc[0], &a[0], ld, n)
		}
	case rows4Mul:
		if useAVX512 {
			mulRows4AVX512(&acc[0], &a[0], &b[0], ld, n)
		} else {
			mulRows4AVX2(&acc[0], &a[0], &b[0], ld, n)
		}
	case rows4Scale:
		if useAVX512 {
			scaleRows4AVX512(&acc[0], &a[0], ld, n, s)
		} else {
			scaleRows4AVX2(&acc[0], &a[0], ld, n, s)
		}
	}
	return n
}
