package autograd_test

import (
	"fmt"

	"github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// Example fits y = 2x + 1 with a weight and a bias by plain gradient descent,
// reusing one tape (and its buffers) for every step.
func Example() {
	xs, _ := tensor.FromSlice([]float32{-1, 0, 1, 2}, 4, 1)
	ys, _ := tensor.FromSlice([]float32{-1, 1, 3, 5}, 4, 1)
	x, y := autograd.NewVar(xs, false), autograd.NewVar(ys, false)
	w := autograd.Param("w", tensor.New(1)) // broadcast over the 4 rows
	b := autograd.Param("b", tensor.New(1))

	tp := autograd.NewTape()
	var loss float32
	for step := 0; step < 200; step++ {
		tp.Reset()
		w.ZeroGrad()
		b.ZeroGrad()
		// loss = mean((x·w + b − y)²)
		diff := tp.Sub(tp.Add(tp.Mul(x, w), b), y)
		l := tp.MeanAll(tp.Mul(diff, diff))
		if err := tp.Backward(l); err != nil {
			fmt.Println(err)
			return
		}
		loss = l.Value.Data[0]
		for _, p := range []*autograd.Var{w, b} {
			tensor.Axpy(-0.1, p.Grad.Data, p.Value.Data) // p −= 0.1·dp
		}
	}
	fmt.Printf("w = %.3f, b = %.3f, loss = %.5f\n", w.Value.Data[0], b.Value.Data[0], loss)
	// Output: w = 2.000, b = 1.000, loss = 0.00000
}
