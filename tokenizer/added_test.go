package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// withAdded is a fixture with more added tokens appended.
func withAdded(t *testing.T, name string, added ...map[string]any) *Tokenizer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(refDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	list := f["added_tokens"].([]any)
	for _, a := range added {
		full := map[string]any{"single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
		for k, v := range a {
			full[k] = v
		}
		list = append(list, full)
	}
	f["added_tokens"] = list
	data, _ = json.Marshal(f)
	tok, err := ParseJSON(data, name+"+added")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Added tokens with lstrip, rstrip, single_word, overlapping contents and normalized contents.
// The expected ids are Hugging Face tokenizers 0.23.2's (its Node binding, on these very files).
func TestAddedTokenFlags(t *testing.T) {
	g := withAdded(t, "gpt2.json",
		map[string]any{"id": 513, "content": "<mask>", "lstrip": true},
		map[string]any{"id": 514, "content": "[R]", "rstrip": true},
		map[string]any{"id": 515, "content": "word", "single_word": true, "special": false},
		map[string]any{"id": 516, "content": "<mask>x"})
	s := withAdded(t, "sp.json",
		map[string]any{"id": 512, "content": "</x>", "normalized": true},
		map[string]any{"id": 513, "content": "▁hey", "normalized": true, "special": false})
	for _, c := range []struct {
		tok  *Tokenizer
		text string
		want []int
	}{
		{g, "I saw a   <mask> there", []int{73, 290, 119, 263, 513, 271, 264}},
		{g, "x [R]   y", []int{120, 32, 514, 121}},
		{g, "a word, words, sword word_ wordy (word)", []int{97, 32, 515, 44, 261, 353, 115, 44, 257, 119, 353, 261, 353, 95, 261, 353, 121, 32, 40, 515, 41}},
		{g, "<mask>x <mask>y", []int{516, 513, 121}},
		{g, "\t<mask>", []int{513}},
		{s, "I saw a   <mask> there", []int{343, 290, 398, 266, 294, 490, 397, 385, 389, 423, 65, 276, 268}},
		{s, "x [R]   y", []int{383, 410, 383, 491, 445, 492, 294, 407}},
		{s, "a</x>b </x> c", []int{266, 490, 422, 410, 65, 401, 512, 275}},
		{s, "hey hey, they", []int{383, 263, 407, 383, 263, 407, 403, 321}},
		{s, " hey", []int{513}},
	} {
		got, err := c.tok.Encode(c.text, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %q: %v, Hugging Face %v", c.tok.src, c.text, got, c.want)
		}
	}
}

// ByteLevel's add_prefix_space, after added tokens and after a Split: every piece gets the space.
// The expected ids are Hugging Face tokenizers 0.23.2's on these files.
func TestByteLevelPrefixSpace(t *testing.T) {
	edit := func(name string, change func(map[string]any)) *Tokenizer {
		data, err := os.ReadFile(filepath.Join(refDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		json.Unmarshal(data, &f)
		change(f["pre_tokenizer"].(map[string]any))
		data, _ = json.Marshal(f)
		tok, err := ParseJSON(data, name+"+prefix")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	g := edit("gpt2.json", func(p map[string]any) { p["add_prefix_space"] = true })
	l := edit("llama3.json", func(p map[string]any) {
		p["pretokenizers"].([]any)[1].(map[string]any)["add_prefix_space"] = true
	})
	for _, c := range []struct {
		tok  *Tokenizer
		text string
		want []int
	}{
		{g, "hello<|endoftext|>world  x", []int{32, 260, 108, 108, 111, 512, 261, 296, 108, 100, 32, 32, 120}},
		{g, " already", []int{263, 108, 264, 97, 100, 121}},
		{g, "a\nb", []int{263, 10, 98}},
		{l, "hello<|endoftext|>world  x", []int{32, 260, 108, 108, 111, 32, 60, 124, 32, 278, 100, 111, 102, 116, 358, 116, 32, 124, 62, 261, 297, 108, 100, 32, 32, 120}},
		{l, " already", []int{263, 108, 264, 97, 100, 121}},
		{l, "a\nb", []int{263, 32, 10, 265}},
	} {
		got, err := c.tok.Encode(c.text, false, false)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %q: %v %v, Hugging Face %v", c.tok.src, c.text, got, err, c.want)
		}
	}
}
