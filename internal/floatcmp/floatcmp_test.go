package floatcmp

import (
	"math"
	"testing"
)

func TestWithin(t *testing.T) {
	want := []float32{1, -2, 0}
	for _, c := range []struct {
		got  []float32
		tol  float64
		want bool
	}{
		{[]float32{1, -2, 0}, 0, true},
		{[]float32{1.0005, -2, 0}, 1e-3, true},
		{[]float32{1.01, -2, 0}, 1e-3, false},
		{[]float32{1, -2}, 1, false},
		{[]float32{1, -2, float32(math.NaN())}, 1, false},
	} {
		if got := Within(c.got, want, c.tol, 1); got != c.want {
			t.Errorf("Within(%v, %v, %g) = %v", c.got, want, c.tol, got)
		}
	}
	if p := Peak([]float32{1, -3}, nil, []float32{2}); p != 3 {
		t.Errorf("Peak = %g, want 3", p)
	}
}
