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
// with N = (H/P)·(W/P) patches in row-major order. It is Patchify (im2col
// into X of shape (B, N, K), K = Cin·P·P, column index c·P² + py·P + px,
// matching w flattened to (D, K)) followed by a Linear layer:
// y = X·wᵀ + b, so the patch embedding runs on the same GEMM paths
// (and precision) as every Linear.
func PatchEmbed(tp *ag.Tape, img, w, b *ag.Var, patch int) *ag.Var {
	if !tp.OK(img, w) {
		return tp.Dead()
	}
	if err := checkPatchEmbed(img, w, b, patch); err != nil {
		return tp.Fail(err)
	}
	ws := w.Value.Shape
	dim := ws[0]
	x := Patchify(tp, img, patch)               // (B, N, K)
	wf := tp.Reshape(w, dim, ws[1]*patch*patch) // (D, K), a view of w
	return tp.Linear(x, wf, b)                  // (B, N, D)
}

// PatchEmbedEach is PatchEmbed's forward pass for a frozen embedding (a
// forward pass without gradients, or a backbone tuned through adapters):
// a few images at a time, it cuts their patches into a scratch buffer from
// the tape's pool, multiplies them by wᵀ and adds b, and hands fn the
// tokens of images b0 ≤ b < b1,
//
//	y: ((b1−b0)·N, D),   the rows b0·N … b1·N−1 of PatchEmbed's output,
//
// the same floats (each row of a product does not depend on the rows beside
// it). The whole (B, N, K) patch matrix never exists, nor does the (B, N, D)
// output, so a caller that copies the tokens on into a larger tensor (a ViT's
// cls token and position embedding) holds neither: for ViT-Tiny at batch 32
// that is 18.4 and 4.6 MiB. y is scratch, valid only during fn. Nothing is
// recorded, so neither img, w nor b may need a gradient (an error otherwise).
func PatchEmbedEach(tp *ag.Tape, img, w, b *ag.Var, patch int, fn func(b0, b1 int, y []float32)) error {
	if !tp.OK(img, w) {
		return tp.Err()
	}
	for _, v := range []*ag.Var{img, w, b} {
		if v != nil && v.RequiresGrad && !tp.NoGrad {
			return fmt.Errorf("nn: PatchEmbedEach: the image, weight and bias must need no gradient")
		}
	}
	if err := checkPatchEmbed(img, w, b, patch); err != nil {
		return err
	}
	is, dim := img.Value.Shape, w.Value.Shape[0]
	var bias []float32
	if b != nil {
		bias = b.Value.Data
	}
	all := patchLayout{b: is[0], c: is[1], h: is[2], w: is[3], p: patch}
	n, k, per := all.n(), all.k(), is[1]*is[2]*is[3]
	chunk := min(all.b, max(1, (patchChunkRows+n-1)/n)) // images a product takes
	cols := tp.AllocRaw(chunk*n, k)
	y := tp.AllocRaw(chunk*n, dim)
	defer tp.Release(cols)
	defer tp.Release(y)
	for b0 := 0; b0 < all.b; b0 += chunk {
		b1 := min(b0+chunk, all.b)
		l := all
		l.b = b1 - b0
		rows := l.rows()
		l.im2col(cols.Data, img.Value.Data[b0*per:b1*per])
		// y (rows, D) = cols (rows, K) · wᵀ + b
		tp.Precision.SgemmBias(false, true, rows, dim, k, 1, cols.Data, k, w.Value.Data, k, bias, y.Data, dim)
		fn(b0, b1, y.Data[:rows*dim])
	}
	return nil
}

// checkPatchEmbed checks PatchEmbed's operands: img (B, Cin, H, W) with H
// and W multiples of patch, w (D, Cin, patch, patch), b (D) or nil.
func checkPatchEmbed(img, w, b *ag.Var, patch int) error {
	is, ws := img.Value.Shape, w.Value.Shape
	if len(is) != 4 || len(ws) != 4 || patch < 1 || ws[1] != is[1] || ws[2] != patch || ws[3] != patch ||
		is[2]%patch != 0 || is[3]%patch != 0 {
		return tensor.Errorf("patchembed",
			fmt.Sprintf("want img (B, Cin, H, W) with H, W divisible by %d and weight (D, Cin, %d, %d)", patch, patch, patch), is, ws)
	}
	if b != nil && (b.Value.Rank() != 1 || b.Value.Shape[0] != ws[0]) {
		return tensor.Errorf("patchembed", fmt.Sprintf("bias must be (%d)", ws[0]), ws, b.Value.Shape)
	}
	return nil
}

// patchChunkRows is about the number of patch rows PatchEmbedEach
// multiplies at a time: enough for the product to run at full speed on
// every core, a small part of a batch's patches.
const patchChunkRows = 1024

// Patchify cuts an image into non-overlapping P×P patches, one row each:
//
//	img: (B, C, H, W)   →   x: (B, N, K),   N = (H/P)·(W/P), K = C·P·P
//
// with patches in row-major order and x[b, n, c·P² + py·P + px] the pixel
// (c, py, px) of patch n (im2col). Backward: dimg += col2im(dx), a
// permutation, as the patches do not overlap.
func Patchify(tp *ag.Tape, img *ag.Var, patch int) *ag.Var {
	if !tp.OK(img) {
		return tp.Dead()
	}
	is := img.Value.Shape
	if len(is) != 4 || patch < 1 || is[2]%patch != 0 || is[3]%patch != 0 {
		return tp.Fail(tensor.Errorf("patchify", fmt.Sprintf("want img (B, C, H, W) with H, W divisible by %d", patch), is))
	}
	pt := patchLayout{b: is[0], c: is[1], h: is[2], w: is[3], p: patch}
	x := tp.NewOutputRaw([]int{pt.b, pt.n(), pt.k()}, img)
	pt.im2col(x.Value.Data, img.Value.Data)
	tp.Record(x, func() {
		if g := tp.GradOf(img); g != nil {
			pt.col2imAdd(g.Data, x.Grad.Data)
		}
	})
	return x
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
