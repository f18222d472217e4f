package tensor

import (
	"math/rand/v2"
	"testing"
)

func TestFillRowsAndAddColSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sh := range [][2]int{{1, 1}, {3, 5}, {197, 192}, {5000, 7}, {64, 3000}} {
		rows, cols := sh[0], sh[1]
		v := randSlice(rng, cols)
		dst := make([]float32, rows*cols+3)
		dst[rows*cols] = 42 // past the matrix: untouched
		fillRows(dst, v, rows, cols, cols)
		for r := 0; r < rows; r++ {
			for j := 0; j < cols; j++ {
				if dst[r*cols+j] != v[j] {
					t.Fatalf("%v: fillRows [%d,%d] = %g, want %g", sh, r, j, dst[r*cols+j], v[j])
				}
			}
		}
		if dst[rows*cols] != 42 {
			t.Fatalf("%v: fillRows wrote past the matrix", sh)
		}
		src := randSlice(rng, rows*cols)
		sums := randSlice(rng, cols)
		want := make([]float64, cols)
		for j := range want {
			want[j] = float64(sums[j])
			for r := 0; r < rows; r++ {
				want[j] += float64(src[r*cols+j])
			}
		}
		AddColSums(sums, src, rows, cols)
		for j, w := range want {
			if d := float64(sums[j]) - w; d > 1e-4*float64(rows) || d < -1e-4*float64(rows) {
				t.Fatalf("%v: AddColSums[%d] = %g, want %g", sh, j, sums[j], w)
			}
		}
	}
}
