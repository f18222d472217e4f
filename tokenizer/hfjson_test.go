package tokenizer

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// tinyJSON is a small byte-level tokenizer.json; parts replace its sections.
func tinyJSON(parts map[string]string) string {
	s := map[string]string{
		"added": `[{"id": 5, "content": "<|endoftext|>", "special": true}]`,
		"norm":  `null`,
		"pre":   `{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}`,
		"post":  `null`,
		"model": `{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4}, "merges": ["a b", ["Ġ", "ab"]]}`,
	}
	for k, v := range parts {
		s[k] = v
	}
	return `{"version": "1.0", "added_tokens": ` + s["added"] + `, "normalizer": ` + s["norm"] +
		`, "pre_tokenizer": ` + s["pre"] + `, "post_processor": ` + s["post"] + `, "model": ` + s["model"] + `}`
}

func TestJSONTiny(t *testing.T) {
	tok, err := ParseJSON([]byte(tinyJSON(nil)), "tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode("ab ab<|endoftext|>", true, true)
	if err != nil || !reflect.DeepEqual(ids, []int{2, 4, 5, 5}) {
		t.Fatalf("%v %v", ids, err)
	}
	if _, err := tok.Encode("abc", false, false); err == nil || !strings.Contains(err.Error(), "no <unk>") {
		t.Fatalf("unknown byte without <unk>: %v", err)
	}
	// An unk_token missing from the vocabulary is no <unk>.
	unk, err := ParseJSON([]byte(tinyJSON(map[string]string{"pre": "null", "model": `{"type": "BPE", "unk_token": "<unk>", "vocab": {"a": 0}, "merges": []}`})), "unk.json")
	if err != nil || unk.Unk() != -1 {
		t.Fatalf("%v", err)
	}
	if _, err := unk.Encode("ab", false, false); err == nil || !strings.Contains(err.Error(), "unk.json") {
		t.Fatalf("unknown character: %v", err)
	}
	if s, _ := tok.Decode([]int{2, 4, 5}); s != "ab ab" {
		t.Fatalf("Decode %q", s)
	}
}

func TestJSONBadFiles(t *testing.T) {
	for _, c := range []struct {
		name, json, want string
	}{
		{"not json", `{"model": `, "not a tokenizer.json"},
		{"no model", `{"added_tokens": []}`, `no "model"`},
		{"unigram", tinyJSON(map[string]string{"model": `{"type": "Unigram", "vocab": [["a", 0]]}`}), `model type "Unigram"`},
		{"dropout", tinyJSON(map[string]string{"model": `{"type": "BPE", "dropout": 0.1, "vocab": {}, "merges": []}`}), "dropout"},
		{"prefix", tinyJSON(map[string]string{"model": `{"type": "BPE", "continuing_subword_prefix": "##", "vocab": {}, "merges": []}`}), "continuing_subword_prefix"},
		{"negative id", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": -1}, "merges": []}`}), `model.vocab["a"]: id -1`},
		{"huge id", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 99999999999}, "merges": []}`}), "out of range"},
		{"float id", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 1.5}, "merges": []}`}), "model: json: cannot unmarshal number 1.5"},
		{"same id", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}`}), "id 0 is given to both"},
		{"merge piece", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]}`}), `model.merges[0]: "c" is not in model.vocab`},
		{"merge result", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}`}), `the merged "ab"`},
		{"merge form", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 0}, "merges": ["a a a"]}`}), "not two pieces"},
		{"merge type", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 0}, "merges": [[1, 2]]}`}), "neither"},
		{"merge pair", tinyJSON(map[string]string{"model": `{"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}`}), "1 pieces, want 2"},
		{"added id", tinyJSON(map[string]string{"added": `[{"content": "<x>"}]`}), `added_tokens[0] ("<x>"): no id`},
		{"added clash", tinyJSON(map[string]string{"added": `[{"id": 0, "content": "<x>"}]`}), `model.vocab gives it to "a"`},
		{"nfc", tinyJSON(map[string]string{"norm": `{"type": "NFC"}`}), `normalizer "NFC" is not supported`},
		{"nested", tinyJSON(map[string]string{"norm": `{"type": "Sequence", "normalizers": [{"type": "Lowercase"}]}`}), `normalizer.normalizers[0]: normalizer "Lowercase"`},
		{"replace", tinyJSON(map[string]string{"norm": `{"type": "Replace", "pattern": {}, "content": "x"}`}), "neither String nor Regex"},
		{"whitespace", tinyJSON(map[string]string{"pre": `{"type": "Whitespace"}`}), `pre-tokenizer "Whitespace"`},
		{"lookahead", tinyJSON(map[string]string{"pre": `{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "a(?!b)"}, "behavior": "Isolated"}, {"type": "ByteLevel", "use_regex": false}]}`}), "pre_tokenizer.pretokenizers[0]: Split pattern"},
		{"behavior", tinyJSON(map[string]string{"pre": `{"type": "Split", "pattern": {"String": " "}, "behavior": "Contiguous"}`}), `Split behavior "Contiguous"`},
		{"bytelevel first", tinyJSON(map[string]string{"pre": `{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}`}), "ByteLevel must be the last"},
		{"scheme", tinyJSON(map[string]string{"pre": `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"}`}), "prepend_scheme"},
	} {
		_, err := ParseJSON([]byte(c.json), c.name+".json")
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.name+".json") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (want %q)", c.name, err, c.want)
		}
	}
}

// Pre-tokenizers beyond the fixtures': Digits, literal and RE2 Split patterns and behaviours,
// Strip, a regex Replace.
func TestJSONPipelineSteps(t *testing.T) {
	vocab := `{"a": 0, "b": 1, "1": 2, "2": 3, " ": 4, "<unk>": 5}`
	model := `{"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "vocab": ` + vocab + `, "merges": []}`
	for _, c := range []struct {
		norm, pre, text string
		want            []int
	}{
		{`null`, `{"type": "Digits", "individual_digits": true}`, "a12b", []int{0, 2, 3, 1}},
		{`null`, `{"type": "Split", "pattern": {"String": " "}, "behavior": "Removed"}`, "a b  a", []int{0, 1, 0}},
		{`null`, `{"type": "Split", "pattern": {"Regex": "[0-9]+"}, "behavior": "MergedWithPrevious", "invert": false}`, "a12b", []int{0, 2, 3, 1}},
		{`{"type": "Strip", "strip_left": true, "strip_right": true}`, `null`, "  ab  ", []int{0, 1}},
		{`{"type": "Replace", "pattern": {"Regex": "[0-9]"}, "content": "a"}`, `null`, "b12", []int{1, 0, 0}},
		{`null`, `null`, "a€€b", []int{0, 5, 1}}, // unknown characters fused into one <unk>
	} {
		tok, err := ParseJSON([]byte(tinyJSON(map[string]string{"added": "[]", "norm": c.norm, "pre": c.pre, "model": model})), "steps.json")
		if err != nil {
			t.Fatal(err)
		}
		got, err := tok.Encode(c.text, false, false)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s %q: %v %v, want %v", c.norm, c.pre, c.text, got, err, c.want)
		}
	}
}
