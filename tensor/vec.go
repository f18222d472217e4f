package tensor

import (
	"fmt"
	"math"
)

// Vector kernels: the fused loops that the elementwise, normalisation and
// activation operations are built from. Each works on equal-length slices
// (the caller checks lengths); dst may alias a source unless noted.
// The exported functions dispatch to assembly where the CPU allows (AVX-512,
// else AVX2+FMA, on amd64);
// the *Generic versions are the portable reference they are tested against.

// Axpy is y += α·x.
func Axpy(alpha float32, x, y []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		y = y[:len(x)]
		if useAVX512 {
			axpyAVX512(alpha, &x[0], &y[0], len(x))
		} else {
			axpyAVX2(alpha, &x[0], &y[0], len(x))
		}
		return
	}
	axpyGeneric(alpha, x, y)
}

// Scale is x *= α.
func Scale(alpha float32, x []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		if useAVX512 {
			scaleAVX512(alpha, &x[0], len(x))
		} else {
			scaleAVX2(alpha, &x[0], len(x))
		}
		return
	}
	scaleGeneric(alpha, x)
}

// Add is dst = a + b.
func Add(dst, a, b []float32) {
	if (useAVX512 || useAVX2) && len(a) > 0 {
		b, dst = b[:len(a)], dst[:len(a)]
		if useAVX512 {
			addAVX512(&dst[0], &a[0], &b[0], len(a))
		} else {
			addAVX2(&dst[0], &a[0], &b[0], len(a))
		}
		return
	}
	addGeneric(dst, a, b)
}

// Mul is dst = a ⊙ b.
func Mul(dst, a, b []float32) {
	if (useAVX512 || useAVX2) && len(a) > 0 {
		b, dst = b[:len(a)], dst[:len(a)]
		if useAVX512 {
			mulAVX512(&dst[0], &a[0], &b[0], len(a))
		} else {
			mulAVX2(&dst[0], &a[0], &b[0], len(a))
		}
		return
	}
	mulGeneric(dst, a, b)
}

// Dot is Σ a⊙b.
func Dot(a, b []float32) float32 {
	if (useAVX512 || useAVX2) && len(a) > 0 {
		b = b[:len(a)]
		if useAVX512 {
			return dotAVX512(&a[0], &b[0], len(a))
		}
		return dotAVX2(&a[0], &b[0], len(a))
	}
	return dotGeneric(a, b)
}

// Sum is Σ x.
func Sum(x []float32) float32 {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		if useAVX512 {
			return sumAVX512(&x[0], len(x))
		}
		return sumAVX2(&x[0], len(x))
	}
	return sumGeneric(x)
}

// Max is max x (−Inf for an empty slice). NaN entries are skipped
// (a slice of NaNs gives −Inf).
func Max(x []float32) float32 {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		if useAVX512 {
			return maxAVX512(&x[0], len(x))
		}
		return maxAVX2(&x[0], len(x))
	}
	return maxGeneric(x)
}

// Exp is dst = eˣ. The assembly path is a float32 Cephes-style
// approximation 2ⁿ·p(r) (relative error ≈ 2e-7); e^−∞ = 0, e^+∞ = +Inf,
// NaN stays NaN, results below ≈ 1e-38 are flushed gradually to 0.
func Exp(dst, x []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		dst = dst[:len(x)]
		if useAVX512 {
			expAVX512(&dst[0], &x[0], len(x))
		} else {
			expAVX2(&dst[0], &x[0], len(x))
		}
		return
	}
	expGeneric(dst, x)
}

// SoftmaxRow is x = exp(x − max x) / Σ exp(x − max x), in place.
// −Inf entries (masked positions) become 0; a row that is all −Inf gives NaN.
func SoftmaxRow(x []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		if useAVX512 {
			softmaxRowAVX512(&x[0], len(x))
		} else {
			softmaxRowAVX2(&x[0], len(x))
		}
		return
	}
	softmaxRowGeneric(x)
}

