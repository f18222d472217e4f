package data

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/glora/glora/internal/parallel"
)

// FolderOptions configures LoadFolder.
type FolderOptions struct {
	// H, W: every image is resized to H×W (Interp, antialiased when
	// shrinking) as it is read, so only H×W pixels per image are kept.
	// 0 (both) = the size of the first image (in sorted order).
	H, W int
	// Channels: 1 (grey; RGB reduced to luma 0.299R+0.587G+0.114B, as
	// PIL's convert("L")) or 3 (RGB; grey repeated). 0 = 1 if every image
	// is grey, else 3. Transparent pixels are composited on white.
	Channels int
	Interp   Interp
	// CropPct > 0 resizes as timm's evaluation transform (the shorter side
	// to floor(min(H, W)/CropPct), the centre H×W cut out) instead of
	// squashing every image to H×W: a timm model's pretrained_cfg crop_pct.
	CropPct float64
	// Classes fixes the class list and order (e.g. the training split's,
	// when loading its test split); a class sub-folder not in it is an error,
	// a class of it without a folder is allowed. nil = the sub-folders that
	// hold images, sorted by name (as torchvision's ImageFolder); there must
	// be at least two.
	Classes []string
	// Log, if not nil, receives one line saying what conversions were
	// applied (colour to grey, resizing, …) and warnings (class folders
	// without images).
	Log io.Writer
}

type folderItem struct {
	path  string
	label int
}

// LoadFolder loads dir/CLASS/*.{png,jpg,jpeg}: one sub-folder per class,
// files of other extensions and hidden files ignored (Log counts the
// former, by extension). Each image is decoded,
// converted and resized to the target as it is read (ReadImage), so memory
// holds the dataset at the target size plus a few decoded images. A class
// folder without images is left out with a warning (to Log); fewer than two
// classes with images is an error. A file that does not decode is an error
// naming it.
func LoadFolder(dir string, opt FolderOptions) (*Dataset, error) {
	items, classes, nested, ignored, err := folderItems(dir, opt)
	if err != nil {
		return nil, err
	}
	c, h, w, err := folderShape(dir, items, opt)
	if err != nil {
		return nil, err
	}
	// Decode, convert and resize straight into the dataset, so only a few
	// decoded images are alive at a time.
	d := &Dataset{Name: filepath.Base(dir), Classes: classes, C: c, H: h, W: w,
		Pixels: make([]uint8, len(items)*c*h*w), Labels: make([]int, len(items))}
	infos := make([]ImageInfo, len(items))
	errs := make([]error, len(items))
	parallel.For(len(items), 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			infos[i], errs[i] = readImageInto(d.Image(i), items[i].path, c, h, w, opt.Interp, opt.CropPct)
			d.Labels[i] = items[i].label
		}
	})
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	if opt.Log != nil {
		read := fmt.Sprintf("%d %s in %d classes", len(items), plural(len(items), "image", "images"), len(classes))
		if nested > 0 {
			read += fmt.Sprintf(" (%d in sub-folders of the class folders)", nested)
		}
		cv := Conversions{C: c, H: h, W: w, Interp: opt.Interp, CropPct: opt.CropPct}
		for _, in := range infos {
			cv.Add(in)
		}
		if s := cv.String(); s != "" {
			read += ": " + s
		}
		if s := IgnoredFiles(ignored); s != "" {
			read += "; " + s
		}
		fmt.Fprintf(opt.Log, "folder %s: %s\n", dir, read)
	}
	return d, nil
}

// folderItems lists the folder's images with their labels (class folders
// in name order, or opt.Classes), the classes, how many images lie in
// sub-folders of the class folders, and the files in the class folders
// that are not images, by extension; it refuses a folder that is not a
// classification data set (no class folders, images loose, one class).
func folderItems(dir string, opt FolderOptions) (items []folderItem, classes []string, nested int, ignored map[string]int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, 0, nil, fmt.Errorf("%w: image folder: %w", ErrData, err)
	}
	var found []string
	loose := 0 // images directly in dir, outside any class folder
	for _, e := range entries {
		isDir := e.IsDir() || e.Type()&os.ModeSymlink != 0 && isDir(filepath.Join(dir, e.Name())) // a class folder may be a link
		switch {
		case isDir && !strings.HasPrefix(e.Name(), "."):
			found = append(found, e.Name())
		case !isDir && IsImageFile(e.Name()):
			loose++
		}
	}
	slices.Sort(found)
	files := map[string][]string{}
	var empty []string
	ignored = map[string]int{}
	for _, c := range found {
		list, n, err := imagesUnder(filepath.Join(dir, c), ignored)
		if err != nil {
			return nil, nil, 0, nil, fmt.Errorf("%w: image folder: %w", ErrData, err)
		}
		files[c], nested = list, nested+n
		if len(files[c]) == 0 {
			empty = append(empty, c)
		}
	}
	classes = opt.Classes
	if classes == nil {
		for _, c := range found {
			if len(files[c]) > 0 {
				classes = append(classes, c)
			}
		}
	}
	if len(empty) > 0 && opt.Log != nil {
		what := "left out"
		if opt.Classes != nil {
			what = "no images of these classes"
		}
		fmt.Fprintf(opt.Log, "folder %s: warning: class %s %s %s no .png/.jpg/.jpeg images (%s)\n",
			dir, plural(len(empty), "folder", "folders"), strings.Join(quoteAll(empty), ", "),
			plural(len(empty), "has", "have"), what)
	}
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	for _, c := range found {
		label, ok := index[c]
		if !ok {
			if len(files[c]) == 0 {
				continue
			}
			return nil, nil, 0, nil, dataErr("image folder %s: class folder %q is not one of the classes %v", dir, c, classes)
		}
		for _, f := range files[c] {
			items = append(items, folderItem{f, label})
		}
	}
	switch {
	case len(found) == 0 && loose > 0:
		return nil, nil, 0, nil, dataErr("image folder %s: %d images but no class sub-folders (put the images of each class in a sub-folder named after it)", dir, loose)
	case len(found) == 0:
		return nil, nil, 0, nil, dataErr("image folder %s: no class sub-folders", dir)
	case len(items) == 0:
		return nil, nil, 0, nil, dataErr("image folder %s: no .png/.jpg/.jpeg images in its class sub-folders", dir)
	case opt.Classes == nil && len(classes) == 1:
		return nil, nil, 0, nil, dataErr("image folder %s: only one class folder (%q) holds images; a classifier needs at least two classes", dir, classes[0])
	}
	return items, classes, nested, ignored, nil
}

