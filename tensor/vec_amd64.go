//go:build amd64 && !purego

package tensor

//go:generate go run vec4_asmgen.go

import "golang.org/x/sys/cpu"

// haveAVX512 reports whether the CPU and OS support the AVX-512F (+BMI2) kernels in
// vec_amd64.s; useAVX512 selects them (tests switch it off to exercise the
// portable reference path).
var haveAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasBMI2

var useAVX512 = haveAVX512

// The kernels below take a base pointer and an element count n ≥ 1; the Go
// wrappers in vec.go bounds-check the slices first. Each processes 16 floats
// per zmm step and finishes with one masked step for the n mod 16 tail.

// y[i] += alpha·x[i]
//
//go:noescape
func axpyAVX512(alpha float32, x, y *float32, n int)

// x[i] *= alpha
//
//go:noescape
func scaleAVX512(alpha float32, x *float32, n int)

// dst[i] = a[i] + b[i]
//
//go:noescape
func addAVX512(dst, a, b *float32, n int)

// dst[i] = a[i] · b[i]
//
//go:noescape
func mulAVX512(dst, a, b *float32, n int)

// Σ a[i]·b[i]
//
//go:noescape
func dotAVX512(a, b *float32, n int) float32

// Σ x[i]
//
//go:noescape
func sumAVX512(x *float32, n int) float32

// max x[i], NaNs skipped
//
//go:noescape
func maxAVX512(x *float32, n int) float32

// dst[i] = exp(x[i])
//
//go:noescape
func expAVX512(dst, x *float32, n int)

// dst[j] += Σ_r src[r·ld + j], j < 64, rows added in order
//
//go:noescape
func colSums64AVX512(dst, src *float32, rows, ld int)

// colSums64AVX512 for the lanes of one vector that mask selects
//
//go:noescape
func colSums16AVX512(dst, src *float32, rows, ld, mask int)

// dst[j] += Σ_r src[r·ld + j], j < 32, rows added in order (AVX2)
//
//go:noescape
func colSums32AVX2(dst, src *float32, rows, ld int)

// x = softmax(x) in place
//
//go:noescape
func softmaxRowAVX512(x *float32, n int)

// softmaxRowAVX512 on four rows of n floats, ld apart
//
//go:noescape
func softmaxRows4AVX512(x *float32, ld, n int)

// d = p ⊙ (d − Σ d⊙p) on four rows, ld apart, n < 64
//
//go:noescape
func softmaxGrad4AVX512(d, p *float32, ld, n int)

// dx[i] += y[i]·(dy[i] − Σ dy⊙y)
//
//go:noescape
func softmaxRowBackwardAVX512(dx, y, dy *float32, n int)

// dst[i] = GELU(x[i]) (erf form)
//
//go:noescape
func geluAVX512(dst, x *float32, n int)

// dx[i] += dy[i]·GELU'(x[i])
//
//go:noescape
func geluBackwardAVX512(dx, x, dy *float32, n int)

// dst[i] = GELUTanh(x[i])
//
//go:noescape
func geluTanhAVX512(dst, x *float32, n int)

// dx[i] += dy[i]·GELUTanh'(x[i])
//
//go:noescape
func geluTanhBackwardAVX512(dx, x, dy *float32, n int)

// dst[i] = x[i]·σ(x[i])
//
//go:noescape
func siluAVX512(dst, x *float32, n int)

// dx[i] += dy[i]·SiLU'(x[i])
//
//go:noescape
func siluBackwardAVX512(dx, x, dy *float32, n int)

// mean = Σx/n, ss = Σ(x − mean)²
//
//go:noescape
func lnStatsAVX512(x *float32, n int) (mean, ss float32)

// lnStatsAVX512 on four rows of n floats, ld apart: out[r] = mean,
// out[4+r] = Σ (x − mean)² of row r
//
//go:noescape
func lnStats4AVX512(x *float32, ld, n int, out *float32)

// y = ((x − mean)·rstd)·w + b; w, b may be nil.
//
//go:noescape
func lnApplyAVX512(y, x, w, b *float32, n int, mean, rstd float32)

// LayerNorm row backward; dx, dw, db, w may be nil.
//
//go:noescape
func lnBackwardAVX512(dx, dw, db, dy, x, w *float32, n int, mean, rstd float32)
