package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/glora/glora/internal/parallel"
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

// TestAddColSumsAddsRowsInOrder checks AddColSums bit for bit against an
// Axpy per row (the order its documentation promises, on every path), and
// that it writes no element past cols.
func TestAddColSumsAddsRowsInOrder(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, sh := range [][2]int{{1, 1}, {0, 64}, {3, 5}, {7, 16}, {9, 17}, {200, 64}, {97, 100}, {6400, 128}, {300, 384}, {50, 576}, {33, 288}} {
			rows, cols := sh[0], sh[1]
			src := make([]float32, rows*cols)
			randInto(rng, src, -1e3, 1e3)
			sums := make([]float32, cols+1)
			randInto(rng, sums, -1, 1)
			sums[cols] = 42
			want := append([]float32(nil), sums...)
			for r := 0; r < rows; r++ {
				axpyGeneric(1, src[r*cols:(r+1)*cols], want[:cols])
			}
			AddColSums(sums[:cols], src, rows, cols)
			for j := range want {
				if math.Float32bits(sums[j]) != math.Float32bits(want[j]) {
					t.Fatalf("%v: AddColSums[%d] = %g, an Axpy a row gives %g", sh, j, sums[j], want[j])
				}
			}
		}
	})
}

// BenchmarkAddColSums times AddColSums, on each vector path, against an
// Axpy per row on the same column split (its code before the register
// kernels).
func BenchmarkAddColSums(b *testing.B) {
	for _, sh := range [][2]int{{6400, 128}, {6400, 384}, {6304, 768}} {
		rows, cols := sh[0], sh[1]
		src, _, _ := benchInputs(rows * cols)
		dst := make([]float32, cols)
		for _, path := range vecPaths() {
			b.Run(fmt.Sprintf("%dx%d/AddColSums/%s", rows, cols, path.name), func(b *testing.B) {
				defer usePath(path)()
				for range b.N {
					AddColSums(dst, src, rows, cols)
				}
			})
		}
		b.Run(fmt.Sprintf("%dx%d/Axpy-rows", rows, cols), func(b *testing.B) {
			for range b.N {
				parallel.For(cols, max(16, rowGrain/rows), func(lo, hi int) {
					for r := 0; r < rows; r++ {
						Axpy(1, src[r*cols+lo:r*cols+hi], dst[lo:hi])
					}
				})
			}
		})
	}
}
