package data

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/glora/glora/internal/parallel"
)

// FolderOptions configures LoadFolder.
type FolderOptions struct {
	// H, W: every image is resized to H×W (Interp, antialiased when
	// shrinking). 0 (both) = the size of the first image (in sorted order).
	H, W int
	// Channels: 1 (grayscale, luma 0.299R+0.587G+0.114B) or 3 (RGB,
	// grayscale repeated). 0 = 1 if every image is grayscale, else 3.
	Channels int
	Interp   Interp
	// Classes fixes the class list and order (e.g. the training split's,
	// when loading its test split); a class sub-folder not in it is an error,
	// a class of it without a folder is allowed. nil = the sub-folders,
	// sorted by name (as torchvision's ImageFolder).
	Classes []string
}

var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true}

type folderItem struct {
	path  string
	label int
}

// LoadFolder loads dir/CLASS/*.{png,jpg,jpeg}: one sub-folder per class,
// files of other extensions and hidden files ignored. A file that does not
// decode is an error naming it.
func LoadFolder(dir string, opt FolderOptions) (*Dataset, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: image folder: %w", ErrData, err)
	}
	var found []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			found = append(found, e.Name())
		}
	}
	slices.Sort(found)
	classes := opt.Classes
	if classes == nil {
		classes = found
	}
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	var items []folderItem
	for _, c := range found {
		label, ok := index[c]
		if !ok {
			return nil, dataErr("image folder %s: class folder %q is not one of the classes %v", dir, c, classes)
		}
		files, err := os.ReadDir(filepath.Join(dir, c))
		if err != nil {
			return nil, fmt.Errorf("%w: image folder: %w", ErrData, err)
		}
		for _, f := range files {
			name := f.Name()
			if f.IsDir() || strings.HasPrefix(name, ".") || !imageExts[strings.ToLower(filepath.Ext(name))] {
				continue
			}
			items = append(items, folderItem{filepath.Join(dir, c, name), label})
		}
	}
	if len(classes) == 0 {
		return nil, dataErr("image folder %s: no class sub-folders", dir)
	}
	if len(items) == 0 {
		return nil, dataErr("image folder %s: no .png/.jpg/.jpeg images in its class sub-folders", dir)
	}

	// Pass 1: headers only, for the size and colour model.
	cfgs := make([]image.Config, len(items))
	errs := make([]error, len(items))
	parallel.For(len(items), 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			cfgs[i], errs[i] = decodeConfig(items[i].path)
		}
	})
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	h, w := opt.H, opt.W
	if h <= 0 || w <= 0 {
		h, w = cfgs[0].Height, cfgs[0].Width
	}
	c := opt.Channels
	if c == 0 {
		c = 1
		for _, cfg := range cfgs {
			if cfg.ColorModel != color.GrayModel && cfg.ColorModel != color.Gray16Model {
				c = 3
				break
			}
		}
	}
	if c != 1 && c != 3 {
		return nil, dataErr("image folder %s: %d channels requested, want 1 or 3", dir, c)
	}
	// Pass 2: decode, convert and resize straight into the dataset, so only
	// a few decoded images are alive at a time.
	d := &Dataset{Name: filepath.Base(dir), Classes: classes, C: c, H: h, W: w,
		Pixels: make([]uint8, len(items)*c*h*w), Labels: make([]int, len(items))}
	parallel.For(len(items), 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			im, err := decodeImage(items[i].path)
			if err != nil {
				errs[i] = err
				continue
			}
			chw, ih, iw := toCHW(im, c)
			copy(d.Image(i), resizeU8(chw, c, ih, iw, h, w, opt.Interp))
			d.Labels[i] = items[i].label
		}
	})
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	return d, nil
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
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
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > 1<<15 || cfg.Height > 1<<15 {
		return cfg, dataErr("image %s: bad size %dx%d", path, cfg.Width, cfg.Height)
	}
	return cfg, nil
}

func decodeImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrData, err)
	}
	defer f.Close()
	im, _, err := image.Decode(f)
	if err != nil {
		return nil, dataErr("image %s: %v", path, err)
	}
	if b := im.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, dataErr("image %s: empty", path)
	}
	return im, nil
}

// toCHW converts an image to (c,h,w) uint8: c=1 luma, c=3 RGB. Alpha is
// dropped (colours are composited on black, as Go's premultiplied colours).
func toCHW(im image.Image, c int) ([]uint8, int, int) {
	b := im.Bounds()
	h, w := b.Dy(), b.Dx()
	out := make([]uint8, c*h*w)
	hw := h * w
	switch g := im.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := g.Pix[y*g.Stride : y*g.Stride+w]
			for ch := 0; ch < c; ch++ {
				copy(out[ch*hw+y*w:], row)
			}
		}
		return out, h, w
	case *image.YCbCr: // JPEG: Y is the luma 0.299R+0.587G+0.114B already
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := y*w + x
				yi := g.YOffset(b.Min.X+x, b.Min.Y+y)
				if c == 1 {
					out[p] = g.Y[yi]
					continue
				}
				ci := g.COffset(b.Min.X+x, b.Min.Y+y)
				out[p], out[hw+p], out[2*hw+p] = color.YCbCrToRGB(g.Y[yi], g.Cb[ci], g.Cr[ci])
			}
		}
		return out, h, w
	case *image.RGBA:
		if c == 3 {
			for y := 0; y < h; y++ {
				row := g.Pix[y*g.Stride : y*g.Stride+4*w]
				for x := 0; x < w; x++ {
					p := y*w + x
					out[p], out[hw+p], out[2*hw+p] = row[4*x], row[4*x+1], row[4*x+2]
				}
			}
			return out, h, w
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := y*w + x
			if c == 1 {
				out[p] = color.GrayModel.Convert(im.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
				continue
			}
			r, g, bl, _ := im.At(b.Min.X+x, b.Min.Y+y).RGBA()
			out[p], out[hw+p], out[2*hw+p] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
	return out, h, w
}
