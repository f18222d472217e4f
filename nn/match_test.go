package nn

import "testing"

func TestMatchName(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		// literals and the sub-tree rule
		{"head.weight", "head.weight", true},
		{"head.weight", "head.bias", false},
		{"head", "head.weight", true},
		{"blocks.0", "blocks.0.attn.qkv.weight", true},
		{"blocks.0", "blocks.10.attn.qkv.weight", false},
		{"block", "blocks.0.norm1.weight", false},
		{"blocks.0.attn.qkv.weight.extra", "blocks.0.attn.qkv.weight", false},
		// '*' is one segment
		{"blocks.*.norm1.weight", "blocks.3.norm1.weight", true},
		{"blocks.*.norm1.weight", "blocks.3.x.norm1.weight", false},
		{"blocks.*", "blocks.3.norm1.weight", true},
		{"*", "cls_token", true},
		{"*.bias", "head.bias", true},
		{"*.bias", "blocks.0.norm1.bias", false},
		{"norm*", "norm1.weight", false}, // '*' inside a segment is literal
		// '**' is zero or more segments anywhere
		{"**", "cls_token", true},
		{"**", "blocks.0.attn.qkv.weight", true},
		{"**.bias", "head.bias", true},
		{"**.bias", "blocks.0.attn.qkv.bias", true},
		{"**.bias", "bias", true},
		{"**.bias", "blocks.0.attn.qkv.weight", false},
		{"**.bias", "cls_token", false},
		{"**.bias", "head.bias_scale", false},
		{"blocks.**.weight", "blocks.0.attn.qkv.weight", true},
		{"blocks.**.weight", "blocks.weight", true},
		{"blocks.**.weight", "blocks.0.attn.qkv.bias", false},
		{"blocks.**.weight", "head.weight", false},
		{"blocks.**", "blocks.0.norm1.weight", true},
		{"blocks.**", "head.weight", false},
		{"**.attn.**.glora_D", "blocks.1.attn.qkv.glora_D", true},
		{"**.attn.**.glora_D", "blocks.1.mlp.fc1.glora_D", false},
		{"**.**.bias", "head.bias", true},
		{"**.mlp", "blocks.2.mlp.fc1.weight", true}, // a module's sub-tree
		{"**.*.weight", "head.weight", true},
		{"**.*.weight", "weight", false},
	} {
		if got := MatchName(c.pattern, c.name); got != c.want {
			t.Errorf("MatchName(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestValidatePattern(t *testing.T) {
	for p, ok := range map[string]bool{"**.bias": true, "blocks.*": true, "": false, ".bias": false, "a..b": false, "head.": false} {
		if err := ValidatePattern(p); (err == nil) != ok {
			t.Errorf("ValidatePattern(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}
