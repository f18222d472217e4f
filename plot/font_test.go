package plot

import (
	"image"
	"image/color"
	"image/draw"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/image/math/fixed"
)

// drawn renders s alone and returns its pixels.
func drawn(s string) []uint8 {
	img := image.NewRGBA(image.Rect(0, 0, 60, 20))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, 2, 14, s, color.Black)
	return img.Pix
}

// Non-ASCII class names must be drawn with their own glyphs: with the old
// ASCII bitmap font "é", "Ж" and "Ω" all came out as the same empty box.
func TestTextDrawsAccentsGreekCyrillic(t *testing.T) {
	box := drawn("\U0010FFFD") // a private-use rune no font has: drawn as '?'
	if !slices.Equal(box, drawn("?")) {
		t.Fatal("a rune the font lacks is not drawn as '?'")
	}
	seen := map[string]string{}
	for _, s := range []string{"é", "e", "Ж", "Ω", "ß", "?"} {
		px := string(drawn(s))
		if prev, ok := seen[px]; ok {
			t.Fatalf("%q is drawn exactly like %q", s, prev)
		}
		seen[px] = s
	}
	if got := Unsupported("café Ωμέγα Жук"); len(got) != 0 {
		t.Fatalf("Unsupported(Latin/Greek/Cyrillic) = %q", got)
	}
	if got := Unsupported("猫🙂猫a"); !slices.Equal(got, []rune("猫🙂")) {
		t.Fatalf("Unsupported = %q, want 猫 and 🙂 once each", got)
	}
}

// Layouts measure text as charW pixels a rune: the face must advance so.
func TestFaceAdvanceMatchesLayout(t *testing.T) {
	for _, r := range "Aiw.é Ж" {
		adv, ok := face().GlyphAdvance(r)
		if !ok || adv != fixed.I(charW) {
			t.Fatalf("advance of %q = %v (ok %v), want %d px", r, adv, ok, charW)
		}
	}
	if clip("Ωμέγα-Жук-café-long", 6) != "Ωμέγα." || width("Жук") != 3*charW {
		t.Fatalf("clip %q width %d", clip("Ωμέγα-Жук-café-long", 6), width("Жук"))
	}
}

func TestConfusionNonASCIILabels(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cm.png")
	cm := Confusion{Title: "тест — café", Labels: []string{"café", "Ωμέγα", "猫"}, Counts: [][]int{{1, 0, 0}, {0, 2, 0}, {0, 0, 3}}}
	if err := WriteConfusionPNG(p, cm); err != nil {
		t.Fatal(err)
	}
}

// Plots are drawn from several goroutines at once (a suite's shards in
// one process); the font's face is not safe for that by itself.
func TestTextConcurrently(t *testing.T) {
	want := drawn("Ωμέγα 42")
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 50 {
				ok = ok && slices.Equal(drawn("Ωμέγα 42"), want)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("text drawn concurrently differs")
		}
	}
}
