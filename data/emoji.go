package data

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/glora/glora/internal/parallel"
)

const (
	// EmojiEnv overrides the folder of the emoji-datasource-google package.
	EmojiEnv = "GLORA_EMOJI_DIR"
	// EmojiPackage is the npm package the emoji data set comes from.
	EmojiPackage = "emoji-datasource-google"
	// EmojiTrain is the size of the emoji training split; the rest (906
	// images with emoji-datasource-google 16.0.0) is the test split.
	EmojiTrain = 1000

	emojiSeed    = 0x656d6f6a69000001 // fixed: the split never changes
	emojiImages  = "img/google/64"
	maxEmojiJSON = 64 << 20
)

// EmojiClasses are the emoji categories of Unicode's emoji-test.txt, in its
// order, without "Component" (the five skin-tone swatches).
var EmojiClasses = []string{"Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
	"Travel & Places", "Activities", "Objects", "Symbols", "Flags"}

// EmojiVersion is the version of EmojiPackage the sizes here are for;
// others load too (with other sizes and splits).
const EmojiVersion = "16.0.0"

// EmojiInstall is the command that installs the emoji data where EmojiDirs
// looks by default.
const EmojiInstall = "npm install --prefix ~/.cache/glora/emoji " + EmojiPackage + "@" + EmojiVersion

// EmojiDirs lists the folders Emoji looks in, in order: $GLORA_EMOJI_DIR,
// then the user cache's glora/emoji (~/.cache/glora/emoji). Each may be the
// package itself (holding emoji.json and img/google/64/), an npm prefix
// (node_modules/emoji-datasource-google/ in it) or an unpacked `npm pack`
// tarball (package/ in it).
func EmojiDirs() []string {
	var dirs []string
	if d := os.Getenv(EmojiEnv); d != "" {
		dirs = append(dirs, d)
	}
	if c, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(c, "glora", "emoji"))
	}
	return dirs
}

// findEmojiPackage returns the package folder under one of dirs.
func findEmojiPackage(dirs []string) (string, bool) {
	for _, d := range dirs {
		for _, p := range []string{d, filepath.Join(d, "node_modules", EmojiPackage), filepath.Join(d, "package")} {
			if st, err := os.Stat(filepath.Join(p, "emoji.json")); err == nil && st.Mode().IsRegular() && isDir(filepath.Join(p, emojiImages)) {
				return p, true
			}
		}
	}
	return "", false
}

// emojiEntry is what Emoji reads of an emoji.json entry.
type emojiEntry struct {
	Image          string `json:"image"`
	Category       string `json:"category"`
	HasGoogle      *bool  `json:"has_img_google"`
	SkinVariations map[string]struct {
		Image     string `json:"image"`
		HasGoogle *bool  `json:"has_img_google"`
	} `json:"skin_variations"`
}

