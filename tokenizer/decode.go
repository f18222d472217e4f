package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// Decode turns token ids back into text. Control tokens (BOS, EOS, <unk>, special added tokens)
// give nothing; byte-fallback tokens and byte-level pieces give their raw bytes, so a sequence
// that spells invalid UTF-8 decodes to exactly those bytes (Hugging Face would print U+FFFD).
// In SentencePiece-style vocabularies with a dummy prefix, a text piece that begins the sequence
// or follows BOS drops one leading space, as SentencePiece's decode and llama2.c do. So
// Decode(Encode(s, bos, eos)) == s for every s, BOS or not, except that in tokenizer.json an
// added token's content in s becomes that token (a special one then decodes to nothing), a
// literal "▁" comes back as a space where pieces write a space "▁" (as in SentencePiece), and
// the legacy Metaspace pre-tokenizer does not prefix a text that starts with a space (as in
// Hugging Face). An id out of range is an error.
func (t *Tokenizer) Decode(ids []int) (string, error) {
	s := &Stream{t: t, strip: t.stripBOS}
	for i, id := range ids {
		if err := s.add(id); err != nil {
			return "", fmt.Errorf("tokenizer: Decode: ids[%d]: %w", i, err)
		}
	}
	return s.Flush(), nil
}

// Stream decodes tokens one at a time, as a model generates them: Next returns the text that
// token completes. Bytes that start a UTF-8 sequence are held back until the sequence is
// complete (a "€" spelled <0xE2><0x82><0xAC> comes out whole, with the third token), or until
// it is clear they never will be (they are then given raw). As in llama2.c's decode, a text
// piece that directly follows BOS drops a leading space (SentencePiece-style vocabularies with
// a dummy prefix); unlike Decode, a stream's first token is taken as mid-text, keeping its space.
type Stream struct {
	t       *Tokenizer
	pending []byte
	strip   bool // the next text piece drops a leading space
}

// NewStream starts a streaming decoder.
func (t *Tokenizer) NewStream() *Stream { return &Stream{t: t} }

// Next adds one token and returns the text it completes (often "", or more than the token's
// own text when it completes held-back bytes). An id out of range is an error and changes
// nothing.
func (s *Stream) Next(id int) (string, error) {
	if err := s.add(id); err != nil {
		return "", fmt.Errorf("tokenizer: Stream.Next: %w", err)
	}
	n := completePrefix(s.pending)
	out := string(s.pending[:n])
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return out, nil
}

// Flush returns whatever is held back (bytes of an unfinished UTF-8 sequence, raw) and resets
// the stream to mid-text.
func (s *Stream) Flush() string {
	out := string(s.pending)
	s.pending = s.pending[:0]
	s.strip = false
	return out
}

func (s *Stream) add(id int) error {
	t := s.t
	if id < 0 || id >= len(t.pieces) {
		return fmt.Errorf("token id %d outside the vocabulary of %d", id, len(t.pieces))
	}
	switch t.kinds[id] {
	case kindControl:
		s.strip = id == t.bos && t.stripBOS
		return nil
	case kindText:
		p := t.surface[id]
		if s.strip && len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		s.pending = append(s.pending, p...)
	default:
		s.pending = append(s.pending, t.surface[id]...)
	}
	s.strip = false
	return nil
}

// completePrefix is how much of b can be given out: all of it but a trailing start of a UTF-8
// sequence that more bytes could still complete.
func completePrefix(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		i := len(b) - k
		if !utf8.RuneStart(b[i]) {
			continue
		}
		if b[i] >= 0xC0 && !utf8.FullRune(b[i:]) {
			return i
		}
		break
	}
	return len(b)
}
