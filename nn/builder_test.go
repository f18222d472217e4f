package nn

import (
	"reflect"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
)

// glStore has a ViT-like layout with GLoRA support tensors.
func glStore(t *testing.T) *Store {
	t.Helper()
	s := NewStore()
	b := NewBuilder(s, nil)
	for _, n := range []string{"cls_token", "blocks.0.norm1.weight", "blocks.0.norm1.bias",
		"blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.qkv.glora_Ad",
		"blocks.0.attn.qkv.glora_D", "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc1.glora_E",
		"head.weight", "head.bias"} {
		if _, err := b.Param(n, nil, 2); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func names(vs []*ag.Var) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func TestTrainOnly(t *testing.T) {
	s := glStore(t)
	n, err := s.TrainOnly("**.glora_*", "head")
	if err == nil || !strings.Contains(err.Error(), `"**.glora_*"`) {
		t.Fatalf("a pattern matching nothing ('*' inside a segment is literal): want an error naming it, got %v (n=%d)", err, n)
	}
	if got := len(s.Trainable()); got != len(s.Params()) {
		t.Fatalf("a failed TrainOnly changed the store: %d of %d trainable", got, len(s.Params()))
	}
	n, err = s.TrainOnly("**.glora_Ad", "**.glora_D", "**.glora_E", "head")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"blocks.0.attn.qkv.glora_Ad", "blocks.0.attn.qkv.glora_D", "blocks.1.mlp.fc1.glora_E", "head.weight", "head.bias"}
	if got := names(s.Trainable()); n != len(want) || !reflect.DeepEqual(got, want) {
		t.Fatalf("trainable %v (n=%d), want %v", got, n, want)
	}
	if _, err := s.TrainOnly("blocks..weight"); err == nil {
		t.Fatal("malformed pattern: want an error")
	}
	if _, err := s.TrainOnly(); err == nil {
		t.Fatal("no patterns: want an error")
	}
}

func TestSetTrainableFreezeUnfreeze(t *testing.T) {
	s := glStore(t)
	n := s.SetTrainable(func(name string, _ *ag.Var) bool { return strings.HasPrefix(name, "blocks.0.") })
	if n != 6 || len(s.Trainable()) != 6 {
		t.Fatalf("SetTrainable: %d trainable (%v), want 6", n, names(s.Trainable()))
	}
	if got := s.Freeze("**.bias"); got != 3 { // the two biases of blocks.0, and head.bias (already frozen)
		t.Fatalf("Freeze(**.bias) touched %d parameters, want 3", got)
	}
	if got := names(s.Trainable()); !reflect.DeepEqual(got, []string{"blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.glora_Ad", "blocks.0.attn.qkv.glora_D"}) {
		t.Fatalf("after Freeze(**.bias): trainable %v", got)
	}
	s.Unfreeze("head")
	if v, _ := s.Get("head.bias"); !v.RequiresGrad {
		t.Fatal("Unfreeze(head) left head.bias frozen")
	}
}
