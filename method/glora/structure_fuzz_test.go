package glora

import (
	"encoding/json"
	"testing"
)

// FuzzStructureJSON: a structure file (search's structure.json, --structure)
// either fails to parse with an error or reads back, every rank within
// [1, MaxRank], and formats to a file that reads back to the same structure.
func FuzzStructureJSON(f *testing.F) {
	f.Add([]byte(`{"blocks.0.attn.qkv": {"A": "lora_8", "B": "vector", "C": "none", "D": "constant", "E": "vector"}}`))
	f.Add([]byte(`{"a": {"A": "none", "B": "lora_4096", "C": "lora_1", "D": "none", "E": "none"}, "b.1": {"A": "none", "B": "none", "C": "none", "D": "none", "E": "none"}}`))
	f.Add([]byte(`{"a": {"A": "lora_4097"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var st Structure
		if err := json.Unmarshal(data, &st); err != nil {
			return
		}
		for p, lc := range st {
			for s, c := range lc {
				if c.Kind == LoRA && (c.Rank < 1 || c.Rank > MaxRank) {
					t.Fatalf("layer %q %s: rank %d accepted", p, Support(s), c.Rank)
				}
			}
		}
		var back Structure
		if err := json.Unmarshal(st.Format(), &back); err != nil {
			t.Fatalf("formatted structure does not parse: %v\n%s", err, st.Format())
		}
		if back.Key() != st.Key() {
			t.Fatalf("round trip changed the structure:\n%s\n%s", st.Format(), back.Format())
		}
	})
}
