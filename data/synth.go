package data

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/glora/glora/internal/parallel"
)

// Synthetic structured tasks in the spirit of VTAB's dSprites, CLEVR and
// SmallNORB: what a label asks for is a property of the scene's structure
// (how many, where, which way) rather than of its texture. Each image is
// drawn from its own PCG stream (task, seed, split, index) with integer
// arithmetic only (shapes anti-aliased by 4×4 supersampling, noise by
// gaussQ, angles through cosSinQ16), so a seed gives the same bytes on
// every machine.

// SynthTasks lists the synth:TASK names.
var SynthTasks = []string{"count", "position", "orientation", "distance"}

const (
	// SynthSize is the side of the synthetic images (1 channel).
	SynthSize = 28
	// SynthTrain and SynthTest are the default split sizes.
	SynthTrain, SynthTest = 2000, 1000
	// SynthNoiseSigma is the pixel noise, in grey levels.
	SynthNoiseSigma = 12

	maxSynthImages = 200000
)

// SynthSpec is a parsed synth:TASK[:OPTIONS] spec.
type SynthSpec struct {
	Task        string // one of SynthTasks
	Seed        uint64 // default 1
	Train, Test int    // images; default SynthTrain, SynthTest
}

// String is the spec in its canonical spelling, every option written.
func (s SynthSpec) String() string {
	return fmt.Sprintf("synth:%s:seed=%d,train=%d,test=%d", s.Task, s.Seed, s.Train, s.Test)
}

// ParseSynthSpec reads "TASK" or "TASK:OPT=V[,OPT=V…]" (the part after
// "synth:"), with options seed (uint64), train and test (image counts, at
// least one image per class, at most 200,000), each at most once.
func ParseSynthSpec(arg string) (SynthSpec, error) {
	task, opts, hasOpts := strings.Cut(arg, ":")
	s := SynthSpec{Task: task, Seed: 1, Train: SynthTrain, Test: SynthTest}
	k := synthClasses(task)
	if k == 0 {
		return s, dataErr("unknown synth task %q (want synth:%s)", task, strings.Join(SynthTasks, ", synth:"))
	}
	if !hasOpts {
		return s, nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(opts, ",") {
		key, val, ok := strings.Cut(kv, "=")
		if !ok || seen[key] {
			return s, dataErr("synth:%s: bad option %q (want seed=N, train=N, test=N, comma-separated, each once)", task, kv)
		}
		seen[key] = true
		switch key {
		case "seed":
			v, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return s, dataErr("synth:%s: seed %q is not an unsigned integer", task, val)
			}
			s.Seed = v
		case "train", "test":
			v, err := strconv.Atoi(val)
			if err != nil || v < k || v > maxSynthImages {
				return s, dataErr("synth:%s: %s=%q, want an image count in [%d,%d]", task, key, val, k, maxSynthImages)
			}
			if key == "train" {
				s.Train = v
			} else {
				s.Test = v
			}
		default:
			return s, dataErr("synth:%s: unknown option %q (want seed, train or test)", task, key)
		}
	}
	return s, nil
}

// synthClasses is the number of classes of a task, 0 if unknown.
func synthClasses(task string) int {
	switch task {
	case "count", "distance":
		return 6
	case "position", "orientation":
		return 8
	}
	return 0
}

// SynthClassNames are the class names of a task: "count 1"…"count 6",
// "x bin 0 (x 4–6.5 px)"…, "angle bin 0 (0–22.5°)"…, "distance bin 0
// (4–7 px)"….
func SynthClassNames(task string) []string {
	k := synthClasses(task)
	names := make([]string, k)
	for c := range names {
		switch task {
		case "count":
			names[c] = fmt.Sprintf("count %d", c+1)
		case "position":
			lo, hi := posRange()
			step := (hi - lo) / int64(k)
			names[c] = fmt.Sprintf("x bin %d (x %s–%s px)", c, eighths(lo+int64(c)*step), eighths(lo+int64(c+1)*step))
		case "orientation":
			names[c] = fmt.Sprintf("angle bin %d (%s–%s°)", c, tenthsStr(c*1800/k), tenthsStr((c+1)*1800/k))
		case "distance":
			lo, step := distRange(k)
			names[c] = fmt.Sprintf("distance bin %d (%s–%s px)", c, eighths(lo+int64(c)*step), eighths(lo+int64(c+1)*step))
		}
	}
	return names
}

