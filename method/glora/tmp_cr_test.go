package glora

import (
	"math/rand/v2"
	"testing"

	"github.com/glora/glora/tensor"
)

func BenchmarkTmpColReduce(b *testing.B) {
	const n, out = 6304, 576
	rng := rand.New(rand.NewPCG(1, 1))
	dy := make([]float32, n*out)
	y0 := make([]float32, n*out)
	for i := range dy {
		dy[i] = float32(rng.NormFloat64())
		y0[i] = float32(rng.NormFloat64())
	}
	b.Run("gda", func(b *testing.B) {
		for range b.N {
			colReduce(dy, n, out, true, y0, nil)
		}
	})
	b.Run("g", func(b *testing.B) {
		for range b.N {
			colReduce(dy, n, out, true, nil, nil)
		}
	})
	b.Run("addcolsums", func(b *testing.B) {
		g := make([]float32, out)
		for range b.N {
			tensor.AddColSums(g, dy, n, out)
		}
	})
}
