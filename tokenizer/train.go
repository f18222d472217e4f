package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TrainOptions tune TrainBPE; the zero value gives the defaults.
type TrainOptions struct {
	// MaxPieceLength is the longest piece, in characters (default 16, SentencePiece's).
	MaxPieceLength int
	// MinFrequency is how often a pair must occur to be merged (default 2).
	MinFrequency int
	// CharacterCoverage is the share of the corpus's character occurrences that the alphabet
	// covers, the most frequent characters first (default 0.9995, SentencePiece's); rarer
	// characters are left to byte fallback.
	CharacterCoverage float64
	// SplitDigits makes every digit a word of its own, so no piece holds two (LLaMA's option).
	SplitDigits bool
}

// ErrCorpusTooSmall is wrapped by TrainBPE's error when the corpus cannot fill the vocabulary.
var ErrCorpusTooSmall = errors.New("corpus too small for the vocabulary size")

// TrainBPE trains a SentencePiece-style BPE vocabulary with byte fallback, laid out as LLaMA's
// and llama2.c's: ids 0 <unk>, 1 <s>, 2 </s>, 3..258 the byte tokens <0x00>..<0xFF>, then the
// merged pieces in the order they were made (scores 0, -1, -2, …), then the alphabet (single
// characters, most frequent first, scores continuing downwards). The result encodes as
// SentencePiece does (see Encode) and writes as tokenizer.bin (WriteLlama2c) and tokenizer.json
// (WriteJSON).
//
// Each corpus entry is a sentence (a line, as SentencePiece reads them): it gets the dummy
// prefix and its spaces become "▁". Sentences are cut into words, and no piece crosses a word
// boundary: a word is an optional "▁" and a run of characters of one class (letters and marks,
// numbers, other whitespace, anything else), a class change starting a new word; a run of
// several "▁" is a whitespace word of its own, less the last "▁", which starts the next word.
// Then, until the vocabulary is full, the most frequent adjacent pair of symbols (counted over
// words times their frequency, pieces of at most MaxPieceLength characters) is merged. Ties go
// to the pair whose left symbol, then right symbol, is older: the alphabet (by descending
// frequency, then code point) before merged pieces, which are ordered by creation. Pair counts
// are updated incrementally (only the words holding the merged pair are revisited), so a few
// MB of text trains a vocabulary of a few thousand in seconds.
//
// It fails (wrapping ErrCorpusTooSmall) when no pair occurs MinFrequency times before the
// vocabulary is full, and when the alphabet alone does not fit.
func TrainBPE(corpus []string, vocabSize int, opt *TrainOptions) (*Tokenizer, error) {
	o := TrainOptions{MaxPieceLength: 16, MinFrequency: 2, CharacterCoverage: 0.9995}
	if opt != nil {
		if opt.MaxPieceLength > 0 {
			o.MaxPieceLength = opt.MaxPieceLength
		}
		if opt.MinFrequency > 0 {
			o.MinFrequency = opt.MinFrequency
		}
		if opt.CharacterCoverage > 0 {
			o.CharacterCoverage = min(opt.CharacterCoverage, 1)
		}
		o.SplitDigits = opt.SplitDigits
	}
	if vocabSize <= 259 || vocabSize > maxVocab {
		return nil, fmt.Errorf("tokenizer: TrainBPE: vocabulary size %d outside (259, %d]: 259 ids are <unk>, <s>, </s> and the bytes", vocabSize, maxVocab)
	}

	// Words and their counts; characters and theirs.
	wordCount := map[string]int64{}
	charCount := map[rune]int64{}
	var total int64
	for _, line := range corpus {
		if line == "" {
			continue
		}
		s := "▁" + strings.ReplaceAll(line, " ", "▁")
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n > 1 {
				charCount[r]++
				total++
			}
			i += n
		}
		splitWords(s, o.SplitDigits, func(w string) { wordCount[w]++ })
	}

	// The alphabet, as SentencePiece picks required_chars: by frequency until the coverage.
	chars := make([]rune, 0, len(charCount))
	for r := range charCount {
		chars = append(chars, r)
	}
	sort.Slice(chars, func(i, j int) bool {
		if charCount[chars[i]] != charCount[chars[j]] {
			return charCount[chars[i]] > charCount[chars[j]]
		}
		return chars[i] < chars[j]
	})
	var covered int64
	alphabet := chars[:0:0]
	for _, r := range chars {
		if float64(covered) >= o.CharacterCoverage*float64(total) {
			break
		}
		covered += charCount[r]
		alphabet = append(alphabet, r)
	}
	nMerged := vocabSize - 259 - len(alphabet)
	if nMerged < 0 {
		return nil, fmt.Errorf("tokenizer: TrainBPE: vocabulary size %d is below 259 + the %d characters the corpus needs at coverage %g: %w",
			vocabSize, len(alphabet), o.CharacterCoverage, ErrCorpusTooSmall)
	}

	tr := newTrainer(alphabet, o.MaxPieceLength)
	words := make([]string, 0, len(wordCount))
	for w := range wordCount {
		words = append(words, w)
	}
	sort.Strings(words)
	for _, w := range words {
		tr.addWord(w, wordCount[w])
	}
	merged, err := tr.run(nMerged, int64(o.MinFrequency))
	if err != nil {
		// the pieces made before the run stopped fit: a vocabulary that
		// much smaller trains on this corpus
		return nil, fmt.Errorf("tokenizer: TrainBPE: %w (a vocabulary of at most %d fits it)", err, vocabSize-(nMerged-len(tr.created)))
	}

	t := &Tokenizer{src: "", family: sentencePiece, space: "▁", bos: 1, eos: 2, unk: 0, stripBOS: true}
	t.pieces = append(t.pieces, "<unk>", "<s>", "</s>")
	for b := 0; b < 256; b++ {
		t.pieces = append(t.pieces, bytePiece(byte(b)))
	}
	t.scores = make([]float32, 259, vocabSize)
	for k, p := range merged {
		t.pieces = append(t.pieces, p)
		t.scores = append(t.scores, -float32(k))
	}
	for k, r := range alphabet {
		t.pieces = append(t.pieces, string(r))
		t.scores = append(t.scores, -float32(len(merged)+k))
	}
	t.kinds = make([]uint8, len(t.pieces))
	t.kinds[0], t.kinds[1], t.kinds[2] = kindControl, kindControl, kindControl
	t.finishIndex()
	t.scorePairs()
	t.finish()
	return t, nil
}