func eighths(v int64) string {
	return strconv.FormatFloat(float64(v)/sub, 'f', -1, 64)
}

func tenthsStr(v int) string {
	return strconv.FormatFloat(float64(v)/10, 'f', -1, 64)
}

// Synth generates the task's training and test splits; classes are
// balanced (image i has label i mod K).
func Synth(s SynthSpec) (train, test *Dataset, err error) {
	k := synthClasses(s.Task)
	if k == 0 {
		return nil, nil, dataErr("unknown synth task %q", s.Task)
	}
	if s.Train < k || s.Test < k || s.Train > maxSynthImages || s.Test > maxSynthImages {
		return nil, nil, dataErr("synth:%s: %d train and %d test images, want each in [%d,%d]", s.Task, s.Train, s.Test, k, maxSynthImages)
	}
	h := fnv.New64a()
	h.Write([]byte("synth:" + s.Task))
	base := h.Sum64() ^ s.Seed*0x9e3779b97f4a7c15
	name := "synth:" + s.Task
	if s.Seed != 1 {
		name += fmt.Sprintf(":seed=%d", s.Seed)
	}
	classes := SynthClassNames(s.Task)
	gen := func(n int, split uint64) *Dataset {
		d := &Dataset{Name: name, Classes: classes, C: 1, H: SynthSize, W: SynthSize,
			Pixels: make([]uint8, n*SynthSize*SynthSize), Labels: make([]int, n)}
		parallel.For(n, 64, func(lo, hi int) {
			cv := newCanvas(SynthSize, SynthSize)
			for i := lo; i < hi; i++ {
				label := i % k
				rng := rand.New(rand.NewPCG(base, split<<40|uint64(i)))
				drawSynth(cv, rng, s.Task, label, k)
				cv.quantise(d.Image(i), rng, SynthNoiseSigma)
				d.Labels[i] = label
			}
		})
		return d
	}
	return gen(s.Train, 1), gen(s.Test, 2), nil
}

// sub is the number of coordinate units per pixel: shapes are placed and
// sized in 1/8 px, and each pixel is sampled at the 4×4 sub-pixel centres
// 1, 3, 5, 7 (in 1/8 px) of its square.
const sub = 8

// canvas holds grey values in 1/16 grey levels (0…255·16).
type canvas struct {
	w, h int
	v    []int64
}

func newCanvas(w, h int) *canvas { return &canvas{w: w, h: h, v: make([]int64, w*h)} }

// background fills the canvas with a level plus a linear gradient (gx, gy
// in 1/16 levels per pixel, about the centre).
func (cv *canvas) background(level, gx, gy int64) {
	for y := 0; y < cv.h; y++ {
		for x := 0; x < cv.w; x++ {
			v := level*16 + gx*int64(2*x-cv.w+1)/2 + gy*int64(2*y-cv.h+1)/2
			cv.v[y*cv.w+x] = min(max(v, 0), 255*16)
		}
	}
}

// shape is a figure in 1/8 px coordinates.
type shape struct {
	kind     int   // shapeDisc, …
	cx, cy   int64 // centre
	r        int64 // radius, half side; inner radius for rings in r2
	r2       int64
	cos, sin int64 // bars: direction, Q16
	hl, hw   int64 // bars: half length and half width
}

const (
	shapeDisc = iota
	shapeSquare
	shapeTriangle
	shapeRing
	shapeBar
)

func (s *shape) inside(x, y int64) bool {
	dx, dy := x-s.cx, y-s.cy
	switch s.kind {
	case shapeDisc:
		return dx*dx+dy*dy <= s.r*s.r
	case shapeSquare:
		return dx >= -s.r && dx <= s.r && dy >= -s.r && dy <= s.r
	case shapeTriangle: // apex up, base at cy + r of half width r
		return dy <= s.r && 2*max(dx, -dx) <= dy+s.r
	case shapeRing:
		d := dx*dx + dy*dy
		return d <= s.r*s.r && d >= s.r2*s.r2
	case shapeBar: // along (cos, -sin): anticlockwise as seen, y down
		along := (dx*s.cos - dy*s.sin) >> 16
		across := (dx*s.sin + dy*s.cos) >> 16
		return max(along, -along) <= s.hl && max(across, -across) <= s.hw
	}
	return false
}

