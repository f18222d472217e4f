package plot

import (
	"image"
	"image/color"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Text is drawn in Go Mono (the Go project's monospaced font, compiled into
// the binary), whose glyphs cover Latin with its accents, Greek and Cyrillic,
// so class names such as "café" or "Ωμέγα" appear as written. Its size is
// chosen so that every glyph advances charW pixels: layouts measure a string
// as charW times its runes. A rune the font lacks (CJK, emoji) is drawn as
// '?' rather than as an empty box; Unsupported lists such runes so that a
// caller can say so.
const charW = 7

var (
	faceOnce sync.Once
	monoFace font.Face
	// faceMu serialises every use of monoFace: an opentype face keeps
	// scratch buffers and is not safe for concurrent use, and plots are
	// drawn from several goroutines (a suite's shards in one process).
	faceMu sync.Mutex
)

// face is Go Mono at 11.7 px (advance 0.6 em = 7 px, hinted to whole
// pixels). If the embedded font could not be parsed — it can't fail short
// of a broken build — drawing falls back to nothing rather than panicking.
func face() font.Face {
	faceOnce.Do(func() {
		f, err := opentype.Parse(gomono.TTF)
		if err != nil {
			return
		}
		monoFace, _ = opentype.NewFace(f, &opentype.FaceOptions{Size: float64(charW) / 0.6, DPI: 72, Hinting: font.HintingFull})
	})
	return monoFace
}

// covered reports whether the font has a glyph for r.
func covered(r rune) bool {
	f := face()
	if f == nil {
		return r < utf8.RuneSelf
	}
	faceMu.Lock()
	defer faceMu.Unlock()
	_, ok := f.GlyphAdvance(r)
	return ok
}

// Unsupported returns the runes of s that the plots' font cannot draw (each
// once, in order); they appear as '?'.
func Unsupported(s string) []rune {
	var out []rune
	seen := map[rune]bool{}
	for _, r := range s {
		if !covered(r) && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// drawable replaces the runes the font lacks with '?'.
func drawable(s string) string {
	if len(Unsupported(s)) == 0 {
		return s
	}
	b := make([]rune, 0, len(s))
	for _, r := range s {
		if !covered(r) {
			r = '?'
		}
		b = append(b, r)
	}
	return string(b)
}

// width is the drawn width of s in pixels.
func width(s string) int { return charW * utf8.RuneCountInString(s) }

// clip shortens s to at most n runes, marking the cut with '.'.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "."
}

// text draws s with its baseline's left end at (x, y).
func text(img *image.RGBA, x, y int, s string, c color.Color) {
	f := face()
	if f == nil {
		return
	}
	s = drawable(s)
	faceMu.Lock()
	defer faceMu.Unlock()
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
