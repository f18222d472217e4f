package data

import (
	"bytes"
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
