package data

import (
	"math"
	"math/rand/v2"
	"strings"

	"github.com/glora/glora/internal/parallel"
)

// Domain shifts: test-only variants of a data set. The training split stays
// the original's, so a model adapted on it is scored on shifted test images
// (as ImageNet → ImageNet-V2/-Sketch/-R). Every shift is integer arithmetic
// on the uint8 pixels, seeded per image by PCG(shift seed, image index), so
// it gives the same bytes on every machine.

// Shifts lists the domain shifts, by the name used in specs (mnist:NAME).
var Shifts = []string{"rotate30", "invert", "noise", "blur"}

const (
	// ShiftNoiseSigma is the standard deviation of the "noise" shift, in
	// grey levels (0.2 of the 0…255 range).
	ShiftNoiseSigma = 51
	// ShiftBlurSigma is the standard deviation, in pixels, of the "blur"
	// shift's Gaussian kernel (radius 3, edges replicated).
	ShiftBlurSigma = 1.0
	// ShiftRotateMax is the largest rotation of the "rotate30" shift, in
	// degrees: each image turns by an angle drawn uniformly from
	// [-30°, 30°] in steps of 0.1°, bilinear, about its centre, with black
	// (0) filling what comes from outside.
	ShiftRotateMax = 30

	shiftSeed = 0x7368696674000001
)

// blurKernel is exp(-x²/2)·2^16 rounded, x = 0…3: the Gaussian of σ = 1 px
// (ShiftBlurSigma) in fixed point, written out so that no machine computes
// it differently.
var blurKernel = [4]int64{65536, 39750, 8869, 728}

// isShift reports whether name is one of Shifts.
func isShift(name string) bool {
	for _, s := range Shifts {
		if s == name {
			return true
		}
	}
	return false
}

// ApplyShift returns a copy of d with the named shift (one of Shifts)
// applied to every image; name "" is a plain copy. The dataset's Name
// becomes "NAME:SHIFT".
func ApplyShift(d *Dataset, name string) (*Dataset, error) {
	if name != "" && !isShift(name) {
		return nil, dataErr("unknown domain shift %q (want %s)", name, strings.Join(Shifts, ", "))
	}
	out := &Dataset{Name: d.Name, Classes: d.Classes, C: d.C, H: d.H, W: d.W,
		Pixels: make([]uint8, len(d.Pixels)), Labels: append([]int(nil), d.Labels...)}
	copy(out.Pixels, d.Pixels)
	if name == "" {
		return out, nil
	}
	out.Name = d.Name + ":" + name
	hw := d.H * d.W
	parallel.For(d.Len(), 64, func(lo, hi int) {
		tmp := make([]int64, hw)
		for i := lo; i < hi; i++ {
			rng := rand.New(rand.NewPCG(shiftSeed, uint64(i)))
			img := out.Image(i)
			switch name {
			case "invert":
				for p, v := range img {
					img[p] = 255 - v
				}
			case "noise":
				for p, v := range img {
					img[p] = clampU8(int64(v) + gaussQ(rng, ShiftNoiseSigma))
				}
			case "blur":
				for c := 0; c < d.C; c++ {
					blurPlane(img[c*hw:(c+1)*hw], d.H, d.W, tmp)
				}
			case "rotate30":
				tenths := rng.IntN(2*10*ShiftRotateMax+1) - 10*ShiftRotateMax
				cos, sin := cosSinQ16(tenths)
				src := append([]uint8(nil), img...)
				for c := 0; c < d.C; c++ {
					rotatePlane(img[c*hw:(c+1)*hw], src[c*hw:(c+1)*hw], d.H, d.W, cos, sin)
				}
			}
		}
	})
	return out, nil
}

func clampU8(v int64) uint8 {
	return uint8(min(max(v, 0), 255))
}

// divRound is a/b rounded to nearest (halves up), b > 0, for any sign of a.
func divRound(a, b int64) int64 {
	n := 2*a + b
	q := n / (2 * b)
	if n%(2*b) < 0 {
		q--
	}
	return q
}

// gaussQ returns an approximately normal integer of standard deviation
// sigma: the sum of 12 uniform 16-bit integers (Irwin–Hall, the classic
// approximation; exactly mean 0 and variance sigma² up to rounding, tails
// cut at ±6σ), scaled and rounded, in integer arithmetic only.
func gaussQ(rng *rand.Rand, sigma int64) int64 {
	var s int64
	for k := 0; k < 3; k++ {
		u := rng.Uint64()
		s += int64(u&0xffff) + int64(u>>16&0xffff) + int64(u>>32&0xffff) + int64(u>>48)
	}
	// Each term has mean 32767.5 and variance (2^32-1)/12, so 2s - 12·65535
	// has mean 0 and standard deviation ≈ 2^17.
	return divRound(sigma*(2*s-12*65535), 1<<17)
}

// cosSinQ16 returns cos and sin of tenths/10 degrees in 16-bit fixed point
// (rounded). TestTrigTableIsExact checks that no angle in a full turn lies
// near a rounding boundary, so the last-bit differences math.Cos may have
// between machines cannot change the result.
func cosSinQ16(tenths int) (cos, sin int64) {
	a := float64(tenths) * math.Pi / 1800
	return int64(math.Round(math.Cos(a) * 65536)), int64(math.Round(math.Sin(a) * 65536))
}

// rotatePlane writes src (h×w) rotated anticlockwise (as seen) by the angle
// whose cos and sin are given (Q16) about the image centre into dst:
// bilinear, 0 outside.
func rotatePlane(dst, src []uint8, h, w int, cos, sin int64) {
	cx, cy := int64(w-1)<<15, int64(h-1)<<15 // (w-1)/2, (h-1)/2 in Q16
	at := func(x, y int64) int64 {
		if x < 0 || y < 0 || x >= int64(w) || y >= int64(h) {
			return 0
		}
		return int64(src[y*int64(w)+x])
	}
	for y := 0; y < h; y++ {
		dy := int64(y)<<16 - cy
		for x := 0; x < w; x++ {
			dx := int64(x)<<16 - cx
			// The source of (x,y): rotate back by the angle. With y down,
			// an anticlockwise turn as seen maps (dx,dy) to
			// (cos·dx + sin·dy, -sin·dx + cos·dy); its inverse is used here.
			sx := (cos*dx-sin*dy)>>16 + cx
			sy := (sin*dx+cos*dy)>>16 + cy
			x0, y0 := sx>>16, sy>>16
			fx, fy := sx&0xffff, sy&0xffff
			top := at(x0, y0)*(65536-fx) + at(x0+1, y0)*fx
			bot := at(x0, y0+1)*(65536-fx) + at(x0+1, y0+1)*fx
			dst[y*w+x] = clampU8((top*(65536-fy) + bot*fy + 1<<31) >> 32)
		}
	}
}

// blurPlane blurs an h×w plane in place with the separable blurKernel,
// replicating the edge pixels; tmp holds h·w values.
func blurPlane(p []uint8, h, w int, tmp []int64) {
	var sum int64
	for k := -3; k <= 3; k++ {
		sum += blurKernel[max(k, -k)]
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var a int64
			for k := -3; k <= 3; k++ {
				xx := min(max(x+k, 0), w-1)
				a += blurKernel[max(k, -k)] * int64(p[y*w+xx])
			}
			tmp[y*w+x] = a
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var a int64
			for k := -3; k <= 3; k++ {
				yy := min(max(y+k, 0), h-1)
				a += blurKernel[max(k, -k)] * tmp[yy*w+x]
			}
			p[y*w+x] = clampU8(divRound(a, sum*sum))
		}
	}
}

// mnistShifted is the mnist:SHIFT spec: MNIST's training split as is, its
// test split shifted.
func mnistShifted(shift string) (train, test *Dataset, err error) {
	if !isShift(shift) {
		return nil, nil, dataErr("unknown mnist variant %q (want mnist:%s)", "mnist:"+shift, strings.Join(Shifts, ", mnist:"))
	}
	if train, test, err = MNIST(); err != nil {
		return nil, nil, err
	}
	if test, err = ApplyShift(test, shift); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}