// SoftmaxRows applies SoftmaxRow to rows rows of n floats each, ld floats
// apart in x (row r is x[r·ld : r·ld+n]), with the same floats. It takes
// four rows at a time on AVX-512 CPUs and three on AVX2 ones (the
// registers hold no more), interleaved: one short row's softmax is a chain
// of dependent reductions and exponentials (attention's 50-key rows: 48 ns
// a row one at a time, 22 four at a time, on Zen 5).
func SoftmaxRows(x []float32, rows, n, ld int) {
	if rows <= 0 || n <= 0 {
		return
	}
	checkRows("SoftmaxRows", rows, n, ld, x)
	r := 0
	switch {
	case useAVX512:
		for ; r+4 <= rows; r += 4 {
			softmaxRows4AVX512(&x[r*ld], ld, n)
		}
	case useAVX2:
		for ; r+3 <= rows; r += 3 {
			softmaxRows3AVX2(&x[r*ld], ld, n)
		}
	}
	for ; r < rows; r++ {
		SoftmaxRow(x[r*ld : r*ld+n])
	}
}

// checkRows panics, naming op, unless each buffer holds rows ≥ 1 rows of
// n floats, ld ≥ n apart.
func checkRows(op string, rows, n, ld int, bufs ...[]float32) {
	for _, m := range bufs {
		if ld < n || len(m) < (rows-1)*ld+n {
			panic(fmt.Sprintf("tensor: %s of %d rows of %d, %d apart, in %d floats", op, rows, n, ld, len(m)))
		}
	}
}

// SoftmaxGradRows sets d = p ⊙ (d − Σ d⊙p) in place on rows rows of n
// floats, ld apart in both d and p (row r at r·ld): the gradient of the
// scores of a softmax whose probabilities are p, from the gradient d of
// the probabilities. Each row gets the floats of Dot(d, p), then
// Mul(d, d, p), then Axpy(−dot, p, d); rows go four at a time on AVX-512
// CPUs (rows of fewer than 64 floats) and three on AVX2 ones, interleaved
// (attention's 50-key rows).
func SoftmaxGradRows(d, p []float32, rows, n, ld int) {
	if rows <= 0 || n <= 0 {
		return
	}
	checkRows("SoftmaxGradRows", rows, n, ld, d, p)
	r := 0
	switch {
	case useAVX512:
		if n < 64 {
			for ; r+4 <= rows; r += 4 {
				softmaxGrad4AVX512(&d[r*ld], &p[r*ld], ld, n)
			}
		}
	case useAVX2:
		for ; r+3 <= rows; r += 3 {
			softmaxGrad3AVX2(&d[r*ld], &p[r*ld], ld, n)
		}
	}
	for ; r < rows; r++ {
		softmaxGradRow(d[r*ld:r*ld+n], p[r*ld:r*ld+n])
	}
}

// softmaxGradRow is one row of SoftmaxGradRows.
func softmaxGradRow(d, p []float32) {
	dot := Dot(d, p)
	Mul(d, d, p)     // d⊙p
	Axpy(-dot, p, d) // − (Σ d⊙p)·p
}

// SoftmaxRowBackward is the softmax gradient for one row given its output y:
// dx += y ⊙ (dy − Σ dy⊙y).
func SoftmaxRowBackward(dx, y, dy []float32) {
	if (useAVX512 || useAVX2) && len(y) > 0 {
		dx, dy = dx[:len(y)], dy[:len(y)]
		if useAVX512 {
			softmaxRowBackwardAVX512(&dx[0], &y[0], &dy[0], len(y))
		} else {
			softmaxRowBackwardAVX2(&dx[0], &y[0], &dy[0], len(y))
		}
		return
	}
	softmaxRowBackwardGeneric(dx, y, dy)
}

// GELU is dst = x·Φ(x) = x/2·(1 + erf(x/√2)) (exact form). Every path
// (assembly and portable) evaluates erf with a float32 rational approximation
// on [−4, 4] (absolute error ≲ 5e-7); GELU(−Inf) is NaN.
func GELU(dst, x []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		dst = dst[:len(x)]
		if useAVX512 {
			geluAVX512(&dst[0], &x[0], len(x))
		} else {
			geluAVX2(&dst[0], &x[0], len(x))
		}
		return
	}
	geluGeneric(dst, x)
}

