package data

import (
	"bytes"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeEmojiPackage writes an emoji-datasource-google look-alike under dir:
// emoji.json and 64×64 RGBA PNGs, two of each of the nine categories (the
// first fully transparent, the second opaque red), one Component, one of an
// unknown category and one without a Google image.
func fakeEmojiPackage(t *testing.T, dir string) {
	t.Helper()
	img := filepath.Join(dir, "img", "google", "64")
	if err := os.MkdirAll(img, 0o755); err != nil {
		t.Fatal(err)
	}
	type variant struct {
		Image     string `json:"image"`
		HasGoogle bool   `json:"has_img_google"`
	}
	type entry struct {
		Image     string             `json:"image"`
		Category  string             `json:"category"`
		HasGoogle bool               `json:"has_img_google"`
		Unified   string             `json:"unified"`
		Skin      map[string]variant `json:"skin_variations,omitempty"`
	}
	var entries []entry
	clear := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	red := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := 0; i < len(red.Pix); i += 4 {
		copy(red.Pix[i:], []uint8{255, 0, 0, 255})
	}
	add := func(name, cat string, has bool, im image.Image) {
		entries = append(entries, entry{Image: name, Category: cat, HasGoogle: has, Unified: strings.TrimSuffix(name, ".png")})
		if im != nil {
			saveImage(t, filepath.Join(img, name), im)
		}
	}
	for c, cat := range EmojiClasses {
		add(string(rune('a'+c))+"1.png", cat, true, clear)
		add(string(rune('a'+c))+"2.png", cat, true, red)
	}
	// Two skin-tone variants of each People & Body emoji, the second of
	// them without a Google image.
	for i := range entries {
		if e := &entries[i]; e.Category == "People & Body" {
			v := strings.TrimSuffix(e.Image, ".png") + "-1f3fb.png"
			e.Skin = map[string]variant{"1F3FB": {v, true}, "1F3FC": {"none.png", false}}
			saveImage(t, filepath.Join(img, v), red)
		}
	}
	add("skin.png", "Component", true, red)
	add("new.png", "Emoji of the Future", true, red)
	add("apple-only.png", "Objects", false, nil)
	b, _ := json.Marshal(entries)
	if err := os.WriteFile(filepath.Join(dir, "emoji.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadEmoji(t *testing.T) {
	dir := t.TempDir()
	fakeEmojiPackage(t, dir)
	var log bytes.Buffer
	d, err := LoadEmoji(dir, ResolveOptions{H: 16, W: 16, Channels: 1, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 18 || d.C != 1 || d.H != 16 || d.W != 16 || len(d.Classes) != 9 || d.Classes[8] != "Flags" {
		t.Fatalf("%v, classes %q", d, d.Classes)
	}
	for i := range d.Len() {
		want := uint8(255) // transparent on white
		if i%2 == 1 {
			want = lumaOf(255, 0, 0)
		}
		if im := d.Image(i); im[0] != want || im[255] != want || d.Labels[i] != i/2 {
			t.Fatalf("image %d: pixel %d, label %d; want %d, %d", i, im[0], d.Labels[i], want, i/2)
		}
	}
	msg := log.String()
	for _, want := range []string{"18 images", "composited on white", "resized from 64×64 to 16×16", `1 of category "Emoji of the Future" left out`, "1 entries without a Google image"} {
		if !strings.Contains(msg, want) {
			t.Errorf("log %q does not say %q", msg, want)
		}
	}
	if !strings.Contains(msg, "4 skin-tone variants left out") {
		t.Errorf("log %q does not count the skin-tone variants", msg)
	}
	if strings.Contains(msg, "Component") {
		t.Errorf("log %q mentions the Component category", msg)
	}
	// Default: RGB at the images' own size.
	rgb, err := LoadEmoji(dir, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rgb.C != 3 || rgb.H != 64 || rgb.W != 64 {
		t.Fatalf("default %v", rgb)
	}
	// With the variants: each after its base emoji, numbered with it.
	all, base, err := loadEmoji(dir, ResolveOptions{H: 8, W: 8, Channels: 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	if all.Len() != 20 || all.Name != "emoji:all" || all.Labels[3] != 1 || all.Labels[6] != 2 || base[2] != 2 || base[3] != 2 || base[4] != 3 || base[19] != 17 {
		t.Fatalf("with variants: %v, labels %v, bases %v", all, all.Labels, base)
	}
	if im := rgb.Image(1); im[0] != 255 || im[64*64] != 0 || im[2*64*64] != 0 {
		t.Fatalf("red emoji reads as %d %d %d", im[0], im[64*64], im[2*64*64])
	}
}

func TestEmojiPackageLayouts(t *testing.T) {
	for _, sub := range []string{"", "node_modules/" + EmojiPackage, "package"} {
		root := t.TempDir()
		pkg := filepath.Join(root, filepath.FromSlash(sub))
		fakeEmojiPackage(t, pkg)
		got, ok := findEmojiPackage([]string{t.TempDir(), root})
		if !ok || got != pkg {
			t.Fatalf("layout %q: found %q, %v", sub, got, ok)
		}
		// Too few images for the 1,000-image training split: an error
		// naming the folder.
		t.Setenv(EmojiEnv, root)
		if _, _, err := Resolve("emoji"); err == nil || !strings.Contains(err.Error(), pkg) {
			t.Fatalf("layout %q: %v", sub, err)
		}
	}
}

func TestEmojiMissingSaysHowToInstall(t *testing.T) {
	t.Setenv(EmojiEnv, t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	_, _, err := Resolve("emoji")
	if err == nil || !strings.Contains(err.Error(), "npm install --prefix ~/.cache/glora/emoji emoji-datasource-google@16.0.0") ||
		!strings.Contains(err.Error(), EmojiEnv) {
		t.Fatalf("error %v does not say how to install the package", err)
	}
}

// TestEmojiPackage loads the real package when it is installed.
func TestEmojiPackage(t *testing.T) {
	if _, ok := findEmojiPackage(EmojiDirs()); !ok {
		t.Skipf("emoji data not installed (%s, or set %s); skipping", EmojiInstall, EmojiEnv)
	}
	tr, te, err := ResolveWith("emoji", ResolveOptions{H: 28, W: 28, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != EmojiTrain || te.Len() < 900 || tr.C != 1 || tr.H != 28 || len(tr.Classes) != 9 {
		t.Fatalf("train %v, test %v", tr, te)
	}
	for c, n := range te.ClassCounts() {
		if n < 30 || tr.ClassCounts()[c] < 30 {
			t.Fatalf("class %q: %d train, %d test images", tr.Classes[c], tr.ClassCounts()[c], n)
		}
	}
	t.Logf("emoji: %d train, %d test, classes %v / %v", tr.Len(), te.Len(), tr.ClassCounts(), te.ClassCounts())
	// With version 16.0.0 the split is pinned: which emoji (by label
	// sequence) land in train and test.
	dir, _ := findEmojiPackage(EmojiDirs())
	var pkg struct{ Version string }
	if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil && json.Unmarshal(b, &pkg) == nil && pkg.Version == EmojiVersion {
		if te.Len() != 906 {
			t.Fatalf("16.0.0: %d test images, want 906", te.Len())
		}
		labels := func(d *Dataset) string {
			return hashOf(&Dataset{Labels: d.Labels})
		}
		if a, b := labels(tr), labels(te); a != "ebb04f5559686e7a" || b != "54609eda60be0092" {
			t.Fatalf("16.0.0: label hashes %s %s", a, b)
		}
	}
	// emoji:all: the variants join their base emoji's side, so its test
	// split holds emoji's and no image of its training split.
	atr, ate, err := ResolveWith("emoji:all", ResolveOptions{H: 28, W: 28, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	if atr.Len()+ate.Len() <= 3000 || ate.Len() < 1000 || atr.Len() < 1000 {
		t.Fatalf("emoji:all: %v, %v", atr, ate)
	}
	inTest := map[string]bool{}
	for i := range ate.Len() {
		inTest[string(ate.Image(i))] = true
	}
	for i := range te.Len() {
		if !inTest[string(te.Image(i))] {
			t.Fatalf("emoji test image %d is not in emoji:all's test split", i)
		}
	}
	if pkg.Version == EmojiVersion && (atr.Len() != 1935 || ate.Len() != 1846) {
		t.Fatalf("16.0.0: emoji:all %d train, %d test; want 1935, 1846", atr.Len(), ate.Len())
	}
}
