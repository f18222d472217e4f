package tokenizer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glora/glora/tokenizer"
)

func Example() {
	// Train a tiny SentencePiece-style vocabulary (real ones load with tokenizer.Load).
	corpus := strings.Split(strings.Repeat("the cat sat on the mat\nthe dog sat on the log\n", 20), "\n")
	tok, err := tokenizer.TrainBPE(corpus, 285, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, _ := tok.Encode("the cat sat on the log €", true, false)
	var pieces []string
	for _, id := range ids {
		pieces = append(pieces, fmt.Sprintf("%d:%q", id, tok.Piece(id)))
	}
	fmt.Println(strings.Join(pieces, " "))

	// Decode gives the text back; a Stream gives it token by token, as generation does, holding
	// the byte tokens of "€" until the character is whole.
	text, _ := tok.Decode(ids)
	fmt.Printf("%q\n", text)
	st := tok.NewStream()
	var parts []string
	for _, id := range ids {
		s, _ := st.Next(id)
		parts = append(parts, s)
	}
	fmt.Printf("%q\n", parts)

	// Save it for llama2.c and for Hugging Face; both read back to the same ids.
	dir, _ := os.MkdirTemp("", "tok")
	defer os.RemoveAll(dir)
	tok.WriteLlama2c(filepath.Join(dir, "tokenizer.bin"))
	tok.WriteJSON(filepath.Join(dir, "tokenizer.json"))
	for _, name := range []string{"tokenizer.bin", "tokenizer.json"} {
		again, err := tokenizer.Load(filepath.Join(dir, name))
		if err != nil {
			fmt.Println(err)
			return
		}
		same, _ := again.Encode("the cat sat on the log €", true, false)
		fmt.Println(name, again.VocabSize(), fmt.Sprint(same) == fmt.Sprint(ids))
	}
	// Output:
	// 1:"<s>" 262:"▁the" 268:"▁c" 260:"at" 267:"▁sat" 266:"▁on" 262:"▁the" 270:"▁l" 265:"og" 272:"▁" 229:"<0xE2>" 133:"<0x82>" 175:"<0xAC>"
	// "the cat sat on the log €"
	// ["" "the" " c" "at" " sat" " on" " the" " l" "og" " " "" "" "€"]
	// tokenizer.bin 285 true
	// tokenizer.json 285 true
}
