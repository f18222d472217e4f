package train

import (
	"io"
	"testing"
)

// The synthetic demo learns: after 150 steps the loss has fallen and the
// held-out accuracy is well above chance (0.25); a seed repeats exactly.
func TestSyntheticDemoLearns(t *testing.T) {
	r, err := SyntheticDemo(150, 32, 1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r.LastLoss >= r.FirstLoss || r.HeldOutAcc < 0.5 || r.HeldOutN != 256 || r.Steps != 150 {
		t.Errorf("%+v", r)
	}
	again, err := SyntheticDemo(150, 32, 1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if again.LastLoss != r.LastLoss || again.HeldOutAcc != r.HeldOutAcc {
		t.Errorf("seed 1 twice: %+v and %+v", r, again)
	}
}
