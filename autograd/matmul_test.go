package autograd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/glora/glora/tensor"
)

// matShape is the stored shape of an operand whose op() is (lead..., r, c).
func matShape(lead []int, r, c int, trans bool) []int {
	if trans {
		r, c = c, r
	}
	return append(slices.Clone(lead), r, c)
}

// refMatMul is the naive product, index by index.
func refMatMul(a, b *tensor.Tensor, transA, transB bool, batch, m, n, k int, sharedA, sharedB bool) []float32 {
	at := func(i, r, c int) float32 { // op(a)_i[r,c]
		if sharedA {
			i = 0
		}
		if transA {
			return a.Data[i*m*k+c*m+r]
		}
		return a.Data[i*m*k+r*k+c]
	}
	bt := func(i, r, c int) float32 { // op(b)_i[r,c]
		if sharedB {
			i = 0
		}
		if transB {
			return b.Data[i*k*n+c*k+r]
		}
		return b.Data[i*k*n+r*n+c]
	}
	y := make([]float32, batch*m*n)
	for i := 0; i < batch; i++ {
		for r := 0; r < m; r++ {
			for c := 0; c < n; c++ {
				var s float32
				for j := 0; j < k; j++ {
					s += at(i, r, j) * bt(i, j, c)
				}
				y[i*m*n+r*n+c] = s
			}
		}
	}
	return y
}

func TestMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const m, n, k = 3, 4, 5
	layouts := []struct {
		name       string
		leadA      []int
		leadB      []int
		lead       []int
		shA, shB   bool
		batchCount int
	}{
		{"2d", nil, nil, nil, false, false, 1},
		{"batched", []int{2, 3}, []int{2, 3}, []int{2, 3}, false, false, 6},
		{"b shared", []int{2, 3}, nil, []int{2, 3}, false, true, 6},
		{"a shared", nil, []int{2}, []int{2}, true, false, 2},
		{"batch of 1", []int{1}, []int{1}, []int{1}, false, false, 1},
	}
	for _, l := range layouts {
		for _, transA := range []bool{false, true} {
			for _, transB := range []bool{false, true} {
				a := randVar(rng, true, matShape(l.leadA, m, k, transA)...)
				b := randVar(rng, true, matShape(l.leadB, k, n, transB)...)
				name := fmt.Sprintf("%s transA=%v transB=%v", l.name, transA, transB)
				tp := NewTape()
				y := tp.MatMul(a, b, transA, transB)
				if tp.Err() != nil {
					t.Fatalf("%s: %v", name, tp.Err())
				}
				want := refMatMul(a.Value, b.Value, transA, transB, l.batchCount, m, n, k, l.shA, l.shB)
				assertClose(t, name, y.Value, append(slices.Clone(l.lead), m, n), want)
				checkGrad(t, name, 1e-2, func(tp *Tape, in []*Var) *Var { return tp.MatMul(in[0], in[1], transA, transB) }, a, b)
			}
		}
	}
}

func TestMatMulForwardSmall(t *testing.T) {
	tp := NewTape()
	a := NewVar(mustTensor(t, []float32{1, 2, 3, 4, 5, 6}, 2, 3), false)
	b := NewVar(mustTensor(t, []float32{1, 0, 0, 1, 1, 1}, 3, 2), false)
	// [[1,2,3],[4,5,6]]·[[1,0],[0,1],[1,1]] = [[4,5],[10,11]]
	assertClose(t, "a·b", tp.MatMul(a, b, false, false).Value, []int{2, 2}, []float32{4, 5, 10, 11})
	// aᵀ·a = [[17,22,27],[22,29,36],[27,36,45]]
	assertClose(t, "aᵀ·a", tp.MatMul(a, a, true, false).Value, []int{3, 3}, []float32{17, 22, 27, 22, 29, 36, 27, 36, 45})
	// a·aᵀ = [[14,32],[32,77]]
	assertClose(t, "a·aᵀ", tp.MatMul(a, a, false, true).Value, []int{2, 2}, []float32{14, 32, 32, 77})
}

func TestMatMulShapeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		a, b           []int
		transA, transB bool
	}{
		{[]int{2, 3}, []int{4, 5}, false, false},       // inner mismatch
		{[]int{2, 3}, []int{2, 5}, false, true},        // inner mismatch under transB
		{[]int{2, 3, 4}, []int{3, 4, 5}, false, false}, // batch mismatch
		{[]int{3}, []int{3, 4}, false, false},          // rank 1
	}
	for _, c := range cases {
		tp := NewTape()
		tp.MatMul(randVar(rng, true, c.a...), randVar(rng, true, c.b...), c.transA, c.transB)
		wantShapeError(t, tp, c.a, c.b)
	}
}