// GELUBackward is dx += dy · d/dx[x·Φ(x)] = dy·(Φ(x) + x·φ(x)).
func GELUBackward(dx, x, dy []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		dx, dy = dx[:len(x)], dy[:len(x)]
		if useAVX512 {
			geluBackwardAVX512(&dx[0], &x[0], &dy[0], len(x))
		} else {
			geluBackwardAVX2(&dx[0], &x[0], &dy[0], len(x))
		}
		return
	}
	geluBackwardGeneric(dx, x, dy)
}

// GELUTanh is dst = x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))) (tanh form).
// The assembly path uses the identity x/2·(1 + tanh u) = x / (1 + e^(−2u)).
func GELUTanh(dst, x []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		dst = dst[:len(x)]
		if useAVX512 {
			geluTanhAVX512(&dst[0], &x[0], len(x))
		} else {
			geluTanhAVX2(&dst[0], &x[0], len(x))
		}
		return
	}
	geluTanhGeneric(dst, x)
}

// GELUTanhBackward is dx += dy · d/dx GELUTanh(x).
func GELUTanhBackward(dx, x, dy []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		dx, dy = dx[:len(x)], dy[:len(x)]
		if useAVX512 {
			geluTanhBackwardAVX512(&dx[0], &x[0], &dy[0], len(x))
		} else {
			geluTanhBackwardAVX2(&dx[0], &x[0], &dy[0], len(x))
		}
		return
	}
	geluTanhBackwardGeneric(dx, x, dy)
}

// SiLU is dst = x·σ(x) = x / (1 + e^(−x)).
func SiLU(dst, x []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		dst = dst[:len(x)]
		if useAVX512 {
			siluAVX512(&dst[0], &x[0], len(x))
		} else {
			siluAVX2(&dst[0], &x[0], len(x))
		}
		return
	}
	siluGeneric(dst, x)
}

// SiLUBackward is dx += dy · d/dx[x·σ(x)] = dy·σ(x)·(1 + x·(1 − σ(x))).
func SiLUBackward(dx, x, dy []float32) {
	if (useAVX512 || useAVX2) && len(x) > 0 {
		dx, dy = dx[:len(x)], dy[:len(x)]
		if useAVX512 {
			siluBackwardAVX512(&dx[0], &x[0], &dy[0], len(x))
		} else {
			siluBackwardAVX2(&dx[0], &x[0], &dy[0], len(x))
		}
		return
	}
	siluBackwardGeneric(dx, x, dy)
}

// AdamWCoef are the scalars of one AdamW step (AdamWUpdate), fixed for a
// parameter tensor: β1, 1−β1, β2, 1−β2, 1/√(1−β2ᵗ), ε, the decoupled decay
// factor 1 − lr·λ and the step size lr/(1−β1ᵗ).
type AdamWCoef struct {
	Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, InvBC2, Eps, Decay, StepSize float32
}

// AdamWUpdate is one AdamW step over a parameter slice w with gradient g
// and moments m, v (all of one length), in these float32 operations and
// this order on every path (no fused multiply-add), so the floats do not
// depend on the CPU:
//
//	m = β1·m + (1−β1)·g
//	v = β2·v + ((1−β2)·g)·g
//	w = w·decay − stepSize·(m / (√v·invBC2 + ε))
func AdamWUpdate(w, g, m, v []float32, c *AdamWCoef) {
	n := len(w)
	g, m, v = g[:n], m[:n], v[:n]
	if useAVX2 && n > 0 {
		adamwAVX2(&w[0], &g[0], &m[0], &v[0], n, c)
		return
	}
	adamwGeneric(w, g, m, v, c)
}

// LayerNormRow normalises one row: y = (x − μ)·rstd ⊙ w + b with
// rstd = 1/√(var + eps) (biased variance); w or b may be nil (1 and 0).
// It returns μ and rstd for the backward pass.
func LayerNormRow(y, x, w, b []float32, eps float32) (mean, rstd float32) {
	if !(useAVX512 || useAVX2) || len(x) == 0 {
		return layerNormRowGeneric(y, x, w, b, eps)
	}
	n := len(x)
	y = y[:n]
	wp, bp := lnAffine(w, b, n)
	if useAVX512 {
		mean, ss := lnStatsAVX512(&x[0], n)
		rstd = lnRstd(ss, n, eps)
		lnApplyAVX512(&y[0], &x[0], wp, bp, n, mean, rstd)
		return mean, rstd
	}
	mean, ss := lnStatsAVX2(&x[0], n)
	rstd = lnRstd(ss, n, eps)
	lnApplyAVX2(&y[0], &x[0], wp, bp, n, mean, rstd)
	return mean, rstd
}

// lnRstd is LayerNorm's 1/√(σ² + ε) from a row's sum of squared
// deviations ss over n floats: every path computes it here, so that they
// round alike.
func lnRstd(ss float32, n int, eps float32) float32 {
	return float32(1 / math.Sqrt(float64(ss/float32(n)+eps)))
}

// lnAffine is the assembly kernels' view of LayerNorm's optional weight
// and bias: pointers to their first of n floats, nil when absent.
func lnAffine(w, b []float32, n int) (wp, bp *float32) {
	if w != nil {
		wp = &w[:n][0]
	}
	if b != nil {
		bp = &b[:n][0]
	}
	return wp, bp
}

// LayerNormRows applies LayerNormRow to rows rows of n floats each (row r
// of x is x[r·n : (r+1)·n], likewise y), with the same floats, and stores
// each row's mean and rstd in stats[2r], stats[2r+1] when stats is not nil.
// On AVX-512 CPUs the statistics, two chains of dependent sums a row, are
// taken four rows at a time, interleaved (128-float rows: 43 → 30 ns a
// row on Zen 5).
func LayerNormRows(y, x []float32, rows, n int, w, b []float32, eps float32, stats []float32) {
	if rows <= 0 || n <= 0 {
		return
	}
	x, y = x[:rows*n], y[:rows*n]
	if stats != nil {
		stats = stats[:2*rows]
	}
	r := 0
	if useAVX512 {
		wp, bp := lnAffine(w, b, n)
		var st [8]float32 // four means, then four sums of squares
		for ; r+4 <= rows; r += 4 {
			lnStats4AVX512(&x[r*n], n, n, &st[0])
			for k := range 4 {
				mean := st[k]
				rstd := lnRstd(st[4+k], n, eps)
				lnApplyAVX512(&y[(r+k)*n], &x[(r+k)*n], wp, bp, n, mean, rstd)
				if stats != nil {
					stats[2*(r+k)], stats[2*(r+k)+1] = mean, rstd
				}
			}
		}
	}
	for ; r < rows; r++ {
		mean, rstd := LayerNormRow(y[r*n:(r+1)*n], x[r*n:(r+1)*n], w, b, eps)
		if stats != nil {
			stats[2*r], stats[2*r+1] = mean, rstd
		}
	}
}

// LayerNormRowBackward accumulates one row's gradients given dy:
// with x̂ = (x − μ)·rstd and g = dy ⊙ w,
// dx += rstd·(g − mean(g) − x̂·mean(g⊙x̂)), dw += dy⊙x̂, db += dy.
// dx, dw, db may be nil (not accumulated); w nil means 1.
func LayerNormRowBackward(dx, dw, db, dy, x, w []float32, mean, rstd float32) {
	if !(useAVX512 || useAVX2) || len(x) == 0 {
		layerNormRowBackwardGeneric(dx, dw, db, dy, x, w, mean, rstd)
		return
	}
	n := len(x)
	var dxp, dwp, dbp, wp *float32
	if dx != nil {
		dxp = &dx[:n][0]
	}
	if dw != nil {
		dwp = &dw[:n][0]
	}
	if db != nil {
		dbp = &db[:n][0]
	}
	if w != nil {
		wp = &w[:n][0]
	}
	dy = dy[:n]
	if useAVX512 {
		lnBackwardAVX512(dxp, dwp, dbp, &dy[0], &x[0], wp, n, mean, rstd)
		return
	}
	lnBackwardAVX2(dxp, dwp, dbp, &dy[0], &x[0], wp, n, mean, rstd)
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

func adamwGeneric(w, g, m, v []float32, c *AdamWCoef) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)] // no bounds checks below
	for i := range w {
		gi := g[i]
		mi := c.Beta1*m[i] + c.OneMinusBeta1*gi
		vi := c.Beta2*v[i] + c.OneMinusBeta2*gi*gi
		m[i], v[i] = mi, vi
		// float64's square root rounded to float32 is float32's (VSQRTPS)
		den := float32(math.Sqrt(float64(vi)))*c.InvBC2 + c.Eps
		w[i] = w[i]*c.Decay - c.StepSize*(mi/den)
	}
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

func softmaxRowBackwardGeneric(dx, y, dy []float32) {
	dx, dy = dx[:len(y)], dy[:len(y)]
	s := dotGeneric(dy, y)
	for i, v := range y {
		dx[i] += v * (dy[i] - s)
	}
}

func siluGeneric(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = float32(float64(v) / (1 + math.Exp(-float64(v))))
	}
}

func siluBackwardGeneric(dx, x, dy []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		xv := float64(v)
		s := 1 / (1 + math.Exp(-xv))
		dx[i] += dy[i] * float32(s*(1+xv*(1-s)))
	}
}

const invSqrt2 = 0.70710678118654752440
const invSqrt2Pi = 0.39894228040143267794

// geluGeneric and geluBackwardGeneric evaluate in float32 with the
// assembly kernels' approximations (erf32, exp32): float64 math.Erf and
// math.Exp cost several times more and GELU is a large share of a
// transformer's elementwise work on the portable path.
func geluGeneric(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		h := 0.5 * v
		dst[i] = h*erf32(v*invSqrt2) + h
	}
}

func geluBackwardGeneric(dx, x, dy []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		cdf := 0.5*erf32(v*invSqrt2) + 0.5
		pdf := invSqrt2Pi * exp32(-0.5*v*v)
		dx[i] += dy[i] * (cdf + v*pdf)
	}
}

// erf32 is erf(x) by the float32 rational approximation of the assembly
// kernels (Eigen/XLA's: x·P(x²)/Q(x²) on [−4, 4], absolute error ≲ 5e-7);
// NaN stays NaN.
func erf32(x float32) float32 {
	x = min(max(x, -4), 4) // min/max keep NaN
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = p*x2 - 2.10102402082508e-06
	p = p*x2 - 5.69250639462346e-05
	p = p*x2 - 0.000734990630326855
	p = p*x2 - 0.00295459980854025
	p = p*x2 - 0.0160960333262415
	q := x2*-1.45660718464996e-05 - 0.000213374055278905
	q = q*x2 - 0.00168282697438203
	q = q*x2 - 0.00737332916720468
	q = q*x2 - 0.0142647390514189
	return min(max(x*p/q, -1), 1)
}

// exp32 is eˣ by the assembly kernels' Cephes-style float32 method:
// n = round(x·log₂e), r = x − n·ln2 (two-part ln2), eʳ by a degree-7
// polynomial, scaled by 2ⁿ in two steps so that results overflow to +Inf
// and underflow gradually (relative error ≈ 2e-7); NaN stays NaN.
func exp32(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, -104), 89)
	// Round to nearest: adding and subtracting 1.5·2²³ leaves the integer
	// part (|x·log₂e| < 2²²).
	n := x*1.44269504088896341 + 12582912
	n -= 12582912
	r := x - n*0.693359375
	r = r - n*-2.12194440e-4
	p := r*1.9875691500e-4 + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r + 1
	p = p*r + 1
	k := int32(n)
	k1 := k >> 1
	return p * math.Float32frombits(uint32(k1+127)<<23) * math.Float32frombits(uint32(k-k1+127)<<23)
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
	rstd := lnRstd(v, len(x), eps)
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
