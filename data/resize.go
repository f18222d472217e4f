package data

import (
	"fmt"
	"math"
	"sync"
)

// Interp selects the resampling filter of a resize.
type Interp int

const (
	// Bilinear: triangle filter, tent(x) = max(0, 1-|x|).
	Bilinear Interp = iota
	// Bicubic: Keys cubic convolution with a = -0.5 (as PIL, and as
	// torchvision's Resize of PIL images), support 2.
	Bicubic
)

func (i Interp) String() string {
	switch i {
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	}
	return fmt.Sprintf("Interp(%d)", int(i))
}

// ParseInterp maps "bilinear" / "bicubic" to an Interp.
func ParseInterp(s string) (Interp, error) {
	switch s {
	case "bilinear", "linear":
		return Bilinear, nil
	case "bicubic", "cubic":
		return Bicubic, nil
	}
	return 0, dataErr("unknown interpolation %q (want bilinear or bicubic)", s)
}

func (i Interp) support() float64 {
	if i == Bicubic {
		return 2
	}
	return 1
}

func (i Interp) kernel(x float64) float64 {
	x = math.Abs(x)
	if i == Bicubic {
		const a = -0.5
		switch {
		case x < 1:
			return ((a+2)*x-(a+3))*x*x + 1
		case x < 2:
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// weights1D are the resampling weights of one axis, src → dst samples:
//
//	out[i] = Σ_k w[i·taps+k] · in[start[i]+k],  k < count[i]
//
// computed as PIL does: sample centres at half-pixel positions
// (i+0.5)·src/dst, the filter widened by src/dst when shrinking
// (antialiasing), taps outside the image dropped and the rest renormalised
// to sum to 1 (so a constant image stays constant).
type weights1D struct {
	src, dst, taps int
	start, count   []int
	w              []float32
}

type weightsKey struct {
	src, dst int
	interp   Interp
}

var weightsCache sync.Map // weightsKey → *weights1D

func resizeWeights(src, dst int, interp Interp) *weights1D {
	key := weightsKey{src, dst, interp}
	if w, ok := weightsCache.Load(key); ok {
		return w.(*weights1D)
	}
	scale := float64(src) / float64(dst)
	fscale := max(scale, 1)
	support := interp.support() * fscale
	maxTaps := int(math.Ceil(support))*2 + 1
	los := make([]int, dst)
	ns := make([]int, dst)
	all := make([]float64, dst*maxTaps)
	taps := 1
	for i := 0; i < dst; i++ {
		tmp := all[i*maxTaps : (i+1)*maxTaps]
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), src)
		n := min(hi-lo, maxTaps)
		sum := 0.0
		for k := 0; k < n; k++ {
			tmp[k] = interp.kernel((float64(lo+k) - center + 0.5) / fscale)
			sum += tmp[k]
		}
		if sum == 0 { // cannot happen for these filters; keep a safe fallback
			tmp[0], sum, n = 1, 1, max(n, 1)
		}
		for k := 0; k < n; k++ {
			tmp[k] /= sum
		}
		// Drop zero-weight taps at both ends (bilinear keeps ≤ 2).
		for n > 1 && tmp[n-1] == 0 {
			n--
		}
		for n > 1 && tmp[0] == 0 {
			copy(tmp, tmp[1:n])
			lo++
			n--
		}
		los[i], ns[i] = lo, n
		taps = max(taps, n)
	}
	// Store every output with the same number of taps (zero-padded, the
	// window moved left at the right edge) so the inner loops have a fixed
	// length.
	ws := &weights1D{src: src, dst: dst, taps: taps,
		start: make([]int, dst), count: make([]int, dst), w: make([]float32, dst*taps)}
	for i := 0; i < dst; i++ {
		s := min(los[i], src-taps)
		off := los[i] - s
		ws.start[i], ws.count[i] = s, taps
		for k := 0; k < ns[i]; k++ {
			ws.w[i*taps+off+k] = float32(all[i*maxTaps+k])
		}
	}
	actual, _ := weightsCache.LoadOrStore(key, ws)
	return actual.(*weights1D)
}

// resizer resamples single-channel uint8 planes (hs,ws) to float32 planes
// (hd,wd) holding values on the 0…255 scale. Bilinear weights are convex, so
// the result stays in [0,255]; bicubic can overshoot and callers clamp
// (needsClamp) as an 8-bit pipeline would. It owns scratch space: one per
// goroutine.
type resizer struct {
	hs, ws, hd, wd int
	wx, wy         *weights1D // nil when that axis is unchanged
	tmp            []float32  // (hs, wd)
	row            []float32  // (ws) one source row as float
	needsClamp     bool       // some weight is negative
}

func newResizer(hs, ws, hd, wd int, interp Interp) *resizer {
	r := &resizer{hs: hs, ws: ws, hd: hd, wd: wd, tmp: make([]float32, hs*wd), row: make([]float32, ws)}
	if ws != wd {
		r.wx = resizeWeights(ws, wd, interp)
	}
	if hs != hd {
		r.wy = resizeWeights(hs, hd, interp)
	}
	for _, w := range []*weights1D{r.wx, r.wy} {
		if w != nil {
			for _, v := range w.w {
				r.needsClamp = r.needsClamp || v < 0
			}
		}
	}
	return r
}

// resize: src (hs,ws) uint8 → dst (hd,wd) float32, unclamped.
func (r *resizer) resize(src []uint8, dst []float32) {
	// Horizontal pass: src (hs,ws) → tmp (hs,wd).
	tmp := r.tmp
	if r.wx == nil {
		for i, v := range src[:r.hs*r.ws] {
			tmp[i] = float32(v)
		}
	} else {
		wx := r.wx
		row := r.row
		for y := 0; y < r.hs; y++ {
			for i, v := range src[y*r.ws : (y+1)*r.ws] {
				row[i] = float32(v)
			}
			out := tmp[y*r.wd : (y+1)*r.wd]
			switch wx.taps {
			case 2:
				w := wx.w[:2*len(out)]
				for x, s := range wx.start[:len(out)] {
					out[x] = w[2*x]*row[s] + w[2*x+1]*row[s+1]
				}
			case 4:
				w := wx.w[:4*len(out)]
				for x, s := range wx.start[:len(out)] {
					in := row[s : s+4]
					ww := w[4*x : 4*x+4]
					out[x] = ww[0]*in[0] + ww[1]*in[1] + ww[2]*in[2] + ww[3]*in[3]
				}
			default:
				t := wx.taps
				for x, s := range wx.start[:len(out)] {
					in := row[s : s+t]
					acc := float32(0)
					for k, wk := range wx.w[x*t : x*t+t] {
						acc += wk * in[k]
					}
					out[x] = acc
				}
			}
		}
	}
	// Vertical pass: tmp (hs,wd) → dst (hd,wd).
	dst = dst[:r.hd*r.wd]
	if r.wy == nil {
		copy(dst, tmp)
	} else {
		wy := r.wy
		for y := 0; y < r.hd; y++ {
			out := dst[y*r.wd : (y+1)*r.wd]
			s, n := wy.start[y], wy.count[y]
			w0 := wy.w[y*wy.taps]
			in := tmp[s*r.wd : (s+1)*r.wd]
			for x := range out {
				out[x] = w0 * in[x]
			}
			for k := 1; k < n; k++ {
				wk := wy.w[y*wy.taps+k]
				in := tmp[(s+k)*r.wd : (s+k+1)*r.wd]
				for x := range out {
					out[x] += wk * in[x]
				}
			}
		}
	}
}

// resizeU8 resamples a (c,hs,ws) uint8 image to (c,hd,wd) uint8, rounding.
func resizeU8(src []uint8, c, hs, ws, hd, wd int, interp Interp) []uint8 {
	out := make([]uint8, c*hd*wd)
	if hs == hd && ws == wd {
		copy(out, src)
		return out
	}
	r := newResizer(hs, ws, hd, wd, interp)
	plane := make([]float32, hd*wd)
	for ch := 0; ch < c; ch++ {
		r.resize(src[ch*hs*ws:(ch+1)*hs*ws], plane)
		o := out[ch*hd*wd : (ch+1)*hd*wd]
		for i, v := range plane {
			switch {
			case v <= 0:
				o[i] = 0
			case v >= 255:
				o[i] = 255
			default:
				o[i] = uint8(v + 0.5)
			}
		}
	}
	return out
}

// cropGeometry is timm's evaluation transform for a (hs, ws) source and an
// (h, w) target with crop fraction pct (crop_mode "center"): the shorter
// side resized to floor(min(h, w)/pct), the longer to keep the aspect ratio
// (int(s·long/short), as torchvision's Resize), then the centre h×w cut out
// (its corner rounded as torchvision's CenterCrop). It returns the
// intermediate size and the crop's corner.
func cropGeometry(hs, ws, h, w int, pct float64) (hi, wi, top, left int) {
	s := int(math.Floor(float64(min(h, w))/pct + 1e-9)) // (224/(224/256) is 256, not 255.99…)
	if hs <= ws {
		hi, wi = s, int(float64(s)*float64(ws)/float64(hs))
	} else {
		hi, wi = int(float64(s)*float64(hs)/float64(ws)), s
	}
	hi, wi = max(hi, h), max(wi, w)
	// torchvision rounds the corner with Python's round: halves to even.
	return hi, wi, int(math.RoundToEven(float64(hi-h) / 2)), int(math.RoundToEven(float64(wi-w) / 2))
}

// resizeCropU8 resamples a (c,hs,ws) uint8 image to (c,hd,wd): squashed
// when pct is 0, else by timm's evaluation transform (cropGeometry).
func resizeCropU8(src []uint8, c, hs, ws, hd, wd int, interp Interp, pct float64) []uint8 {
	if pct <= 0 {
		return resizeU8(src, c, hs, ws, hd, wd, interp)
	}
	hi, wi, top, left := cropGeometry(hs, ws, hd, wd, pct)
	mid := resizeU8(src, c, hs, ws, hi, wi, interp)
	out := make([]uint8, c*hd*wd)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < hd; y++ {
			row := mid[(ch*hi+top+y)*wi+left:]
			copy(out[(ch*hd+y)*wd:(ch*hd+y+1)*wd], row[:wd])
		}
	}
	return out
}
