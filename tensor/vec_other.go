//go:build !amd64 || purego

package tensor

import "unsafe"

// Portable build: no assembly kernels. The *AVX512 stubs only keep vec.go
// compiling; useAVX512 is false so they are never reached.

var haveAVX512 = false

var useAVX512 = false

func vecSlice(p *float32, n int) []float32 {
	if p == nil {
		return nil
	}
	return unsafe.Slice(p, n)
}

func axpyAVX512(alpha float32, x, y *float32, n int) {
	axpyGeneric(alpha, vecSlice(x, n), vecSlice(y, n))
}
func scaleAVX512(alpha float32, x *float32, n int) { scaleGeneric(alpha, vecSlice(x, n)) }
func addAVX512(dst, a, b *float32, n int) {
	addGeneric(vecSlice(dst, n), vecSlice(a, n), vecSlice(b, n))
}
func mulAVX512(dst, a, b *float32, n int) {
	mulGeneric(vecSlice(dst, n), vecSlice(a, n), vecSlice(b, n))
}
func dotAVX512(a, b *float32, n int) float32          { return dotGeneric(vecSlice(a, n), vecSlice(b, n)) }
func sumAVX512(x *float32, n int) float32             { return sumGeneric(vecSlice(x, n)) }
func maxAVX512(x *float32, n int) float32             { return maxGeneric(vecSlice(x, n)) }
func expAVX512(dst, x *float32, n int)                { expGeneric(vecSlice(dst, n), vecSlice(x, n)) }
func colSums64AVX512(dst, src *float32, rows, ld int) { colSumsGeneric(dst, src, rows, ld, 64) }
func colSums32AVX2(dst, src *float32, rows, ld int)   { colSumsGeneric(dst, src, rows, ld, 32) }
func colSums16AVX512(dst, src *float32, rows, ld, mask int) {
	n := 0
	for mask>>n&1 == 1 {
		n++
	}
	colSumsGeneric(dst, src, rows, ld, n)
}
func colSumsGeneric(dst, src *float32, rows, ld, n int) {
	d, s := vecSlice(dst, n), vecSlice(src, (rows-1)*ld+n)
	for r := 0; r < rows; r++ {
		axpyGeneric(1, s[r*ld:r*ld+n], d)
	}
}
func softmaxRowAVX512(x *float32, n int) { softmaxRowGeneric(vecSlice(x, n)) }
func softmaxGrad4AVX512(d, p *float32, ld, n int) {
	ds, ps := vecSlice(d, 3*ld+n), vecSlice(p, 3*ld+n)
	for r := 0; r < 4; r++ {
		softmaxGradRow(ds[r*ld:r*ld+n], ps[r*ld:r*ld+n])
	}
}
func softmaxRows4AVX512(x *float32, ld, n int) {
	s := vecSlice(x, 3*ld+n)
	for r := 0; r < 4; r++ {
		softmaxRowGeneric(s[r*ld : r*ld+n])
	}
}
func softmaxRows3AVX2(x *float32, ld, n int) {
	s := vecSlice(x, 2*ld+n)
	for r := 0; r < 3; r++ {
		softmaxRowGeneric(s[r*ld : r*ld+n])
	}
}
func softmaxGrad3AVX2(d, p *float32, ld, n int) {
	ds, ps := vecSlice(d, 2*ld+n), vecSlice(p, 2*ld+n)
	for r := 0; r < 3; r++ {
		softmaxGradRow(ds[r*ld:r*ld+n], ps[r*ld:r*ld+n])
	}
}
func softmaxRowBackwardAVX512(dx, y, dy *float32, n int) {
	softmaxRowBackwardGeneric(vecSlice(dx, n), vecSlice(y, n), vecSlice(dy, n))
}
func geluAVX512(dst, x *float32, n int) { geluGeneric(vecSlice(dst, n), vecSlice(x, n)) }
func geluBackwardAVX512(dx, x, dy *float32, n int) {
	geluBackwardGeneric(vecSlice(dx, n), vecSlice(x, n), vecSlice(dy, n))
}
func geluTanhAVX512(dst, x *float32, n int) { geluTanhGeneric(vecSlice(dst, n), vecSlice(x, n)) }
func geluTanhBackwardAVX512(dx, x, dy *float32, n int) {
	geluTanhBackwardGeneric(vecSlice(dx, n), vecSlice(x, n), vecSlice(dy, n))
}
func siluAVX512(dst, x *float32, n int) { siluGeneric(vecSlice(dst, n), vecSlice(x, n)) }
func siluBackwardAVX512(dx, x, dy *float32, n int) {
	siluBackwardGeneric(vecSlice(dx, n), vecSlice(x, n), vecSlice(dy, n))
}

func lnStats4AVX512(x *float32, ld, n int, out *float32) {
	s, o := vecSlice(x, 3*ld+n), vecSlice(out, 8)
	for r := 0; r < 4; r++ {
		o[r], o[4+r] = lnStatsAVX512(&s[r*ld], n)
	}
}
func lnStatsAVX512(x *float32, n int) (mean, ss float32) {
	xs := vecSlice(x, n)
	mean = sumGeneric(xs) / float32(n)
	for _, v := range xs {
		ss += (v - mean) * (v - mean)
	}
	return mean, ss
}

func lnApplyAVX512(y, x, w, b *float32, n int, mean, rstd float32) {
	ys, xs, ws, bs := vecSlice(y, n), vecSlice(x, n), vecSlice(w, n), vecSlice(b, n)
	for i, v := range xs {
		o := (v - mean) * rstd
		if ws != nil {
			o *= ws[i]
		}
		if bs != nil {
			o += bs[i]
		}
		ys[i] = o
	}
}

func lnBackwardAVX512(dx, dw, db, dy, x, w *float32, n int, mean, rstd float32) {
	layerNormRowBackwardGeneric(vecSlice(dx, n), vecSlice(dw, n), vecSlice(db, n), vecSlice(dy, n), vecSlice(x, n), vecSlice(w, n), mean, rstd)
}

func adamwAVX2(w, g, m, v *float32, n int, c *AdamWCoef) {
	adamwGeneric(vecSlice(w, n), vecSlice(g, n), vecSlice(m, n), vecSlice(v, n), c)
}

// No AVX2 kernels either: the AVX2 names stand for the same portable stubs.
var haveAVX2 = false

var useAVX2 = false

var (
	axpyAVX2               = axpyAVX512
	scaleAVX2              = scaleAVX512
	addAVX2                = addAVX512
	mulAVX2                = mulAVX512
	dotAVX2                = dotAVX512
	sumAVX2                = sumAVX512
	maxAVX2                = maxAVX512
	expAVX2                = expAVX512
	softmaxRowAVX2         = softmaxRowAVX512
	softmaxRowBackwardAVX2 = softmaxRowBackwardAVX512
	geluAVX2               = geluAVX512
	geluBackwardAVX2       = geluBackwardAVX512
	geluTanhAVX2           = geluTanhAVX512
	geluTanhBackwardAVX2   = geluTanhBackwardAVX512
	siluAVX2               = siluAVX512
	siluBackwardAVX2       = siluBackwardAVX512
	lnStatsAVX2            = lnStatsAVX512
	lnApplyAVX2            = lnApplyAVX512
	lnBackwardAVX2         = lnBackwardAVX512
)
