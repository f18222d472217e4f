package glora

import (
	"fmt"
	"math"

	"github.com/glora/glora/tensor"
)

// Incremental merging for the search (docs/DESIGN.md §3): consecutive candidates
// share many layers' choices, so MergeStructure merges each layer's weights
// once and reuses them while the layer's choice, its original W0 and b0,
// and the support values its choice reads are all unchanged.

// mergedCopy is a layer's last merged weight and bias, with what it was
// computed from: the choice, the original W0 and b0 (by identity) and a
// copy of the support values the choice reads.
type mergedCopy struct {
	choice LayerChoice
	w0, b0 *tensor.Tensor
	w, b   *tensor.Tensor
	snap   [][]float32
}

// original is the layer's original weight and bias (b0 nil for a
// bias-less base), merged or not.
func (l *Layer) original() (w0, b0 *tensor.Tensor) {
	if l.merged {
		return l.w0, l.b0
	}
	if l.base.B != nil {
		b0 = l.base.B.Value
	}
	return l.base.W.Value, b0
}

// valid reports whether c is the merge of choice lc of l as it stands now.
func (c *mergedCopy) valid(l *Layer, lc LayerChoice) bool {
	if c == nil || c.choice != lc {
		return false
	}
	w0, b0 := l.original()
	if c.w0 != w0 || c.b0 != b0 {
		return false
	}
	used := l.used(lc)
	if len(used) != len(c.snap) {
		return false
	}
	for i, v := range used {
		if !sameFloatBits(v.Value.Data, c.snap[i]) {
			return false
		}
	}
	return true
}

func sameFloatBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// mergeCopy computes the merge of choice lc from the original W0 and b0
// (MergeLinear: NaN/Inf is an error) without changing the layer.
func (l *Layer) mergeCopy(lc LayerChoice) (*mergedCopy, error) {
	w0, b0 := l.original()
	t := l.Tensors()
	w, b, err := MergeLinear(w0, b0, &t, lc)
	if err != nil {
		return nil, fmt.Errorf("glora: merge layer %q: %w", l.path, err)
	}
	c := &mergedCopy{choice: lc, w0: w0, b0: b0, w: w, b: b}
	for _, v := range l.used(lc) {
		c.snap = append(c.snap, append([]float32(nil), v.Value.Data...))
	}
	return c, nil
}

// MergeCacheBytes bounds the merged copies a supernet keeps for
// MergeStructure: each layer keeps up to MergeCacheCopies, fewer when
// that many copies of every wrapped layer's weight would exceed this
// many bytes (at least one).
const (
	MergeCacheBytes  = 256 << 20
	MergeCacheCopies = 8
)

// remember puts c first in layer i's cache (most recently used first),
// dropping the least recently used copy beyond the layer's share.
func (s *Supernet) remember(i int, c *mergedCopy) {
	list := s.mcache[i]
	for j, o := range list {
		if o == c {
			list = append(list[:j], list[j+1:]...)
			break
		}
	}
	list = append([]*mergedCopy{c}, list...)
	if len(list) > s.cacheCopies() {
		list = list[:s.cacheCopies()]
	}
	s.mcache[i] = list
}

// cacheCopies is how many merged copies each layer keeps.
func (s *Supernet) cacheCopies() int {
	total := 0
	for _, l := range s.layers {
		total += 4 * (l.Out()*l.In() + l.Out())
	}
	return max(1, min(MergeCacheCopies, MergeCacheBytes/max(total, 1)))
}

// MergeStats counts what the last MergeStructure did per layer.
type MergeStats struct {
	Merged int // layers whose weights were computed
	Reused int // layers whose merged weights were reused
	Base   int // layers with every path none: W0 and b0 themselves
}

// MergeStructure fixes the structure st (checked as SetStructure does)
// and folds it into the base layers, like SetStructure followed by Merge,
// but incrementally: a layer whose merged weights for its choice are at
// hand (it was merged with that choice by an earlier MergeStructure, is
// merged with it now, or was and has been unmerged since: each layer keeps
// its last few merged copies, see MergeCacheCopies) and whose W0, b0 and
// read support values have not changed since keeps or gets back those very
// tensors without computing anything; a layer whose choice is
// every path none computes with its original W0 and b0 (not a copy); only
// the others are merged (from the original W0, docs/DESIGN.md §4). Either every
// layer gets st's choice or, on an error (an invalid structure, NaN or Inf
// in a result, naming the layer), nothing changes. Unmerge restores W0 and
// b0 bit for bit as after Merge. The merged copies kept take at most
// MergeCacheBytes (or one copy of each wrapped layer, if more).
func (s *Supernet) MergeStructure(st Structure) (MergeStats, error) {
	var stats MergeStats
	if err := s.space.ValidateStructure(st, s.targets); err != nil {
		return stats, err
	}
	if s.mcache == nil {
		s.mcache = make([][]*mergedCopy, len(s.layers))
	}
	next := make([]*mergedCopy, len(s.layers))
	for i, l := range s.layers {
		lc := st[l.path]
		if lc.IsBase() {
			stats.Base++
			continue
		}
		for _, c := range s.mcache[i] {
			if c.valid(l, lc) {
				next[i] = c
				break
			}
		}
		switch {
		case next[i] != nil:
			stats.Reused++
		default:
			c, err := l.mergeCopy(lc)
			if err != nil {
				return MergeStats{}, err
			}
			next[i] = c
			stats.Merged++
		}
	}
	for i, l := range s.layers {
		lc := st[l.path]
		c := next[i]
		if c != nil && l.merged && l.choice == lc && l.base.W.Value == c.w {
			continue // already computing with these merged tensors
		}
		l.Unmerge()
		l.choice = lc
		if c != nil {
			l.commit(c.w, c.b)
		}
	}
	for i, c := range next {
		if c != nil {
			s.remember(i, c)
		}
	}
	for _, l := range s.layers {
		s.cur[l.path] = l.choice
	}
	s.merged, s.mode = true, ModeFixed
	return stats, nil
}
