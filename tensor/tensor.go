// Package tensor holds glora's n-dimensional arrays and the numeric kernels
// that work on them: contiguous row-major float32 data with a shape.
//
// Kernels (SGEMM and the fused elementwise loops) live beside the type; the
// amd64 build uses AVX-512 or AVX2 assembly chosen at run time, the `purego`
// build tag and every other architecture use portable Go.
package tensor

import (
	"errors"
	"fmt"
	"strings"
)

// ErrShape is wrapped by every shape-mismatch error.
var ErrShape = errors.New("shape mismatch")

// ShapeError reports operands whose shapes do not fit an operation.
type ShapeError struct {
	Op     string  // the operation, e.g. "matmul"
	Shapes [][]int // the offending shapes, in argument order
	Detail string  // what was expected
}

func (e *ShapeError) Error() string {
	parts := make([]string, len(e.Shapes))
	for i, s := range e.Shapes {
		parts[i] = ShapeString(s)
	}
	msg := fmt.Sprintf("%s: shape mismatch %s", e.Op, strings.Join(parts, " vs "))
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *ShapeError) Unwrap() error { return ErrShape }

// Errorf builds a ShapeError for op with the given shapes.
func Errorf(op string, detail string, shapes ...[]int) error {
	cp := make([][]int, len(shapes))
	for i, s := range shapes {
		cp[i] = append([]int(nil), s...)
	}
	return &ShapeError{Op: op, Shapes: cp, Detail: detail}
}

// Tensor is a contiguous, row-major float32 array. len(Data) == Numel(Shape).
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// FromSlice wraps data (not copied) as a tensor of the given shape.
func FromSlice(data []float32, shape ...int) (*Tensor, error) {
	for _, d := range shape {
		if d < 0 {
			return nil, Errorf("tensor.FromSlice", "negative dimension", shape)
		}
	}
	if n := Numel(shape); n != len(data) {
		return nil, Errorf("tensor.FromSlice", fmt.Sprintf("%d values for %d elements", len(data), n), shape)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Scalar returns a tensor of shape () holding v.
func Scalar(v float32) *Tensor { return &Tensor{Shape: []int{}, Data: []float32{v}} }

// Numel is the number of elements of a shape (1 for the empty shape).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Numel is the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Reshape returns a view with a new shape sharing t's data; one dimension may be -1.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	s, err := InferShape(t.Numel(), shape)
	if err != nil {
		return nil, Errorf("reshape", err.Error(), t.Shape, shape)
	}
	return &Tensor{Shape: s, Data: t.Data}, nil
}

// InferShape resolves a single -1 in shape so that it holds n elements.
func InferShape(n int, shape []int) ([]int, error) {
	s := append([]int(nil), shape...)
	neg, prod := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && neg < 0:
			neg = i
		case d < 0:
			return nil, fmt.Errorf("invalid dimension %d", d)
		default:
			prod *= d
		}
	}
	if neg >= 0 {
		if prod == 0 || n%prod != 0 {
			return nil, fmt.Errorf("cannot infer -1 for %d elements", n)
		}
		s[neg] = n / prod
		prod *= s[neg]
	}
	if prod != n {
		return nil, fmt.Errorf("%d elements do not fit", n)
	}
	return s, nil
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeString formats a shape as (2,3,4).
func ShapeString(s []int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, d)
	}
	b.WriteByte(')')
	return b.String()
}

// String prints the shape and up to 8 leading values.
func (t *Tensor) String() string {
	n := min(len(t.Data), 8)
	s := fmt.Sprintf("Tensor%s %v", ShapeString(t.Shape), t.Data[:n])
	if n < len(t.Data) {
		s = s[:len(s)-1] + " …]"
	}
	return s
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }
