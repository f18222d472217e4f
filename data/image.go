package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"math"
	"os"
	"path/filepath"
	"strings"
)

// maxImagePixels bounds the size of an image file's picture, checked from
// its header before it is decoded (a small file can claim a huge picture).
const maxImagePixels = 1 << 28

// ImageInfo describes an image file as it was before ReadImage converted it.
type ImageInfo struct {
	W, H  int  // size in pixels
	Color bool // stored in colour (RGB, YCbCr, a colour palette), not grey
	Alpha bool // has pixels that are not fully opaque
}

// IsImageFile reports whether name has an extension ReadImage decodes
// (.png, .jpg, .jpeg, any case) and is not hidden.
func IsImageFile(name string) bool {
	base := filepath.Base(name)
	if strings.HasPrefix(base, ".") {
		return false
	}
	switch strings.ToLower(filepath.Ext(base)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// ReadImage decodes the PNG or JPEG file at path into what the folder loader
// stores for it: c channels (1: grey, RGB reduced to luma 0.299R + 0.587G +
// 0.114B as PIL's convert("L"); 3: RGB, grey repeated), pixels that are not
// opaque composited on white, resized to h×w with interp (antialiased when
// shrinking), as (c,h,w) uint8. Only one decoded picture is alive during
// the call. Errors wrap ErrData and name the file.
//
// cropPct 0 squashes the image to h×w; otherwise it is timm's evaluation
// transform: the shorter side resized to floor(min(h, w)/cropPct), the
// centre h×w cut out (the model's pretrained_cfg crop_pct).
func ReadImage(path string, c, h, w int, interp Interp, cropPct float64) ([]uint8, ImageInfo, error) {
	if c != 1 && c != 3 {
		return nil, ImageInfo{}, dataErr("image %s: %d channels requested, want 1 or 3", path, c)
	}
	if h <= 0 || w <= 0 || h > 1<<14 || w > 1<<14 {
		return nil, ImageInfo{}, dataErr("image %s: bad target size %dx%d", path, h, w)
	}
	out := make([]uint8, c*h*w)
	info, err := readImageInto(out, path, c, h, w, interp, cropPct)
	if err != nil {
		return nil, info, err
	}
	return out, info, nil
}

// readImageInto is ReadImage writing into dst (len c·h·w).
func readImageInto(dst []uint8, path string, c, h, w int, interp Interp, cropPct float64) (ImageInfo, error) {
	im, err := decodeImage(path)
	if err != nil {
		return ImageInfo{}, err
	}
	chw, info := toCHW(im, c)
	if info.H == h && info.W == w && cropPct <= 0 {
		copy(dst, chw)
		return info, nil
	}
	copy(dst, resizeCropU8(chw, c, info.H, info.W, h, w, interp, cropPct))
	return info, nil
}

func decodeConfig(path string) (image.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Config{}, fmt.Errorf("%w: %w", ErrData, err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return cfg, dataErr("image %s: %v", path, err)
	}
	return cfg, checkSize(path, cfg)
}

func checkSize(path string, cfg image.Config) error {
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > 1<<15 || cfg.Height > 1<<15 ||
		cfg.Width*cfg.Height > maxImagePixels {
		return dataErr("image %s: bad size %dx%d", path, cfg.Width, cfg.Height)
	}
	return nil
}

// decodeImage reads the file once, checks the size its header claims and
// decodes it.
func decodeImage(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrData, err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, dataErr("image %s: %v", path, err)
	}
	if err := checkSize(path, cfg); err != nil {
		return nil, err
	}
	im, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, dataErr("image %s: %v", path, err)
	}
	if b := im.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, dataErr("image %s: empty", path)
	}
	return im, nil
}

// lumaOf is PIL's convert("L"): (19595 R + 38470 G + 7471 B + 2^15) >> 16,
// the ITU-R BT.601 weights 0.299, 0.587, 0.114 in 16-bit fixed point.
func lumaOf(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 1<<15) >> 16)
}

// onWhite composites a non-premultiplied 8-bit value with alpha a on white.
func onWhite(v, a uint8) uint8 {
	return uint8((uint32(v)*uint32(a) + 255*(255-uint32(a)) + 127) / 255)
}

// toCHW converts an image to (c,h,w) uint8 at its own size: c=1 luma, c=3
// RGB (grey repeated); pixels that are not opaque are composited on white.
func toCHW(im image.Image, c int) ([]uint8, ImageInfo) {
	b := im.Bounds()
	h, w := b.Dy(), b.Dx()
	info := ImageInfo{W: w, H: h, Color: isColor(im)}
	if o, ok := im.(interface{ Opaque() bool }); ok {
		info.Alpha = !o.Opaque()
	} else {
		info.Alpha = true
	}
	out := make([]uint8, c*h*w)
	hw := h * w
	set := func(p int, r, g, bl uint8) {
		if c == 1 {
			out[p] = lumaOf(r, g, bl)
		} else {
			out[p], out[hw+p], out[2*hw+p] = r, g, bl
		}
	}
	switch g := im.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := g.Pix[y*g.Stride : y*g.Stride+w]
			for ch := 0; ch < c; ch++ {
				copy(out[ch*hw+y*w:], row)
			}
		}
		return out, info
	case *image.YCbCr: // JPEG: to RGB first, as PIL decodes it
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := g.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := g.COffset(b.Min.X+x, b.Min.Y+y)
				r, gg, bl := color.YCbCrToRGB(g.Y[yi], g.Cb[ci], g.Cr[ci])
				set(y*w+x, r, gg, bl)
			}
		}
		return out, info
	case *image.NRGBA: // PNG with alpha
		for y := 0; y < h; y++ {
			row := g.Pix[y*g.Stride : y*g.Stride+4*w]
			for x := 0; x < w; x++ {
				px := row[4*x : 4*x+4]
				a := px[3]
				set(y*w+x, onWhite(px[0], a), onWhite(px[1], a), onWhite(px[2], a))
			}
		}
		return out, info
	case *image.RGBA: // premultiplied: on white is v + 255 - a
		for y := 0; y < h; y++ {
			row := g.Pix[y*g.Stride : y*g.Stride+4*w]
			for x := 0; x < w; x++ {
				px := row[4*x : 4*x+4]
				k := 255 - px[3]
				set(y*w+x, px[0]+k, px[1]+k, px[2]+k)
			}
		}
		return out, info
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, a := im.At(b.Min.X+x, b.Min.Y+y).RGBA() // 16-bit, premultiplied
			k := 0xffff - a
			set(y*w+x, uint8((r+k)>>8), uint8((g+k)>>8), uint8((bl+k)>>8))
		}
	}
	return out, info
}

// isColor reports whether im's colour model holds colour, as opposed to grey
// (a palette counts as grey when every entry is).
func isColor(im image.Image) bool {
	switch im.(type) {
	case *image.Gray, *image.Gray16:
		return false
	case *image.Paletted:
		for _, e := range im.(*image.Paletted).Palette {
			r, g, b, _ := e.RGBA()
			if r != g || g != b {
				return true
			}
		}
		return false
	}
	return true
}

// Conversions tallies what ReadImage did to a set of images read at one
// target size, for a one-line report (String).
type Conversions struct {
	C, H, W int     // the target channels and size
	Interp  Interp  // the resampling filter
	CropPct float64 // > 0: resized as timm's evaluation transform with this crop fraction
	N       int     // images read
	ToGrey  int     // colour images reduced to luma
	ToRGB   int     // grey images repeated to three channels
	OnWhite int     // images with transparency composited on white
	Resized int     // images whose size was not H×W

	minW, minH, maxW, maxH int
}

// Add counts one image.
func (cv *Conversions) Add(info ImageInfo) {
	cv.N++
	switch {
	case cv.C == 1 && info.Color:
		cv.ToGrey++
	case cv.C == 3 && !info.Color:
		cv.ToRGB++
	}
	if info.Alpha {
		cv.OnWhite++
	}
	if info.W != cv.W || info.H != cv.H || cv.CropPct > 0 {
		if cv.Resized == 0 {
			cv.minW, cv.minH, cv.maxW, cv.maxH = info.W, info.H, info.W, info.H
		}
		cv.Resized++
		if info.W*info.H < cv.minW*cv.minH {
			cv.minW, cv.minH = info.W, info.H
		}
		if info.W*info.H > cv.maxW*cv.maxH {
			cv.maxW, cv.maxH = info.W, info.H
		}
	}
}

// String describes the conversions, e.g. "60 colour images converted to
// grey (luma 0.299R+0.587G+0.114B), 60 resized from 2000×1500 to 28×28
// (bicubic)"; "" when every image was stored as it was.
func (cv *Conversions) String() string {
	var parts []string
	if cv.ToGrey > 0 {
		parts = append(parts, fmt.Sprintf("%d colour %s converted to grey (luma 0.299R+0.587G+0.114B)", cv.ToGrey, images(cv.ToGrey)))
	}
	if cv.ToRGB > 0 {
		parts = append(parts, fmt.Sprintf("%d grey %s repeated to RGB", cv.ToRGB, images(cv.ToRGB)))
	}
	if cv.OnWhite > 0 {
		parts = append(parts, fmt.Sprintf("%d %s with transparency composited on white", cv.OnWhite, images(cv.OnWhite)))
	}
	if cv.Resized > 0 {
		from := fmt.Sprintf("%d×%d", cv.minW, cv.minH)
		if cv.minW != cv.maxW || cv.minH != cv.maxH {
			from += fmt.Sprintf("…%d×%d", cv.maxW, cv.maxH)
		}
		how := fmt.Sprint(cv.Interp)
		if cv.CropPct > 0 {
			how += fmt.Sprintf("; the shorter side to %d, then the centre cut out: crop_pct %g, as the model's preprocessing", int(math.Floor(float64(min(cv.H, cv.W))/cv.CropPct)), cv.CropPct)
		} else {
			how += "; squashed, the aspect ratio not kept"
		}
		parts = append(parts, fmt.Sprintf("%d %s resized from %s to %d×%d (%s)", cv.Resized, images(cv.Resized), from, cv.W, cv.H, how))
	}
	return strings.Join(parts, ", ")
}

func images(n int) string {
	if n == 1 {
		return "image"
	}
	return "images"
}
