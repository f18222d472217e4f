// Package gloratest sets up GLoRA supernets for the tests of the models
// they wrap.
package gloratest

import (
	"math/rand/v2"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/nn"
)

// Random wraps every Linear of model in GLoRA layers of stored ranks 2 and
// 4 (seeded by seed), fills every support tensor with N(0, 0.1²) draws
// from rng (zero support tensors would hide their paths from a test), and
// sets a structure drawn from rng.
func Random(model nn.LinearWalker, seed uint64, rng *rand.Rand) (*glora.Supernet, error) {
	sn, err := glora.Attach(model, glora.Options{Space: glora.Space{Ranks: []int{2, 4}}, Seed: seed})
	if err != nil {
		return nil, err
	}
	for _, p := range sn.Trainable() {
		for i := range p.Value.Data {
			p.Value.Data[i] = 0.1 * float32(rng.NormFloat64())
		}
	}
	st, err := sn.SampleFrom(rng)
	if err == nil {
		err = sn.SetStructure(st)
	}
	if err != nil {
		return nil, err
	}
	return sn, nil
}
