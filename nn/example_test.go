package nn_test

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// A two-layer classifier built from scoped parameters, trained for a few
// steps of plain gradient descent with the fused cross-entropy.
func Example() {
	store := nn.NewStore()
	b := nn.NewBuilder(store, rand.New(rand.NewPCG(1, 2)))
	fc1, _ := nn.NewLinear(b.Sub("fc1"), 2, 16, true, nil)
	fc2, _ := nn.NewLinear(b.Sub("fc2"), 16, 2, true, nil)
	// XOR of the signs: not linearly separable.
	x, _ := tensor.FromSlice([]float32{1, 1, -1, -1, 1, -1, -1, 1}, 4, 2)
	labels := []int{0, 0, 1, 1}
	tp := ag.NewTape()
	var loss *ag.Var
	for step := 0; step < 200; step++ {
		tp.Reset()
		h := nn.GELU(tp, fc1.Forward(tp, ag.NewVar(x, false)), false)
		loss = nn.CrossEntropy(tp, fc2.Forward(tp, h), labels, 0)
		if err := tp.Backward(loss); err != nil {
			fmt.Println(err)
			return
		}
		for _, p := range store.Params() {
			tensor.Axpy(-0.5, p.Grad.Data, p.Value.Data)
			p.ZeroGrad()
		}
	}
	fmt.Println(store.Names())
	fmt.Printf("loss < 0.05: %v\n", loss.Value.Data[0] < 0.05)
	// Output:
	// [fc1.bias fc1.weight fc2.bias fc2.weight]
	// loss < 0.05: true
}
