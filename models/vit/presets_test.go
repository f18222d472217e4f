package vit

import (
	"math/rand/v2"
	"testing"
)

// Every preset builds; the colour presets take 3-channel input of the
// size their name says.
func TestPresets(t *testing.T) {
	for name := range Presets {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if c.Dim > 256 {
			continue // the ImageNet sizes take seconds to build
		}
		if _, err := New(c, rand.New(rand.NewPCG(1, 1))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, size := range map[string]int{"vit-rgb32": 32, "vit-rgb64": 64, "vit-micro-rgb": 16} {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if c.InChans != 3 || c.ImageSize != size || c.Tokens() > 65 {
			t.Errorf("%s: %d×%d×%d, %d tokens", name, c.InChans, c.ImageSize, c.ImageSize, c.Tokens())
		}
	}
}
