package data

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestFromArrays(t *testing.T) {
	d, err := FromFloat32("f", nil, 1, 1, 3, []float32{0, 0.5, 2, -1, 1, 0.2}, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint8{0, 128, 255, 0, 255, 51}; !bytes.Equal(d.Pixels, want) {
		t.Fatalf("quantised %v, want %v", d.Pixels, want)
	}
	if len(d.Classes) != 3 || d.Classes[2] != "2" {
		t.Fatalf("classes %v", d.Classes)
	}
	if s := d.String(); !strings.Contains(s, "2 images 1×1×3") {
		t.Fatalf("String() = %q", s)
	}
	for _, bad := range []struct {
		c, h, w int
		pix     []uint8
		labels  []int
		classes []string
	}{
		{1, 2, 2, make([]uint8, 3), []int{0}, nil},           // short pixels
		{2, 1, 1, make([]uint8, 2), []int{0}, nil},           // 2 channels
		{1, 1, 1, make([]uint8, 1), []int{5}, []string{"a"}}, // label out of range
		{1, 1, 1, make([]uint8, 1), []int{-1}, nil},          // negative label
	} {
		if _, err := FromArrays("bad", bad.classes, bad.c, bad.h, bad.w, bad.pix, bad.labels); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, err := FromFloat32("nan", nil, 1, 1, 1, []float32{float32(nanf())}, []int{0}); err == nil {
		t.Error("NaN: no error")
	}
}

func nanf() float64 {
	z := 0.0
	return z / z
}

func TestFingerprint(t *testing.T) {
	d, err := FromArrays("x", []string{"a", "b"}, 1, 2, 2, []uint8{1, 2, 3, 4, 5, 6, 7, 8}, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	fp := d.Fingerprint()
	if !strings.HasPrefix(fp, "2 images of 1×2×2, 2 classes, fnv ") {
		t.Fatalf("fingerprint %q", fp)
	}
	for name, edit := range map[string]func(*Dataset){
		"a pixel": func(e *Dataset) { e.Pixels[5]++ },
		"a label": func(e *Dataset) { e.Labels[0] = 1 },
		"a class": func(e *Dataset) { e.Classes[1] = "c" },
	} {
		e := &Dataset{Name: d.Name, Classes: slices.Clone(d.Classes), C: 1, H: 2, W: 2, Pixels: slices.Clone(d.Pixels), Labels: slices.Clone(d.Labels)}
		if edit(e); e.Fingerprint() == fp {
			t.Errorf("changing %s kept the fingerprint", name)
		}
	}
}
