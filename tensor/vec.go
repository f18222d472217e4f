package tensor

import "math"

// Vector kernels: the fused loops that the elementwise, normalisation and
// activation operations are built from. Each works on equal-length slices
// (the caller checks lengths); dst may alias a source unless noted.
// The exported functions dispatch to assembly where the CPU allows;
// the *Generic versions are the portable reference they are tested against.

// Axpy is y += α·x.
func Axpy(alpha float32, x, y []float32) { axpyGeneric(alpha, x, y) }

// Scale is x *= α.
func Scale(alpha float32, x []float32) { scaleGeneric(alpha, x) }

// Add is dst = a + b.
func Add(dst, a, b []float32) { addGeneric(dst, a, b) }

// Mul is dst = a ⊙ b.
func Mul(dst, a, b []float32) { mulGeneric(dst, a, b) }

// Dot is Σ a⊙b.
func Dot(a, b []float32) float32 { return dotGeneric(a, b) }

// Sum is Σ x.
func Sum(x []float32) float32 { return sumGeneric(x) }

// Max is max x (−Inf for an empty slice).
func Max(x []float32) float32 { return maxGeneric(x) }

// Exp is dst = eˣ.
func Exp(dst, x []float32) { expGeneric(dst, x) }

// SoftmaxRow is x = exp(x − max x) / Σ exp(x − max x), in place.
func SoftmaxRow(x []float32) { softmaxRowGeneric(x) }

// GELU is dst = x·Φ(x) = x/2·(1 + erf(x/√2)) (exact form).
func GELU(dst, x []float32) { geluGeneric(dst, x) }

// GELUBackward is dx += dy · d/dx[x·Φ(x)] = dy·(Φ(x) + x·φ(x)).
func GELUBackward(dx, x, dy []float32) { geluBackwardGeneric(dx, x, dy) }

// GELUTanh is dst = x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))) (tanh form).
func GELUTanh(dst, x []float32) { geluTanhGeneric(dst, x) }

// GELUTanhBackward is dx += dy · d/dx GELUTanh(x).
func GELUTanhBackward(dx, x, dy []float32) { geluTanhBackwardGeneric(dx, x, dy) }

// LayerNormRow normalises one row: y = (x − μ)·rstd ⊙ w + b with
// rstd = 1/√(var + eps) (biased variance); w or b may be nil (1 and 0).
// It returns μ and rstd for the backward pass.
func LayerNormRow(y, x, w, b []float32, eps float32) (mean, rstd float32) {
	return layerNormRowGeneric(y, x, w, b, eps)
}

// LayerNormRowBackward accumulates one row's gradients given dy:
// with x̂ = (x − μ)·rstd and g = dy ⊙ w,
// dx += rstd·(g − mean(g) − x̂·mean(g⊙x̂)), dw += dy⊙x̂, db += dy.
// dw, db may be nil; w nil means 1.
func LayerNormRowBackward(dx, dw, db, dy, x, w []float32, mean, rstd float32) {
	layerNormRowBackwardGeneric(dx, dw, db, dy, x, w, mean, rstd)
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func scaleGeneric(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

func addGeneric(dst, a, b []float32) {
	b, dst = b[:len(a)], dst[:len(a)]
	for i, v := range a {
		dst[i] = v + b[i]
	}
}

func mulGeneric(dst, a, b []float32) {
	b, dst = b[:len(a)], dst[:len(a)]
	for i, v := range a {
		dst[i] = v * b[i]
	}
}

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func sumGeneric(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}

func maxGeneric(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func expGeneric(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = float32(math.Exp(float64(v)))
	}
}

func softmaxRowGeneric(x []float32) {
	m := maxGeneric(x)
	var s float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		s += e
	}
	scaleGeneric(1/s, x)
}

const invSqrt2 = 0.70710678118654752440
const invSqrt2Pi = 0.39894228040143267794

func geluGeneric(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)*invSqrt2)))
	}
}

func geluBackwardGeneric(dx, x, dy []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		xv := float64(v)
		cdf := 0.5 * (1 + math.Erf(xv*invSqrt2))
		pdf := invSqrt2Pi * math.Exp(-0.5*xv*xv)
		dx[i] += dy[i] * float32(cdf+xv*pdf)
	}
}

const sqrt2OverPi = 0.79788456080286535588

func geluTanhGeneric(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		xv := float64(v)
		dst[i] = float32(0.5 * xv * (1 + math.Tanh(sqrt2OverPi*(xv+0.044715*xv*xv*xv))))
	}
}

func geluTanhBackwardGeneric(dx, x, dy []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		xv := float64(v)
		u := sqrt2OverPi * (xv + 0.044715*xv*xv*xv)
		t := math.Tanh(u)
		du := sqrt2OverPi * (1 + 3*0.044715*xv*xv)
		dx[i] += dy[i] * float32(0.5*(1+t)+0.5*xv*(1-t*t)*du)
	}
}

func layerNormRowGeneric(y, x, w, b []float32, eps float32) (float32, float32) {
	n := float32(len(x))
	mean := sumGeneric(x) / n
	var v float32
	for _, xv := range x {
		d := xv - mean
		v += d * d
	}
	rstd := float32(1 / math.Sqrt(float64(v/n+eps)))
	y = y[:len(x)]
	for i, xv := range x {
		o := (xv - mean) * rstd
		if w != nil {
			o *= w[i]
		}
		if b != nil {
			o += b[i]
		}
		y[i] = o
	}
	return mean, rstd
}

func layerNormRowBackwardGeneric(dx, dw, db, dy, x, w []float32, mean, rstd float32) {
	n := float32(len(x))
	var sg, sgx float32
	for i, xv := range x {
		g := dy[i]
		if w != nil {
			g *= w[i]
		}
		xh := (xv - mean) * rstd
		sg += g
		sgx += g * xh
	}
	sg /= n
	sgx /= n
	for i, xv := range x {
		g := dy[i]
		if w != nil {
			g *= w[i]
		}
		xh := (xv - mean) * rstd
		if dx != nil {
			dx[i] += rstd * (g - sg - xh*sgx)
		}
		if dw != nil {
			dw[i] += dy[i] * xh
		}
		if db != nil {
			db[i] += dy[i]
		}
	}
}
