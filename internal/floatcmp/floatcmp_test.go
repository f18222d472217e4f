package floatcmp

import (
	"math"
	"strings"
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

// Apart compares a list of tensors at the scale of the largest value in
// any of them: a small tensor off by a little of the large one's scale is
// not apart, a tensor off by more is, and so is a missing one.
func TestApart(t *testing.T) {
	want := [][]float32{{100, -50}, {1e-4, 0}}
	for _, c := range []struct {
		got  [][]float32
		want int
	}{
		{[][]float32{{100, -50}, {1e-4, 0}}, -1},
		{[][]float32{{100, -50}, {5e-4, 0}}, -1}, // 4e-4 apart, within 1e-5·100
		{[][]float32{{100, -50}, {0.01, 0}}, 1},
		{[][]float32{{100.1, -50}, {1e-4, 0}}, 0},
		{[][]float32{{100, -50}}, 1},
		{[][]float32{{100, -50}, {1e-4, 0}, {1}}, 2},
	} {
		if got := Apart(c.got, want, 1e-5); got != c.want {
			t.Errorf("Apart(%v) = %d, want %d", c.got, got, c.want)
		}
	}
}

// Paths finds a different output, a missing or extra gradient tensor, no
// gradients at all, and a gradient apart; it passes what agrees.
func TestPaths(t *testing.T) {
	out, grads := []float32{2, -1}, [][]float32{{100, -50}, {1e-4, 0}}
	for _, c := range []struct {
		out   []float32
		grads [][]float32
		want  string
	}{
		{[]float32{2, -1}, [][]float32{{100, -50}, {5e-4, 0}}, ""},
		{[]float32{2.1, -1}, grads, "output"},
		{out, grads[:1], "1 and 2 gradient tensors"},
		{out, [][]float32{{100, -50}, {0.01, 0}}, "gradient tensor 1"},
	} {
		if got := Paths(c.out, out, c.grads, grads, 1e-5); c.want == "" && got != "" || !strings.HasPrefix(got, c.want) {
			t.Errorf("Paths(%v, %v) = %q, want %q", c.out, c.grads, got, c.want)
		}
	}
	if got := Paths(out, out, nil, nil, 1e-5); got != "0 and 0 gradient tensors" {
		t.Errorf("Paths without gradients = %q", got)
	}
}
