package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
)

// ErrData is wrapped by every error this package returns about malformed
// input (files, arrays, specs), so callers can test errors.Is(err, ErrData).
var ErrData = errors.New("data")

func dataErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrData, fmt.Sprintf(format, args...))
}

// Dataset is an in-memory labelled image set. Images are stored as uint8
// (one byte per sample, 4× smaller than float32) in CHW layout:
//
//	Pixels: (N, C, H, W), pixel (n,c,y,x) at ((n·C+c)·H+y)·W+x
//	Labels: (N), each in [0, len(Classes))
//
// Batch converts them to normalised float32 model input.
type Dataset struct {
	Name    string
	Classes []string
	C, H, W int
	Pixels  []uint8
	Labels  []int
}

// Fingerprint identifies the data's content: its size, classes and an
// FNV-1a hash of every pixel and label, in one line that says what it
// counted ("1000 images of 1×28×28, 10 classes, fnv 3f2a…"). Two loads of
// the same files give the same fingerprint; any added, removed or changed
// image changes it.
func (d *Dataset) Fingerprint() string {
	h := fnv.New64a()
	h.Write(d.Pixels)
	var b [8]byte
	for _, l := range d.Labels {
		binary.LittleEndian.PutUint64(b[:], uint64(l))
		h.Write(b[:])
	}
	for _, c := range d.Classes {
		h.Write([]byte(c))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%d images of %d×%d×%d, %d classes, fnv %016x", d.Len(), d.C, d.H, d.W, len(d.Classes), h.Sum64())
}

// Len is the number of images N.
func (d *Dataset) Len() int { return len(d.Labels) }

// ImageSize is C·H·W, the number of bytes of one image.
func (d *Dataset) ImageSize() int { return d.C * d.H * d.W }

// Image returns the bytes of image i, (C,H,W), aliasing d.Pixels.
func (d *Dataset) Image(i int) []uint8 {
	s := d.ImageSize()
	return d.Pixels[i*s : (i+1)*s]
}

// NumClasses is len(Classes).
func (d *Dataset) NumClasses() int { return len(d.Classes) }

// Validate checks that the fields are consistent: positive dims, C in
// {1,3}, len(Pixels) = N·C·H·W and every label in [0, len(Classes)).
func (d *Dataset) Validate() error {
	if d == nil {
		return dataErr("nil dataset")
	}
	if d.C != 1 && d.C != 3 {
		return dataErr("dataset %q: %d channels, want 1 or 3", d.Name, d.C)
	}
	if d.H <= 0 || d.W <= 0 || d.H > 1<<16 || d.W > 1<<16 {
		return dataErr("dataset %q: bad image size %dx%d", d.Name, d.H, d.W)
	}
	if len(d.Classes) == 0 {
		return dataErr("dataset %q: no classes", d.Name)
	}
	if want := len(d.Labels) * d.ImageSize(); len(d.Pixels) != want {
		return dataErr("dataset %q: %d pixel bytes, want N·C·H·W = %d·%d·%d·%d = %d",
			d.Name, len(d.Pixels), len(d.Labels), d.C, d.H, d.W, want)
	}
	for i, l := range d.Labels {
		if l < 0 || l >= len(d.Classes) {
			return dataErr("dataset %q: label %d of image %d outside [0,%d)", d.Name, l, i, len(d.Classes))
		}
	}
	return nil
}

// ClassCounts returns the number of images of each class.
func (d *Dataset) ClassCounts() []int {
	n := make([]int, len(d.Classes))
	for _, l := range d.Labels {
		if l >= 0 && l < len(n) {
			n[l]++
		}
	}
	return n
}

// Subset returns a new dataset holding copies of images indices[0],
// indices[1], … in that order (repeats allowed). Out-of-range indices are an
// error.
func (d *Dataset) Subset(indices []int) (*Dataset, error) {
	s := d.ImageSize()
	out := &Dataset{Name: d.Name, Classes: d.Classes, C: d.C, H: d.H, W: d.W,
		Pixels: make([]uint8, len(indices)*s), Labels: make([]int, len(indices))}
	for j, i := range indices {
		if i < 0 || i >= d.Len() {
			return nil, dataErr("dataset %q: subset index %d outside [0,%d)", d.Name, i, d.Len())
		}
		copy(out.Pixels[j*s:(j+1)*s], d.Pixels[i*s:(i+1)*s])
		out.Labels[j] = d.Labels[i]
	}
	return out, nil
}

// FromArrays builds a dataset from uint8 pixels in (N,C,H,W) layout and
// labels, copying neither (the dataset aliases them). If classes is nil the
// classes are named "0", "1", … up to the largest label.
func FromArrays(name string, classes []string, c, h, w int, pixels []uint8, labels []int) (*Dataset, error) {
	if classes == nil {
		classes = numberedClasses(labels)
	}
	d := &Dataset{Name: name, Classes: classes, C: c, H: h, W: w, Pixels: pixels, Labels: labels}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// FromFloat32 builds a dataset from float32 pixels in [0,1], (N,C,H,W),
// quantised to uint8 as round(255·clamp(v,0,1)). NaN is an error.
func FromFloat32(name string, classes []string, c, h, w int, pixels []float32, labels []int) (*Dataset, error) {
	if want := len(labels) * c * h * w; c <= 0 || h <= 0 || w <= 0 || len(pixels) != want {
		return nil, dataErr("dataset %q: %d float pixels for %d images of %dx%dx%d", name, len(pixels), len(labels), c, h, w)
	}
	p := make([]uint8, len(pixels))
	for i, v := range pixels {
		if v != v {
			return nil, dataErr("dataset %q: NaN pixel at %d", name, i)
		}
		p[i] = uint8(math.Round(float64(min(max(v, 0), 1)) * 255))
	}
	return FromArrays(name, classes, c, h, w, p, labels)
}

func numberedClasses(labels []int) []string {
	m := -1
	for _, l := range labels {
		m = max(m, l)
	}
	m = min(m, 1<<20) // a corrupt label must not allocate gigabytes; Validate rejects it
	c := make([]string, m+1)
	for i := range c {
		c[i] = fmt.Sprint(i)
	}
	return c
}

// String summarises the dataset: "name: N images C×H×W, K classes".
func (d *Dataset) String() string {
	return fmt.Sprintf("%s: %d images %d×%d×%d, %d classes", d.Name, d.Len(), d.C, d.H, d.W, len(d.Classes))
}