// splitWords cuts a normalized sentence into TrainBPE's words.
func splitWords(s string, splitDigits bool, emit func(string)) {
	const sp = "▁"
	for i := 0; i < len(s); {
		start := i
		j := i
		for strings.HasPrefix(s[j:], sp) {
			j += len(sp)
		}
		if j > i {
			if j == len(s) {
				emit(s[i:j])
				return
			}
			if j-i > len(sp) {
				emit(s[i : j-len(sp)])
				start = j - len(sp)
			}
			i = j
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		cls := wordClass(r)
		k := i + n
		if !(splitDigits && cls == 1) {
			for k < len(s) && !strings.HasPrefix(s[k:], sp) {
				r2, n2 := utf8.DecodeRuneInString(s[k:])
				if wordClass(r2) != cls {
					break
				}
				k += n2
			}
		}
		emit(s[start:k])
		i = k
	}
}

func wordClass(r rune) int {
	switch {
	case unicode.IsLetter(r) || unicode.IsMark(r):
		return 0
	case unicode.IsNumber(r):
		return 1
	case unicode.IsSpace(r):
		return 2
	}
	return 3
}

// trainer holds the state of the merges: unique words as symbol sequences, pair counts, the
// words each pair occurs in, and a lazy max-heap of pairs by count.
type trainer struct {
	maxLen  int
	pieces  []string // per symbol
	runes   []int    // per symbol: length in characters
	bySym   map[string]int32
	alpha   map[rune]int32
	words   [][]int32
	counts  []int64
	pairs   map[uint64]*pairStat
	heap    pairHeap
	seen    []int // per word: the last merge step that visited it
	delta   map[uint64]int64
	fresh   map[uint64][]int32 // pairs made by this merge step → words they appear in
	created []string
}

type pairStat struct {
	count int64
	words []int32 // words it has occurred in (possibly no longer)
}

func newTrainer(alphabet []rune, maxLen int) *trainer {
	tr := &trainer{maxLen: maxLen, bySym: map[string]int32{}, alpha: map[rune]int32{},
		pairs: map[uint64]*pairStat{}, delta: map[uint64]int64{}, fresh: map[uint64][]int32{}}
	for i, r := range alphabet {
		tr.alpha[r] = int32(i)
		tr.bySym[string(r)] = int32(i)
		tr.pieces = append(tr.pieces, string(r))
		tr.runes = append(tr.runes, 1)
	}
	return tr
}

// eligible: both symbols known and the merged piece not too long.
func (tr *trainer) eligible(a, b int32) bool {
	return a >= 0 && b >= 0 && tr.runes[a]+tr.runes[b] <= tr.maxLen
}

func (tr *trainer) addWord(w string, count int64) {
	syms := make([]int32, 0, len(w))
	for i := 0; i < len(w); {
		r, n := utf8.DecodeRuneInString(w[i:])
		id, ok := tr.alpha[r]
		if !ok || (r == utf8.RuneError && n == 1) {
			id = -1 // outside the alphabet: byte fallback, never merged
		}
		syms = append(syms, id)
		i += n
	}
	wi := int32(len(tr.words))
	tr.words = append(tr.words, syms)
	tr.counts = append(tr.counts, count)
	tr.seen = append(tr.seen, -1)
	for k := 0; k+1 < len(syms); k++ {
		if !tr.eligible(syms[k], syms[k+1]) {
			continue
		}
		key := pairKey(syms[k], syms[k+1])
		st := tr.pairs[key]
		if st == nil {
			st = &pairStat{}
			tr.pairs[key] = st
		}
		st.count += count
		if n := len(st.words); n == 0 || st.words[n-1] != wi {
			st.words = append(st.words, wi)
		}
	}
}

// run makes n new pieces and returns them in order.
func (tr *trainer) run(n int, minFreq int64) ([]string, error) {
	keys := make([]uint64, 0, len(tr.pairs))
	for k := range tr.pairs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		tr.heap.push(pairEntry{count: tr.pairs[k].count, key: k})
	}
	for step := 0; len(tr.created) < n; step++ {
		best, ok := tr.best()
		if !ok || tr.pairs[best].count < minFreq {
			return nil, fmt.Errorf("%d of %d merged pieces made before no pair occurred %d times: %w", len(tr.created), n, minFreq, ErrCorpusTooSmall)
		}
		tr.mergePair(best, step)
	}
	return tr.created, nil
}