// extent is a radius (1/8 px) that holds the shape.
func (s *shape) extent() int64 {
	if s.kind == shapeBar {
		return s.hl + s.hw
	}
	return s.r + 1
}

// paint composites the shape at grey level (0…255) over the canvas by its
// coverage of each pixel's 16 sub-samples.
func (cv *canvas) paint(s *shape, level int64) {
	e := s.extent()
	x0, x1 := max((s.cx-e)/sub-1, 0), min((s.cx+e)/sub+1, int64(cv.w-1))
	y0, y1 := max((s.cy-e)/sub-1, 0), min((s.cy+e)/sub+1, int64(cv.h-1))
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			var n int64
			for sy := int64(1); sy < sub; sy += 2 {
				for sx := int64(1); sx < sub; sx += 2 {
					if s.inside(x*sub+sx, y*sub+sy) {
						n++
					}
				}
			}
			if n > 0 {
				p := &cv.v[y*int64(cv.w)+x]
				*p = (*p*(16-n) + level*16*n + 8) / 16
			}
		}
	}
}

// quantise writes the canvas with pixel noise of standard deviation sigma
// grey levels as uint8.
func (cv *canvas) quantise(dst []uint8, rng *rand.Rand, sigma int64) {
	for i, v := range cv.v {
		dst[i] = clampU8(divRound(v, 16) + gaussQ(rng, sigma))
	}
}

// between is a uniform integer in [lo, hi].
func between(rng *rand.Rand, lo, hi int64) int64 { return lo + rng.Int64N(hi-lo+1) }

// randomBackground draws a dim background with a gentle gradient.
func randomBackground(cv *canvas, rng *rand.Rand) {
	cv.background(between(rng, 0, 50), between(rng, -24, 24), between(rng, -24, 24))
}

// randomLine is a thin, faint, long bar through a random point, at a random
// angle: a distractor.
func randomLine(cv *canvas, rng *rand.Rand) (shape, int64) {
	c, s := cosSinQ16(int(rng.IntN(1800)))
	W := int64(cv.w) * sub
	return shape{kind: shapeBar, cx: between(rng, 0, W-1), cy: between(rng, 0, W-1), cos: c, sin: s,
		hl: 2 * W, hw: between(rng, 2, 4)}, between(rng, 60, 120)
}

// distRange is the smallest distance and the bin width (1/8 px) of the
// distance task's k bins: 4 px up, 3 px a bin.
func distRange(k int) (lo, step int64) { return 4 * sub, 3 * sub }

// posRange is the range of a position sprite's centre x, 1/8 px.
func posRange() (lo, hi int64) { return 4 * sub, (SynthSize - 4) * sub }

// drawSynth draws one image of label for the task.
func drawSynth(cv *canvas, rng *rand.Rand, task string, label, k int) {
	randomBackground(cv, rng)
	switch task {
	case "count":
		drawCount(cv, rng, label)
	case "position":
		drawPosition(cv, rng, label, k)
	case "orientation":
		drawOrientation(cv, rng, label, k)
	case "distance":
		drawDistance(cv, rng, label, k)
	}
}

// drawCount: label+1 filled shapes (disc, square, triangle) of random size
// and brightness that neither touch nor overlap, and up to two faint lines
// across the image that are not to be counted.
func drawCount(cv *canvas, rng *rand.Rand, label int) {
	W := int64(cv.w) * sub
	for lines := rng.IntN(3); lines > 0; lines-- {
		ln, lv := randomLine(cv, rng)
		cv.paint(&ln, lv)
	}
	n := label + 1
	var placed []shape
	for len(placed) < n {
		s := shape{kind: rng.IntN(3), r: between(rng, 12, 22)}
		ok := false
		for try := 0; try < 200 && !ok; try++ {
			m := s.r + sub
			s.cx, s.cy = between(rng, m, W-1-m), between(rng, m, W-1-m)
			ok = true
			for _, o := range placed {
				dx, dy, d := s.cx-o.cx, s.cy-o.cy, s.r+o.r+12
				if dx*dx+dy*dy < d*d {
					ok = false
					break
				}
			}
		}
		if !ok { // crowded: start the set again
			placed = placed[:0]
			continue
		}
		placed = append(placed, s)
	}
	for i := range placed {
		cv.paint(&placed[i], between(rng, 140, 255))
	}
}

