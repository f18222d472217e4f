package tokenizer

import (
	"strings"
	"testing"
)

// streamAll feeds ids one by one and returns each Next's text and the Flush.
func streamAll(t *testing.T, tok *Tokenizer, ids []int) []string {
	t.Helper()
	s := tok.NewStream()
	var out []string
	for _, id := range ids {
		piece, err := s.Next(id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, piece)
	}
	return append(out, s.Flush())
}

func TestStreamByteFallback(t *testing.T) {
	tok := mustLoad(t, "sp.bin")
	euro := []int{0xE2 + 3, 0x82 + 3, 0xAC + 3}
	ids := append([]int{tok.BOS(), tok.ID(" a")}, euro...)
	ids = append(ids, tok.ID(" a"), tok.EOS())
	got := streamAll(t, tok, ids)
	want := []string{"", "a", "", "", "€", " a", "", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("stream %q, want %q", got, want)
	}
	// Without BOS the first piece keeps its space (mid-text), unlike Decode.
	got = streamAll(t, tok, []int{tok.ID(" a"), tok.ID(" a")})
	if strings.Join(got, "") != " a a" {
		t.Fatalf("stream %q", got)
	}
	if s, _ := tok.Decode([]int{tok.ID(" a"), tok.ID(" a")}); s != "a a" {
		t.Fatalf("Decode %q", s)
	}
	// A byte token after BOS keeps its space (run.c tests the piece "<0x20>", not " ").
	if got := streamAll(t, tok, []int{1, 0x20 + 3, tok.ID(" a")}); strings.Join(got, "") != "  a" {
		t.Fatalf("stream %q", got)
	}
	// An unfinished sequence cut by a text piece, or left at the end, comes out raw.
	got = streamAll(t, tok, []int{0xE2 + 3, 0x82 + 3, tok.ID(" a"), 0xF0 + 3})
	if want := []string{"", "", "\xe2\x82 a", "", "\xf0"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("stream %q, want %q", got, want)
	}
	// A stray continuation byte is given at once.
	if got := streamAll(t, tok, []int{0x80 + 3}); got[0] != "\x80" {
		t.Fatalf("stream %q", got)
	}
	// Out of range: an error, nothing changes.
	s := tok.NewStream()
	if _, err := s.Next(tok.VocabSize()); err == nil {
		t.Fatal("id out of range accepted")
	}
	if _, err := tok.Decode([]int{-1}); err == nil {
		t.Fatal("Decode(-1) accepted")
	}
}

func TestStreamByteLevel(t *testing.T) {
	tok := mustLoad(t, "llama3.json")
	text := "héllo 🦊 wörld, 日本語"
	ids, err := tok.Encode(text, true, true)
	if err != nil {
		t.Fatal(err)
	}
	got := streamAll(t, tok, ids)
	if strings.Join(got, "") != text {
		t.Fatalf("stream gives %q", strings.Join(got, ""))
	}
	for i, p := range got {
		if !validUTF8(p) {
			t.Fatalf("Next %d gave a broken sequence %q", i, p)
		}
	}
	// The fox's four bytes are split over tokens: nothing comes out until the last.
	fox, _ := tok.Encode("🦊", false, false)
	if len(fox) < 2 {
		t.Fatalf("🦊 is %v", fox)
	}
	if got := streamAll(t, tok, fox); strings.Join(got, "") != "🦊" || got[len(fox)-1] != "🦊" {
		t.Fatalf("stream %q", got)
	}
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestCompletePrefix(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", 0}, {"a", 1}, {"\xe2", 0}, {"\xe2\x82", 0}, {"\xe2\x82\xac", 3}, {"a\xf0\x9f\x98", 1},
		{"\x80\x80\x80", 3}, {"\xc0", 1}, {"\xed\xa0", 2}, {"é\xc3", 2}, {"\xf0\x9f\x98\x80", 4},
	} {
		if got := completePrefix([]byte(c.in)); got != c.want {
			t.Errorf("completePrefix(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestSpecials(t *testing.T) {
	tok := mustLoad(t, "sp.json")
	if !tok.IsSpecial(0) || !tok.IsSpecial(1) || !tok.IsSpecial(2) || tok.IsSpecial(300) {
		t.Fatal("IsSpecial")
	}
	if tok.Piece(1) != "<s>" || tok.Piece(-1) != "" || tok.Piece(1<<20) != "" || tok.ID("<s>") != 1 || tok.ID("nope") != -1 {
		t.Fatal("Piece/ID")
	}
	bin := mustLoad(t, "sp.bin")
	if bin.Piece(1) != "\n<s>\n" || bin.Score(300) >= 0 || bin.Score(-5) != 0 {
		t.Fatal("llama2.c pieces and scores")
	}
	if err := tok.SetEOS(tok.VocabSize()); err == nil {
		t.Fatal("SetEOS out of range accepted")
	}
	gpt2 := mustLoad(t, "gpt2.json")
	if err := gpt2.SetBOS(gpt2.EOS()); err != nil {
		t.Fatal(err)
	}
	ids, _ := gpt2.Encode("hi", true, false)
	if ids[0] != 512 {
		t.Fatalf("SetBOS: %v", ids)
	}
}
