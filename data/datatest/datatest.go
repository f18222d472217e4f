// Package datatest makes small, seeded, learnable datasets for tests.
package datatest

import (
	"math/rand/v2"

	"github.com/glora/glora/data"
)

// Quadrants is n 16×16 grey images of dim noise, each with a bright 4×4
// square in one of the four quadrants (jittered by up to 3 pixels); the
// label is the quadrant: tl, tr, bl, br. QuadrantsAt with size 16.
func Quadrants(n int, seed uint64) (*data.Dataset, error) { return QuadrantsAt(n, 16, seed) }

// QuadrantsAt is Quadrants at size×size pixels (size a multiple of 4 and
// at least 8): a bright square of side size/4, jittered by up to size/4 − 1
// pixels, in a random quadrant of each image.
func QuadrantsAt(n, size int, seed uint64) (*data.Dataset, error) {
	rng := rand.New(rand.NewPCG(seed, 0))
	px := make([]uint8, n*size*size)
	labels := make([]int, n)
	side, half := size/4, size/2
	for i := 0; i < n; i++ {
		q := rng.IntN(4)
		labels[i] = q
		img := px[i*size*size : (i+1)*size*size]
		for j := range img {
			img[j] = uint8(rng.IntN(60))
		}
		y0, x0 := (q/2)*half+rng.IntN(side), (q%2)*half+rng.IntN(side)
		for y := y0; y < y0+side; y++ {
			for x := x0; x < x0+side; x++ {
				img[y*size+x] = 250
			}
		}
	}
	return data.FromArrays("quadrants", []string{"tl", "tr", "bl", "br"}, 1, size, size, px, labels)
}
