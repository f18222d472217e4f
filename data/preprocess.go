package data

import (
	"math/rand/v2"

	"github.com/glora/glora/internal/parallel"
)

// Common normalisation constants (per RGB channel, on the [0,1] scale).
var (
	ImageNetMean  = []float32{0.485, 0.456, 0.406}
	ImageNetStd   = []float32{0.229, 0.224, 0.225}
	InceptionMean = []float32{0.5, 0.5, 0.5} // maps [0,1] to [-1,1]
	InceptionStd  = []float32{0.5, 0.5, 0.5}
)

// Preprocess describes how stored uint8 images become model input.
// Per image, in order:
//  1. augmentation (only if enabled): random crop of the source size from
//     the image zero-padded by PadCrop pixels on each side (a shift by
//     dx, dy ∈ [-PadCrop, PadCrop]), then a horizontal flip with p = 1/2;
//  2. channel conversion: 1 → 3 repeats the gray plane, 3 → 1 takes luma
//     0.299R + 0.587G + 0.114B (as PIL's convert("L"));
//  3. resize to Height×Width (Interp; see resizeWeights), clamped to [0,255]:
//     squashed, or with CropPct > 0 as timm's evaluation transform (the
//     shorter side to floor(min(Height, Width)/CropPct), the centre cut out);
//     an image already at Height×Width is taken as it is (a loader that read
//     it at the model's size applied the transform then);
//  4. x = (v/255 - Mean[c]) / Std[c].
type Preprocess struct {
	Channels, Height, Width int // model input; 0 = the dataset's
	Interp                  Interp
	CropPct                 float64 // > 0: resize and centre-crop (step 3), 0: squash
	// Mean, Std: per output channel (or one value for all); nil = 0 and 1,
	// i.e. x = v/255 ∈ [0,1].
	Mean, Std []float32

	PadCrop int        // random-crop padding in source pixels; 0 = no crop
	HFlip   bool       // random horizontal flip
	Rand    *rand.Rand // source of augmentation randomness; required if augmenting
}

// OutShape returns the (C,H,W) of one preprocessed image of ds.
func (p *Preprocess) OutShape(ds *Dataset) (c, h, w int) {
	c, h, w = p.Channels, p.Height, p.Width
	if c == 0 {
		c = ds.C
	}
	if h == 0 {
		h = ds.H
	}
	if w == 0 {
		w = ds.W
	}
	return
}

type augment struct {
	dx, dy int
	flip   bool
}

// Batch preprocesses images indices of ds into dst, laid out (B,C,H,W) with
// B = len(indices) and (C,H,W) = opts.OutShape(ds). dst is reused when its
// capacity suffices, else a new slice is allocated; the filled slice is
// returned. Work is spread over internal/parallel; the result does not
// depend on the number of workers (augmentation draws are made up front, in
// index order).
func Batch(ds *Dataset, indices []int, opts Preprocess, dst []float32) ([]float32, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	cm, hm, wm := opts.OutShape(ds)
	if cm != 1 && cm != 3 {
		return nil, dataErr("preprocess: %d output channels, want 1 or 3", cm)
	}
	if hm <= 0 || wm <= 0 || hm > 1<<14 || wm > 1<<14 {
		return nil, dataErr("preprocess: bad output size %dx%d", hm, wm)
	}
	if opts.Interp != Bilinear && opts.Interp != Bicubic {
		return nil, dataErr("preprocess: unknown interpolation %v", opts.Interp)
	}
	scale, bias, err := affine(cm, opts.Mean, opts.Std)
	if err != nil {
		return nil, err
	}
	for _, i := range indices {
		if i < 0 || i >= ds.Len() {
			return nil, dataErr("preprocess: index %d outside dataset %q of %d images", i, ds.Name, ds.Len())
		}
	}
	if opts.PadCrop < 0 || opts.PadCrop > max(ds.H, ds.W) {
		return nil, dataErr("preprocess: crop padding %d outside [0,%d]", opts.PadCrop, max(ds.H, ds.W))
	}
	var aug []augment
	if opts.PadCrop > 0 || opts.HFlip {
		if opts.Rand == nil {
			return nil, dataErr("preprocess: augmentation enabled but Rand is nil")
		}
		aug = make([]augment, len(indices))
		p := opts.PadCrop
		for i := range aug {
			if p > 0 {
				aug[i].dx = opts.Rand.IntN(2*p+1) - p
				aug[i].dy = opts.Rand.IntN(2*p+1) - p
			}
			if opts.HFlip {
				aug[i].flip = opts.Rand.IntN(2) == 1
			}
		}
	}
	per := cm * hm * wm
	n := len(indices) * per
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	cs, hs, ws := ds.C, ds.H, ds.W
	// The resize's output: the model's size, or with a crop the larger
	// picture the model's size is cut from (at top, left).
	hr, wr, top, left := hm, wm, 0, 0
	if opts.CropPct > 0 && (hs != hm || ws != wm) {
		hr, wr, top, left = cropGeometry(hs, ws, hm, wm, opts.CropPct)
	}
	parallel.For(len(indices), 4, func(lo, hi int) {
		rz := newResizer(hs, ws, hr, wr, opts.Interp)
		src := make([]uint8, cs*hs*ws) // augmented source
		gray := make([]uint8, hs*ws)   // luma plane (3 → 1)
		plane := make([]float32, hm*wm)
		full := plane // the resize's output, before the crop
		if hr != hm || wr != wm {
			full = make([]float32, hr*wr)
		}
		resize := func(src []uint8) {
			rz.resize(src, full)
			if hr != hm || wr != wm {
				for y := range hm {
					copy(plane[y*wm:(y+1)*wm], full[(top+y)*wr+left:])
				}
			}
		}
		for b := lo; b < hi; b++ {
			img := ds.Image(indices[b])
			if aug != nil {
				augmentInto(src, img, cs, hs, ws, aug[b])
				img = src
			}
			out := dst[b*per : (b+1)*per]
			switch {
			case cs == 3 && cm == 1:
				luma(gray, img, hs*ws)
				resize(gray)
				affineInto(out, plane, scale[0], bias[0], rz.needsClamp)
			case cs == 1 && cm == 3:
				resize(img)
				for c := 0; c < 3; c++ {
					affineInto(out[c*hm*wm:(c+1)*hm*wm], plane, scale[c], bias[c], rz.needsClamp)
				}
			default:
				for c := 0; c < cm; c++ {
					resize(img[c*hs*ws : (c+1)*hs*ws])
					affineInto(out[c*hm*wm:(c+1)*hm*wm], plane, scale[c], bias[c], rz.needsClamp)
				}
			}
		}
	})
	return dst, nil
}

// affine folds scaling and normalisation: x = v·scale[c] + bias[c] with
// scale = 1/(255·std), bias = -mean/std.
func affine(c int, mean, std []float32) (scale, bias []float32, err error) {
	get := func(v []float32, i int, def float32, what string) (float32, error) {
		switch len(v) {
		case 0:
			return def, nil
		case 1:
			return v[0], nil
		case c:
			return v[i], nil
		}
		return 0, dataErr("preprocess: %d %s values for %d channels", len(v), what, c)
	}
	scale, bias = make([]float32, c), make([]float32, c)
	for i := 0; i < c; i++ {
		m, err := get(mean, i, 0, "mean")
		if err != nil {
			return nil, nil, err
		}
		s, err := get(std, i, 1, "std")
		if err != nil {
			return nil, nil, err
		}
		if !(s > 0) {
			return nil, nil, dataErr("preprocess: std %v of channel %d is not positive", s, i)
		}
		scale[i] = 1 / (255 * s)
		bias[i] = -m / s
	}
	return scale, bias, nil
}

// affineInto: out = clamp(v, 0, 255)·scale + bias, clamping only if asked.
func affineInto(out, plane []float32, scale, bias float32, clamp bool) {
	out = out[:len(plane)]
	if !clamp {
		for i, v := range plane {
			out[i] = v*scale + bias
		}
		return
	}
	for i, v := range plane {
		if v < 0 {
			v = 0
		} else if v > 255 {
			v = 255
		}
		out[i] = v*scale + bias
	}
}

// luma: gray[p] = 0.299 R + 0.587 G + 0.114 B in PIL's convert("L")
// fixed point (lumaOf), the rule ReadImage uses too.
func luma(gray, rgb []uint8, hw int) {
	r, g, b := rgb[:hw], rgb[hw:2*hw], rgb[2*hw:3*hw]
	for p := range gray[:hw] {
		gray[p] = lumaOf(r[p], g[p], b[p])
	}
}

// augmentInto writes img shifted by (dx,dy) with zero fill, then flipped
// horizontally if a.flip: dst(y,x) = img(y+dy, x'+dx), x' = W-1-x if flipped.
func augmentInto(dst, img []uint8, c, h, w int, a augment) {
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			row := dst[(ch*h+y)*w : (ch*h+y+1)*w]
			sy := y + a.dy
			if sy < 0 || sy >= h {
				clear(row)
				continue
			}
			in := img[(ch*h+sy)*w : (ch*h+sy+1)*w]
			for x := range row {
				sx := x
				if a.flip {
					sx = w - 1 - x
				}
				sx += a.dx
				if sx < 0 || sx >= w {
					row[x] = 0
				} else {
					row[x] = in[sx]
				}
			}
		}
	}
}
