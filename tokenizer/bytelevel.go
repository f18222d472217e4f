package tokenizer

// GPT-2's bytes_to_unicode: every byte is a printable character in byte-level vocabularies. The
// bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves; the other 68 (controls, space,
// DEL, NBSP, soft hyphen…) take U+0100 onwards in byte order, so a space is 'Ġ' (U+0120) and a
// newline 'Ċ' (U+010A).
var (
	byteToRune [256]rune
	runeToByte = make(map[rune]byte, 256)
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// fromByteLevel maps a byte-level piece back to its bytes; ok is false when some character is
// not one of the 256 (Hugging Face's ByteLevel decoder then keeps the piece's own UTF-8).
func fromByteLevel(p string) (string, bool) {
	out := make([]byte, 0, len(p))
	for _, r := range p {
		b, ok := runeToByte[r]
		if !ok {
			return p, false
		}
		out = append(out, b)
	}
	return string(out), true
}
