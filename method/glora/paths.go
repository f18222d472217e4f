package glora

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// LayerTensors are one layer's stored support tensors, with the names and
// shapes of PEFT's GLoRA tuner (R is the stored rank, the largest of the
// supernet's ranks):
//
//	Ad, Bd: (out, R)   Au, Bu: (R, in)   Cd: (in, R)   Cu: (R, 1)   D, E: (out)
//
// Every choice reads these by slicing (PEFT's prepare_path):
//
//	lora_r    A, B: Xd[:, :r]·Xu[:r, :] (out, in)   C: Cd[:, :r]·Cu[:r, :] (in, 1)
//	vector    A, B: Xd[:, 0] as (out, 1), broadcast over columns   C: Cd[:, 0] (in, 1)   D, E: the vector (out)
//	constant  A, B: Xd[0, 0]   D, E: X[0]
//	none      0
//
// so one set of tensors serves every structure, and lower ranks are
// slices of higher ones.
type LayerTensors struct {
	Ad, Au, Bd, Bu, Cd, Cu, D, E *tensor.Tensor
}

// TensorNames are the PEFT suffixes of a layer's stored tensors, in order;
// a tensor's full name is "<module path>.<suffix>".
var TensorNames = [8]string{"glora_Ad", "glora_Au", "glora_Bd", "glora_Bu", "glora_Cd", "glora_Cu", "glora_D", "glora_E"}

// List returns the tensors in TensorNames' order.
func (t *LayerTensors) List() [8]*tensor.Tensor {
	return [8]*tensor.Tensor{t.Ad, t.Au, t.Bd, t.Bu, t.Cd, t.Cu, t.D, t.E}
}

// ptrs returns pointers to the fields in TensorNames' order.
func (t *LayerTensors) ptrs() [8]**tensor.Tensor {
	return [8]**tensor.Tensor{&t.Ad, &t.Au, &t.Bd, &t.Bu, &t.Cd, &t.Cu, &t.D, &t.E}
}

// Shapes are the stored shapes for a layer (out, in) at rank R, in
// TensorNames' order.
func Shapes(out, in, R int) [8][]int {
	return [8][]int{{out, R}, {R, in}, {out, R}, {R, in}, {in, R}, {R, 1}, {out}, {out}}
}

// NewLayerTensors allocates a layer's tensors at rank R with docs/DESIGN.md's
// initialisation: Au, Bu, Cu Xavier-uniform (fans from their (R, in) and
// (R, 1) shapes), everything else zero. Every path then reads exactly 0
// (each product has a zero factor), so the wrapped layer computes the base
// layer's output. A nil rng leaves all zeros.
func NewLayerTensors(out, in, R int, rng *rand.Rand) LayerTensors {
	var t LayerTensors
	sh := Shapes(out, in, R)
	for i, p := range t.ptrs() {
		*p = tensor.New(sh[i]...)
	}
	if rng != nil {
		nn.XavierUniform(rng, t.Au)
		nn.XavierUniform(rng, t.Bu)
		nn.XavierUniform(rng, t.Cu)
	}
	return t
}

// FromMap reads a layer's tensors from m under "<path>.<suffix>" names and
// checks their shapes against (out, in, R); errors name the tensor.
func FromMap(m map[string]*tensor.Tensor, path string, out, in, R int) (LayerTensors, error) {
	var t LayerTensors
	sh := Shapes(out, in, R)
	for i, p := range t.ptrs() {
		name := path + "." + TensorNames[i]
		v, ok := m[name]
		if !ok {
			return t, fmt.Errorf("glora: tensor %q missing", name)
		}
		if !tensor.SameShape(v.Shape, sh[i]) {
			return t, fmt.Errorf("glora: tensor %q has shape %s, want %s (layer %d→%d, rank %d)",
				name, tensor.ShapeString(v.Shape), tensor.ShapeString(sh[i]), in, out, R)
		}
		*p = v
	}
	return t, nil
}

// Rank is the stored rank R.
func (t *LayerTensors) Rank() int { return t.Ad.Shape[1] }

// CheckChoice reports whether lc can be read from tensors of rank R.
func CheckChoice(lc LayerChoice, R int) error {
	for s := range numSupports {
		if c := lc[s]; c.Kind == LoRA && c.Rank > R {
			return fmt.Errorf("%s = %s needs rank %d, the stored tensors have rank %d", s, c, c.Rank, R)
		}
	}
	return nil
}