// IgnoredFiles says which files were left out as not images, given their
// count by extension (IgnoredExt's keys); "" when none: "ignored 3 files
// that are not .png, .jpg or .jpeg (.gif 2, .txt 1)".
func IgnoredFiles(ignored map[string]int) string {
	n := 0
	var exts []string
	for e, k := range ignored {
		n += k
		exts = append(exts, e)
	}
	if n == 0 {
		return ""
	}
	slices.Sort(exts)
	parts := make([]string, len(exts))
	for i, e := range exts {
		parts[i] = fmt.Sprintf("%s %d", e, ignored[e])
	}
	return fmt.Sprintf("ignored %d %s that %s not .png, .jpg or .jpeg (%s)", n, plural(n, "file", "files"), plural(n, "is", "are"), strings.Join(parts, ", "))
}

// folderShape is the channels and size the images are read at: opt's,
// and what opt leaves open from the images' headers (the first image's
// size; 3 channels when any image has colour).
func folderShape(dir string, items []folderItem, opt FolderOptions) (c, h, w int, err error) {
	h, w, c = opt.H, opt.W, opt.Channels
	if h <= 0 || w <= 0 || c == 0 {
		// Pass 1, headers only.
		cfgs := make([]image.Config, len(items))
		errs := make([]error, len(items))
		parallel.For(len(items), 16, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				cfgs[i], errs[i] = decodeConfig(items[i].path)
			}
		})
		if err := firstErr(errs); err != nil {
			return 0, 0, 0, err
		}
		if h <= 0 || w <= 0 {
			h, w = cfgs[0].Height, cfgs[0].Width
		}
		if c == 0 {
			c = 1
			for _, cfg := range cfgs {
				if cfg.ColorModel != color.GrayModel && cfg.ColorModel != color.Gray16Model {
					c = 3
					break
				}
			}
		}
	}
	if c != 1 && c != 3 {
		return 0, 0, 0, dataErr("image folder %s: %d channels requested, want 1 or 3", dir, c)
	}
	if h > 1<<14 || w > 1<<14 {
		return 0, 0, 0, dataErr("image folder %s: bad target size %dx%d", dir, h, w)
	}
	return c, h, w, nil
}

// imagesUnder lists the image files under a class folder, as torchvision's
// ImageFolder does: in its sub-folders too, following links to folders (a
// folder reached twice, through a link cycle, is read once), hidden files
// and folders left out, in sorted path order. nested counts those below
// the class folder itself; the other files (not hidden, not images) are
// counted in ignored by extension.
func imagesUnder(root string, ignored map[string]int) (files []string, nested int, err error) {
	seen := map[string]bool{}
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if seen[real] {
			return nil
		}
		seen[real] = true
		list, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, f := range list { // ReadDir sorts by name
			p := filepath.Join(dir, f.Name())
			switch {
			case strings.HasPrefix(f.Name(), "."):
			case f.IsDir() || f.Type()&os.ModeSymlink != 0 && isDir(p):
				if err := walk(p, depth+1); err != nil {
					return err
				}
			case IsImageFile(f.Name()):
				files = append(files, p)
				if depth > 0 {
					nested++
				}
			default:
				ignored[IgnoredExt(f.Name())]++
			}
		}
		return nil
	}
	return files, nested, walk(root, 0)
}

// ImagesUnder lists the image files under dir as LoadFolder reads a class
// folder's: in its sub-folders too, links to folders followed (a folder
// reached twice read once), hidden files and folders left out, in sorted
// path order; the other files are counted in ignored by IgnoredExt.
func ImagesUnder(dir string, ignored map[string]int) ([]string, error) {
	files, _, err := imagesUnder(dir, ignored)
	return files, err
}

// IgnoredExt is the key IgnoredFiles counts a file that is not an image
// under: its extension in lower case, or "no extension".
func IgnoredExt(name string) string {
	if ext := strings.ToLower(filepath.Ext(name)); ext != "" {
		return ext
	}
	return "no extension"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	return out
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