// ringsAndLine draws two hollow rings and a faint line anywhere: the
// position and distance tasks' distractors, drawn first so that what is
// to be read stays whole.
func ringsAndLine(cv *canvas, rng *rand.Rand) {
	W := int64(cv.w) * sub
	for d := 0; d < 2; d++ {
		r := between(rng, 14, 24)
		ring := shape{kind: shapeRing, r: r, r2: r - between(rng, 5, 8),
			cx: between(rng, r, W-1-r), cy: between(rng, r, W-1-r)}
		cv.paint(&ring, between(rng, 80, 160))
	}
	ln, lv := randomLine(cv, rng)
	cv.paint(&ln, lv)
}

// drawPosition: one bright filled sprite whose centre x falls in bin
// label of k, over ringsAndLine's distractors.
func drawPosition(cv *canvas, rng *rand.Rand, label, k int) {
	W := int64(cv.w) * sub
	ringsAndLine(cv, rng)
	lo, hi := posRange()
	step := (hi - lo) / int64(k)
	s := shape{kind: rng.IntN(3), r: between(rng, 14, 26)}
	s.cx = lo + int64(label)*step + rng.Int64N(step)
	s.cy = between(rng, s.r+sub, W-1-s.r-sub)
	cv.paint(&s, between(rng, 170, 255))
}

// drawOrientation: a bar through the middle whose angle (0–180°,
// anticlockwise from the horizontal) falls in bin label of k; three small
// blobs as distractors, some drawn over it.
func drawOrientation(cv *canvas, rng *rand.Rand, label, k int) {
	W := int64(cv.w) * sub
	binTenths := 1800 / k
	c, sn := cosSinQ16(label*binTenths + rng.IntN(binTenths))
	bar := shape{kind: shapeBar, cx: W/2 + between(rng, -24, 24), cy: W/2 + between(rng, -24, 24),
		cos: c, sin: sn, hl: between(rng, 56, 80), hw: between(rng, 5, 10)}
	blobs := make([]shape, 3)
	for i := range blobs {
		r := between(rng, 8, 14)
		blobs[i] = shape{kind: rng.IntN(2), r: r, cx: between(rng, r, W-1-r), cy: between(rng, r, W-1-r)}
	}
	over := rng.IntN(4) // how many blobs are drawn over the bar
	for i := over; i < 3; i++ {
		cv.paint(&blobs[i], between(rng, 100, 220))
	}
	cv.paint(&bar, between(rng, 150, 255))
	for i := 0; i < over; i++ {
		cv.paint(&blobs[i], between(rng, 100, 220))
	}
}

// drawDistance: two filled discs whose centres are a distance in bin
// label of k apart (a relation between objects, as CLEVR's), in any
// direction, over ringsAndLine's distractors.
func drawDistance(cv *canvas, rng *rand.Rand, label, k int) {
	W := int64(cv.w) * sub
	ringsAndLine(cv, rng)
	lo, step := distRange(k)
	a := shape{kind: shapeDisc, r: between(rng, 10, 16)}
	b := shape{kind: shapeDisc, r: between(rng, 10, 16)}
	for {
		dist := lo + int64(label)*step + rng.Int64N(step)
		c, sn := cosSinQ16(rng.IntN(3600))
		m := a.r + sub
		a.cx, a.cy = between(rng, m, W-1-m), between(rng, m, W-1-m)
		b.cx, b.cy = a.cx+(dist*c)>>16, a.cy-(dist*sn)>>16
		if m := b.r + sub; b.cx >= m && b.cx <= W-1-m && b.cy >= m && b.cy <= W-1-m {
			break
		}
	}
	cv.paint(&a, between(rng, 170, 255))
	cv.paint(&b, between(rng, 170, 255))
}