// weightPath materialises support A or B of choice c as a dense (out, in)
// matrix (nil for none): the reference reading of PEFT's prepare_path.
func (t *LayerTensors) weightPath(s Support, c Choice, out, in int) *tensor.Tensor {
	xd, xu := t.Ad, t.Au
	if s == B {
		xd, xu = t.Bd, t.Bu
	}
	R := xd.Shape[1]
	switch c.Kind {
	case None:
		return nil
	case LoRA:
		m := tensor.New(out, in)
		// m (out, in) = Xd[:, :r] (out, r; row stride R) · Xu[:r, :] (r, in)
		tensor.Sgemm(false, false, out, in, c.Rank, 1, xd.Data, R, xu.Data, in, 0, m.Data, in)
		return m
	case Vector:
		m := tensor.New(out, in)
		for o := 0; o < out; o++ {
			v := xd.Data[o*R]
			row := m.Data[o*in : (o+1)*in]
			for i := range row {
				row[i] = v
			}
		}
		return m
	default: // Constant
		m := tensor.New(out, in)
		v := xd.Data[0]
		for i := range m.Data {
			m.Data[i] = v
		}
		return m
	}
}

// cPath materialises support C as an (in) vector (nil for none).
func (t *LayerTensors) cPath(c Choice, in int) []float32 {
	R := t.Cd.Shape[1]
	switch c.Kind {
	case LoRA:
		v := make([]float32, in)
		// v (in, 1) = Cd[:, :r] (in, r) · Cu[:r, :] (r, 1)
		tensor.Sgemm(false, false, in, 1, c.Rank, 1, t.Cd.Data, R, t.Cu.Data, 1, 0, v, 1)
		return v
	case Vector:
		v := make([]float32, in)
		for i := range v {
			v[i] = t.Cd.Data[i*R]
		}
		return v
	}
	return nil
}

// biasPath materialises support D or E as an (out) vector (nil for none).
func (t *LayerTensors) biasPath(s Support, c Choice, out int) []float32 {
	x := t.D
	if s == E {
		x = t.E
	}
	switch c.Kind {
	case Vector:
		return append([]float32(nil), x.Data...)
	case Constant:
		v := make([]float32, out)
		for i := range v {
			v[i] = x.Data[0]
		}
		return v
	}
	return nil
}

// MergeLinear folds choice lc into a layer (docs/DESIGN.md §4), from the
// original W0 (out, in) and b0 (out, or nil):
//
//	W = W0 + W0⊙A + B
//	b = b0 + b0⊙D + E + W0·C
//
// W0 and b0 are not modified. b is nil when b0 is nil and C, D, E are all
// none. A result holding NaN or Inf is an error, and nothing is returned.
func MergeLinear(w0, b0 *tensor.Tensor, t *LayerTensors, lc LayerChoice) (w, b *tensor.Tensor, err error) {
	out, in := w0.Shape[0], w0.Shape[1]
	if err := CheckChoice(lc, t.Rank()); err != nil {
		return nil, nil, err
	}
	w = w0.Clone()
	if a := t.weightPath(A, lc[A], out, in); a != nil {
		for i, v := range a.Data {
			w.Data[i] += w0.Data[i] * v
		}
	}
	if bm := t.weightPath(B, lc[B], out, in); bm != nil {
		tensor.Axpy(1, bm.Data, w.Data)
	}
	c := t.cPath(lc[C], in)
	d := t.biasPath(D, lc[D], out)
	e := t.biasPath(E, lc[E], out)
	if b0 != nil || c != nil || d != nil || e != nil {
		b = tensor.New(out)
		if b0 != nil {
			copy(b.Data, b0.Data)
			if d != nil {
				for o := range b.Data {
					b.Data[o] += b0.Data[o] * d[o]
				}
			}
		}
		if e != nil {
			tensor.Axpy(1, e, b.Data)
		}
		if c != nil {
			// b (out) += W0 (out, in) · c (in): the original W0, not the merged W
			tensor.Sgemm(false, false, out, 1, in, 1, w0.Data, in, c, 1, 1, b.Data, 1)
		}
	}
	if i := firstNonFinite(w.Data); i >= 0 {
		return nil, nil, fmt.Errorf("merged weight has %v at [%d, %d]", w.Data[i], i/in, i%in)
	}
	if b != nil {
		if i := firstNonFinite(b.Data); i >= 0 {
			return nil, nil, fmt.Errorf("merged bias has %v at [%d]", b.Data[i], i)
		}
	}
	return w, b, nil
}

// firstNonFinite is the index of the first NaN or ±Inf in x, or -1.
func firstNonFinite(x []float32) int {
	for i, v := range x {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return i
		}
	}
	return -1
}
