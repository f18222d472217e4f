// Package datatest makes small, seeded, learnable datasets for tests.
package datatest

import (
	"math/rand/v2"

	"github.com/glora/glora/data"
)

// Quadrants is n 16×16 grey images of dim noise, each with a bright 4×4
// square in one of the four quadrants (jittered by up to 3 pixels); the
// label is the quadrant: tl, tr, bl, br.
func Quadrants(n int, seed uint64) (*data.Dataset, error) {
	rng := rand.New(rand.NewPCG(seed, 0))
	px := make([]uint8, n*16*16)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		q := rng.IntN(4)
		labels[i] = q
		img := px[i*256 : (i+1)*256]
		for j := range img {
			img[j] = uint8(rng.IntN(60))
		}
		y0, x0 := (q/2)*8+rng.IntN(4), (q%2)*8+rng.IntN(4)
		for y := y0; y < y0+4; y++ {
			for x := x0; x < x0+4; x++ {
				img[y*16+x] = 250
			}
		}
	}
	return data.FromArrays("quadrants", []string{"tl", "tr", "bl", "br"}, 1, 16, 16, px, labels)
}
