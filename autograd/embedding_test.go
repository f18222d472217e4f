package autograd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/glora/glora/tensor"
)

func TestEmbedding(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	table := randVar(rng, true, 7, 5)
	ids := []int{3, 0, 6, 3, 3, 1} // repeated ids accumulate
	checkGrad(t, "embedding (2,3)", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Embedding(in[0], ids, 2, 3) }, table)
	checkGrad(t, "embedding flat", 1e-2, func(tp *Tape, in []*Var) *Var { return tp.Embedding(in[0], ids) }, table)

	tp := NewTape()
	tab := ramp(4, 2) // rows [0,1] [2,3] [4,5] [6,7]
	own := []int{2, 0, 2}
	y := tp.Embedding(tab, own, 3)
	own[0] = 1 // the caller may reuse its slice
	assertClose(t, "embedding", y.Value, []int{3, 2}, []float32{4, 5, 0, 1, 4, 5})
	if err := tp.Backward(tp.SumAll(y)); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "dtable", tab.Grad, []int{4, 2}, []float32{1, 1, 0, 0, 2, 2, 0, 0})
}

func TestEmbeddingErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	table := randVar(rng, true, 7, 5)
	for _, bad := range []int{7, -1} {
		tp := NewTape()
		tp.Embedding(table, []int{0, bad, 2})
		err := tp.Err()
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("id %d", bad)) || !strings.Contains(err.Error(), "position 1") {
			t.Fatalf("id %d: error %v should name the id and its position", bad, err)
		}
		t.Log(err)
	}
	tp := NewTape()
	tp.Embedding(table, []int{0, 1, 2}, 2, 2)
	wantShapeError(t, tp, []int{7, 5}, []int{2, 2})
	tp = NewTape()
	tp.Embedding(randVar(rng, true, 7), []int{0})
	if !errors.Is(tp.Err(), tensor.ErrShape) {
		t.Fatalf("1-D table: want shape error, got %v", tp.Err())
	}
}
