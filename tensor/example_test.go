package tensor_test

import (
	"fmt"

	"github.com/glora/glora/tensor"
)

// C = A·Bᵀ with B stored row-major as (n, k), as a Linear layer's y = x·Wᵀ.
func ExampleSgemm() {
	a := []float32{1, 2, 3, 4, 5, 6} // A: 2×3
	w := []float32{1, 0, 1, 0, 1, 0} // W: 2×3 (so Wᵀ is 3×2)
	c := make([]float32, 4)          // C: 2×2
	tensor.Sgemm(false, true, 2, 2, 3, 1, a, 3, w, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [4 2 10 5]
}

func ExampleTensor_Reshape() {
	t, _ := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	v, _ := t.Reshape(3, -1)
	fmt.Println(tensor.ShapeString(v.Shape))
	_, err := t.Reshape(4, -1)
	fmt.Println(err)
	// Output:
	// (3,2)
	// reshape: shape mismatch (2,3) vs (4,-1): cannot infer -1 for 6 elements
}

// At BF16 precision the operands of every matrix product are rounded to
// bfloat16 (8 significant bits) and the sums kept in float32.
func ExamplePrecision_Sgemm() {
	// C (16×16) = A (16×1) · B (1×16); a product of fewer than 16 rows or
	// columns would run in float32 at either precision
	x := float32(1 + 1.0/512) // a quarter of bfloat16's step (2⁻⁷) above 1: rounds to 1
	a, b, c := make([]float32, 16), make([]float32, 16), make([]float32, 16*16)
	for i := range a {
		a[i], b[i] = x, 3
	}
	tensor.BF16.Sgemm(false, false, 16, 16, 1, 1, a, 1, b, 16, 0, c, 16)
	fmt.Println(c[0], tensor.RoundBF16(x))
	tensor.F32.Sgemm(false, false, 16, 16, 1, 1, a, 1, b, 16, 0, c, 16)
	fmt.Println(c[0])
	// Output:
	// 3 1
	// 3.0058594
}

// SgemmThen hands each finished block of C to a function while it is in
// cache: here a ReLU on C = A·B, written into a second matrix.
func ExamplePrecision_SgemmThen() {
	a := []float32{1, -2, 3, -4} // A: 2×2
	b := []float32{1, 0, 0, 1}   // B: the identity
	c, relu := make([]float32, 4), make([]float32, 4)
	tensor.F32.SgemmThen(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2, func(i0, i1, j0, j1 int) {
		for i := i0; i < i1; i++ {
			for j := j0; j < j1; j++ {
				relu[i*2+j] = max(c[i*2+j], 0)
			}
		}
	})
	fmt.Println(c, relu)
	// Output:
	// [1 -2 3 -4] [1 0 3 0]
}