// Emoji loads the emoji of npm's emoji-datasource-google (Google's Noto
// emoji as 64×64 RGBA PNGs, img/google/64/, listed in emoji.json), each
// labelled by its category (EmojiClasses). The Component category is left
// out, and so, unless variants is set, are the skin-tone variants
// (near-copies of their base emoji, all People & Body). Each image is
// composited on white and converted to opt.Channels and resized to
// opt.H×opt.W as it is read (as folder: images; default 3×64×64).
//
// The split is fixed: a seeded, stratified EmojiTrain = 1,000 base emoji
// train, the other base emoji test (906 with version 16.0.0, which has
// 1,906); with variants, each variant joins its base emoji's side, so that
// no emoji is on both sides (version 16.0.0: 1,935 train, 1,846 test, of
// which 1,137 and 1,124 People & Body).
//
// The package is found in $GLORA_EMOJI_DIR or ~/.cache/glora/emoji (see
// EmojiDirs); install it with EmojiInstall.
func Emoji(opt ResolveOptions, variants bool) (train, test *Dataset, err error) {
	dirs := EmojiDirs()
	dir, ok := findEmojiPackage(dirs)
	if !ok {
		return nil, nil, dataErr("emoji: the npm package %s (emoji.json and %s/) is not in %s; install it with `%s` "+
			"(or `npm pack %s@%s` and untar it there), or set %s to its folder",
			EmojiPackage, emojiImages, strings.Join(dirs, " or "), EmojiInstall, EmojiPackage, EmojiVersion, EmojiEnv)
	}
	all, base, err := loadEmoji(dir, opt, variants)
	if err != nil {
		return nil, nil, err
	}
	// The split is drawn over the base emoji (base[i]: the base of image
	// i, numbered in order), whatever the variants.
	var baseLabels []int
	for i, b := range base {
		if b == len(baseLabels) {
			baseLabels = append(baseLabels, all.Labels[i])
		}
	}
	if len(baseLabels) <= EmojiTrain {
		return nil, nil, dataErr("emoji %s: %d emoji, need more than the %d of the training split", dir, len(baseLabels), EmojiTrain)
	}
	trBase, _ := fixedSplitIndices(baseLabels, len(all.Classes), "emoji", EmojiTrain, emojiSeed)
	inTrain := make([]bool, len(baseLabels))
	for _, b := range trBase {
		inTrain[b] = true
	}
	var tr, te []int
	for i, b := range base {
		if inTrain[b] {
			tr = append(tr, i)
		} else {
			te = append(te, i)
		}
	}
	if train, err = all.Subset(tr); err != nil {
		return nil, nil, err
	}
	if test, err = all.Subset(te); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// LoadEmoji reads the base emoji (no skin-tone variants) of the
// emoji-datasource-google package folder dir (see Emoji) as one data set,
// in emoji.json's order.
func LoadEmoji(dir string, opt ResolveOptions) (*Dataset, error) {
	d, _, err := loadEmoji(dir, opt, false)
	return d, err
}

// emojiList is the images emoji.json names in the categories glora
// classifies, and what it left out.
type emojiList struct {
	items         []folderItem
	base          []int // each image's base emoji (variants share their base's)
	other         map[string]int
	noImage, skin int
}

// listEmoji reads dir's emoji.json (at most maxEmojiJSON bytes): each
// entry of the classified categories with its image on disk, and with
// variants its skin-tone variants too.
func listEmoji(dir string, variants bool) (l emojiList, err error) {
	jsonPath := filepath.Join(dir, "emoji.json")
	st, err := os.Stat(jsonPath)
	if err != nil {
		return l, fmt.Errorf("%w: emoji: %w", ErrData, err)
	}
	if st.Size() > maxEmojiJSON {
		return l, dataErr("emoji %s: %d bytes, more than %d", jsonPath, st.Size(), maxEmojiJSON)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		return l, fmt.Errorf("%w: emoji: %w", ErrData, err)
	}
	var entries []emojiEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return l, dataErr("emoji %s: %v", jsonPath, err)
	}
	index := map[string]int{}
	for i, c := range EmojiClasses {
		index[c] = i
	}
	l.other = map[string]int{}
	// image returns the path of an entry's image, "" if it has none.
	image := func(name string, has *bool) (string, error) {
		if has != nil && !*has {
			return "", nil
		}
		if name == "" || name != filepath.Base(name) || !IsImageFile(name) {
			return "", dataErr("emoji %s: entry with image %q", jsonPath, name)
		}
		p := filepath.Join(dir, emojiImages, name)
		if _, err := os.Stat(p); err != nil {
			return "", nil
		}
		return p, nil
	}
	nBase := 0
	for _, e := range entries {
		label, ok := index[e.Category]
		if !ok {
			l.other[e.Category]++
			continue
		}
		p, err := image(e.Image, e.HasGoogle)
		if err != nil {
			return l, err
		}
		if p == "" {
			l.noImage++
			continue
		}
		l.items = append(l.items, folderItem{p, label})
		l.base = append(l.base, nBase)
		if !variants {
			l.skin += len(e.SkinVariations)
		} else {
			for _, k := range slices.Sorted(maps.Keys(e.SkinVariations)) {
				v := e.SkinVariations[k]
				p, err := image(v.Image, v.HasGoogle)
				if err != nil {
					return l, err
				}
				if p == "" {
					l.noImage++
					continue
				}
				l.items = append(l.items, folderItem{p, label})
				l.base = append(l.base, nBase)
			}
		}
		nBase++
	}
	if len(l.items) == 0 {
		return l, dataErr("emoji %s: no images of the categories %s", jsonPath, strings.Join(EmojiClasses, ", "))
	}
	return l, nil
}

// loadEmoji is LoadEmoji, with the skin-tone variants after their base
// emoji if variants is set; base[i] numbers image i's base emoji 0, 1, ….
func loadEmoji(dir string, opt ResolveOptions, variants bool) (d *Dataset, base []int, err error) {
	l, err := listEmoji(dir, variants)
	if err != nil {
		return nil, nil, err
	}
	items, other, noImage, skin := l.items, l.other, l.noImage, l.skin
	h, w, c := opt.H, opt.W, opt.Channels
	if h <= 0 || w <= 0 {
		h, w = 64, 64
	}
	if c == 0 {
		c = 3
	}
	if c != 1 && c != 3 {
		return nil, nil, dataErr("emoji: %d channels requested, want 1 or 3", c)
	}
	if h > 1<<14 || w > 1<<14 {
		return nil, nil, dataErr("emoji: bad target size %dx%d", h, w)
	}
	name := "emoji"
	if variants {
		name = "emoji:all"
	}
	d = &Dataset{Name: name, Classes: EmojiClasses, C: c, H: h, W: w,
		Pixels: make([]uint8, len(items)*c*h*w), Labels: make([]int, len(items))}
	infos := make([]ImageInfo, len(items))
	errs := make([]error, len(items))
	parallel.For(len(items), 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			infos[i], errs[i] = readImageInto(d.Image(i), items[i].path, c, h, w, opt.Interp, opt.CropPct)
			d.Labels[i] = items[i].label
		}
	})
	if err := firstErr(errs); err != nil {
		return nil, nil, err
	}
	if opt.Log != nil {
		cv := Conversions{C: c, H: h, W: w, Interp: opt.Interp, CropPct: opt.CropPct}
		for _, in := range infos {
			cv.Add(in)
		}
		msg := fmt.Sprintf("emoji %s: %d images", dir, len(items))
		if s := cv.String(); s != "" {
			msg += ": " + s
		}
		cats := slices.Sorted(maps.Keys(other))
		for _, cat := range cats {
			if cat != "Component" {
				msg += fmt.Sprintf("; %d of category %q left out", other[cat], cat)
			}
		}
		if noImage > 0 {
			msg += fmt.Sprintf("; %d entries without a Google image left out", noImage)
		}
		if skin > 0 {
			msg += fmt.Sprintf("; %d skin-tone variants left out (emoji:all keeps them)", skin)
		}
		fmt.Fprintln(opt.Log, msg)
	}
	return d, l.base, nil
}
