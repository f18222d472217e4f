package tokenizer

import "unicode/utf8"

// merge applies BPE merges to a symbol sequence in place and returns it shortened: while some
// adjacent pair (a, b) is in t.pairs, the pair with the highest priority is replaced by its
// merged token, the leftmost on ties. That is both run.c's rule (the pair whose concatenation
// is the piece with the highest score; SentencePiece's BPE does the same) and Hugging Face's
// (the pair with the lowest merge rank), depending on what t.pairs holds.
//
// A heap of candidate pairs makes it O(n log n) rather than run.c's O(n²) rescans; the order in
// which merges happen is the same. A candidate is stale once either of its symbols has changed,
// and is then skipped.
func (t *Tokenizer) merge(syms []int32, sc *scratch) []int32 {
	n := len(syms)
	if n < 2 || len(t.pairs) == 0 {
		return syms
	}
	if n == 2 {
		if m, ok := t.pairs[pairKey(t.canon[syms[0]], t.canon[syms[1]])]; ok {
			syms[0] = m.id
			return syms[:1]
		}
		return syms
	}
	if sc == nil {
		sc = &scratch{}
	}
	next := grow(sc.next, n)
	prev := grow(sc.prev, n)
	sc.next, sc.prev = next, prev
	for i := range syms {
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
	}
	next[n-1] = -1
	h := sc.heap[:0]
	defer func() { sc.heap = h[:0] }()
	push := func(l int32) {
		if l < 0 || next[l] < 0 {
			return
		}
		r := next[l]
		a, b := syms[l], syms[r]
		if m, ok := t.pairs[pairKey(t.canon[a], t.canon[b])]; ok {
			h.push(cand{pri: m.pri, pos: l, left: a, right: b, id: m.id})
		}
	}
	for i := int32(0); i < int32(n-1); i++ {
		push(i)
	}
	for len(h) > 0 {
		c := h.pop()
		l := c.pos
		if syms[l] != c.left {
			continue
		}
		r := next[l]
		if r < 0 || syms[r] != c.right {
			continue
		}
		syms[l] = c.id
		syms[r] = -1
		next[l] = next[r]
		if next[r] >= 0 {
			prev[next[r]] = l
		}
		push(prev[l])
		push(l)
	}
	out := syms[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}

// scratch is memory merge reuses from one call to the next.
type scratch struct {
	next, prev []int32
	heap       candHeap
}

func grow(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n, n+n/4)
	}
	return s[:n]
}

// mergeChunks is merge on a long sequence cut where no merge can ever reach across: between
// symbols a and b such that no piece holds a's last character followed by b's first (every
// piece a merge across the cut could make would). The result is merge's; the heaps stay small.
func (t *Tokenizer) mergeChunks(syms []int32, sc *scratch) []int32 {
	if len(syms) < 32 || t.adjacent == nil {
		return t.merge(syms, sc)
	}
	out := syms[:0]
	start := 0
	for i := 1; i <= len(syms); i++ {
		if i < len(syms) && !t.cuttable(syms[i-1], syms[i]) {
			continue
		}
		out = append(out, t.merge(syms[start:i], sc)...)
		start = i
	}
	return out
}

func (t *Tokenizer) cuttable(a, b int32) bool {
	l, f := t.lastRune[a], t.firstRune[b]
	if l == utf8.RuneError || f == utf8.RuneError {
		return false
	}
	_, joined := t.adjacent[pairKey(l, f)]
	return !joined
}

// buildAdjacency records, for mergeChunks, every pair of adjacent characters inside a piece and
// each piece's first and last character (RuneError where the piece is empty or not UTF-8, which
// never cuts).
func (t *Tokenizer) buildAdjacency() {
	t.adjacent = make(map[uint64]struct{})
	t.firstRune = make([]rune, len(t.pieces))
	t.lastRune = make([]rune, len(t.pieces))
	for id, p := range t.pieces {
		t.firstRune[id], t.lastRune[id] = utf8.RuneError, utf8.RuneError
		prev := rune(-1)
		for i, r := range p {
			if r == utf8.RuneError {
				prev = -1
				continue
			}
			if i == 0 {
				t.firstRune[id] = r
			}
			if prev >= 0 {
				t.adjacent[pairKey(prev, r)] = struct{}{}
			}
			prev = r
		}
		if r, n := utf8.DecodeLastRuneInString(p); n > 0 && r != utf8.RuneError {
			t.lastRune[id] = r
		}
	}
}

// cand is a candidate merge of the symbols at pos and its right neighbour.
type cand struct {
	pri         float64
	pos         int32
	left, right int32 // the two symbols when the candidate was made
	id          int32 // what they merge into
}

// candHeap is a binary max-heap on (pri, -pos).
type candHeap = maxHeap[cand]

func (a cand) before(b cand) bool {
	if a.pri != b.pri {
		return a.pri > b.pri
	}
	return a.pos < b.pos
}