// best pops the valid top of the heap.
func (tr *trainer) best() (uint64, bool) {
	for len(tr.heap) > 0 {
		e := tr.heap.pop()
		st := tr.pairs[e.key]
		if st == nil || st.count <= 0 {
			continue
		}
		if st.count == e.count {
			return e.key, true
		}
		if st.count < e.count { // went down since: queue it again at its count
			tr.heap.push(pairEntry{count: st.count, key: e.key})
		}
	}
	return 0, false
}

func (tr *trainer) mergePair(key uint64, step int) {
	a, b := int32(key>>32), int32(uint32(key))
	piece := tr.pieces[a] + tr.pieces[b]
	c, ok := tr.bySym[piece]
	if !ok {
		c = int32(len(tr.pieces))
		tr.pieces = append(tr.pieces, piece)
		tr.runes = append(tr.runes, tr.runes[a]+tr.runes[b])
		tr.bySym[piece] = c
		tr.created = append(tr.created, piece)
	}
	clear(tr.delta)
	clear(tr.fresh)
	for _, wi := range tr.pairs[key].words {
		if tr.seen[wi] == step {
			continue
		}
		tr.seen[wi] = step
		old := tr.words[wi]
		has := false
		for k := 0; k+1 < len(old); k++ {
			if old[k] == a && old[k+1] == b {
				has = true
				break
			}
		}
		if !has {
			continue
		}
		cnt := tr.counts[wi]
		for k := 0; k+1 < len(old); k++ {
			if tr.eligible(old[k], old[k+1]) {
				tr.delta[pairKey(old[k], old[k+1])] -= cnt
			}
		}
		nw := make([]int32, 0, len(old))
		for k := 0; k < len(old); k++ {
			if k+1 < len(old) && old[k] == a && old[k+1] == b {
				nw = append(nw, c)
				k++
				continue
			}
			nw = append(nw, old[k])
		}
		tr.words[wi] = nw
		for k := 0; k+1 < len(nw); k++ {
			if !tr.eligible(nw[k], nw[k+1]) {
				continue
			}
			pk := pairKey(nw[k], nw[k+1])
			tr.delta[pk] += cnt
			if nw[k] == c || nw[k+1] == c {
				if l := tr.fresh[pk]; len(l) == 0 || l[len(l)-1] != wi {
					tr.fresh[pk] = append(l, wi)
				}
			}
		}
	}
	// Apply in key order, so that the heap (and so tie-breaking among equal entries) does not
	// depend on map iteration.
	keys := make([]uint64, 0, len(tr.delta))
	for k := range tr.delta {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		d := tr.delta[k]
		st := tr.pairs[k]
		if st == nil {
			st = &pairStat{}
			tr.pairs[k] = st
		}
		st.count += d
		st.words = append(st.words, tr.fresh[k]...)
		if st.count <= 0 {
			delete(tr.pairs, k)
			continue
		}
		if d > 0 {
			tr.heap.push(pairEntry{count: st.count, key: k})
		}
	}
}

type pairEntry struct {
	count int64
	key   uint64 // left<<32 | right: smaller is older, so ties go to it
}

// pairHeap is a max-heap on (count, -key).
type pairHeap = maxHeap[pairEntry]

func (a pairEntry) before(b pairEntry) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return a.key < b.key
}
