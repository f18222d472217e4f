package nn

import (
	"fmt"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/parallel"
	"github.com/glora/glora/tensor"
)

// PatchEmbed is a ViT patch embedding: a Conv2d with kernel = stride = P,
// flattened to tokens as timm's proj(x).flatten(2).transpose(1, 2):
//
//	img: (B, Cin, H, W)   w: (D, Cin, P, P)   b: (D) or nil   →   y: (B, N, D)
//
// with N = (H/P)·(W/P) patches in row-major order. It is computed as
// patchify (im2col into X of shape (B·N, K), K = Cin·P·P, column index
// c·P² + py·P + px, matching w flattened to (D, K)) and one GEMM:
// y = X·wᵀ + b.
//
// Backward: dw += dyᵀ·X, db += Σ_rows dy, dimg += col2im(dy·w) (the patches
// do not overlap, so col2im is a permutation).
func PatchEmbed(tp *ag.Tape, img, w, b *ag.Var, patch int) *ag.Var {
	if !tp.OK(img, w) {
		return tp.Dead()
	}
	is, ws := img.Value.Shape, w.Value.Shape
	if len(is) != 4 || len(ws) != 4 || patch < 1 || ws[1] != is[1] || ws[2] != patch || ws[3] != patch ||
		is[2]%patch != 0 || is[3]%patch != 0 {
		return tp.Fail(tensor.Errorf("patchembed",
			fmt.Sprintf("want img (B, Cin, H, W) with H, W divisible by %d and weight (D, Cin, %d, %d)", patch, patch, patch), is, ws))
	}
	dim := ws[0]
	if b != nil && (b.Value.Rank() != 1 || b.Value.Shape[0] != dim) {
		return tp.Fail(tensor.Errorf("patchembed", fmt.Sprintf("bias must be (%d)", dim), ws, b.Value.Shape))
	}
	bsz, cin, ih, iw := is[0], is[1], is[2], is[3]
	pt := patchLayout{b: bsz, c: cin, h: ih, w: iw, p: patch}
	rows, k := pt.rows(), pt.k()
	y := tp.NewOutputRaw([]int{bsz, pt.n(), dim}, inputs(img, w, b)...)
	// cols: (B·N, K) patches, kept for dw
	cols := tp.AllocRaw(rows, k).Data
	pt.im2col(cols, img.Value.Data)
	yd := y.Value.Data
	beta := float32(0)
	if b != nil {
		for r := 0; r < rows; r++ {
			copy(yd[r*dim:(r+1)*dim], b.Value.Data)
		}
		beta = 1
	}
	// y (B·N, D) = X (B·N, K) · wᵀ
	tensor.Sgemm(false, true, rows, dim, k, 1, cols, k, w.Value.Data, k, beta, yd, dim)
	tp.Record(y, func() {
		dy := y.Grad.Data
		if g := tp.GradOf(w); g != nil {
			// dw (D, K) += dyᵀ (D, B·N) · X (B·N, K)
			tensor.Sgemm(true, false, dim, k, rows, 1, dy, dim, cols, k, 1, g.Data, k)
		}
		if b != nil {
			if g := tp.GradOf(b); g != nil {
				addColSums(g.Data, dy, rows, dim)
			}
		}
		if g := tp.GradOf(img); g != nil {
			// dX (B·N, K) = dy (B·N, D) · w (D, K), then scattered back
			dcols := tp.AllocRaw(rows, k).Data
			tensor.Sgemm(false, false, rows, k, dim, 1, dy, dim, w.Value.Data, k, 0, dcols, k)
			pt.col2imAdd(g.Data, dcols)
		}
	})
	return y
}

// patchLayout describes the patchification of a (B, C, H, W) image into
// non-overlapping P×P patches.
type patchLayout struct{ b, c, h, w, p int }

func (l patchLayout) gh() int   { return l.h / l.p }
func (l patchLayout) gw() int   { return l.w / l.p }
func (l patchLayout) n() int    { return l.gh() * l.gw() }
func (l patchLayout) rows() int { return l.b * l.n() }
func (l patchLayout) k() int    { return l.c * l.p * l.p }

// visit calls fn(colOff, imgOff) for every P-long run of pixels: the run
// img[imgOff : imgOff+P] is the run cols[colOff : colOff+P], in parallel over
// (batch, patch row) pairs, which own disjoint parts of both buffers.
func (l patchLayout) visit(fn func(colOff, imgOff int)) {
	gh, gw, p, k := l.gh(), l.gw(), l.p, l.k()
	parallel.For(l.b*gh, max(1, rowGrain/max(1, gw*k)), func(lo, hi int) {
		for bg := lo; bg < hi; bg++ {
			b, gy := bg/gh, bg%gh
			for c := 0; c < l.c; c++ {
				for py := 0; py < p; py++ {
					imgRow := ((b*l.c+c)*l.h + gy*p + py) * l.w
					for gx := 0; gx < gw; gx++ {
						row := b*gh*gw + gy*gw + gx
						fn(row*k+(c*p+py)*p, imgRow+gx*p)
					}
				}
			}
		}
	})
}

// im2col fills cols (B·N, K) from img (B, C, H, W).
func (l patchLayout) im2col(cols, img []float32) {
	p := l.p
	l.visit(func(co, io int) { copy(cols[co:co+p], img[io:io+p]) })
}

// col2imAdd accumulates dcols (B·N, K) into dimg (B, C, H, W).
func (l patchLayout) col2imAdd(dimg, dcols []float32) {
	p := l.p
	l.visit(func(co, io int) { tensor.Axpy(1, dcols[co:co+p], dimg[io:io+p]) })
}
