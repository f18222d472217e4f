package glora

import (
	"strings"
	"testing"

	"github.com/glora/glora/nn"
)

func fakeSites() []nn.LinearSite {
	var s []nn.LinearSite
	for _, p := range []string{"blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.0.mlp.fc1", "blocks.0.mlp.fc2",
		"blocks.1.attn.qkv", "blocks.1.attn.proj", "blocks.1.mlp.fc1", "blocks.1.mlp.fc2"} {
		s = append(s, nn.LinearSite{Path: p})
	}
	return append(s, nn.LinearSite{Path: "head", Head: true})
}

func TestSelectTargets(t *testing.T) {
	cases := []struct {
		modules, exclude []string
		want             string // paths joined by " ", or "error: substring"
	}{
		{[]string{"all-linear"}, nil, "blocks.0.attn.qkv blocks.0.attn.proj blocks.0.mlp.fc1 blocks.0.mlp.fc2 blocks.1.attn.qkv blocks.1.attn.proj blocks.1.mlp.fc1 blocks.1.mlp.fc2"},
		{[]string{"attn.qkv"}, nil, "blocks.0.attn.qkv blocks.1.attn.qkv"},
		{[]string{"qkv", "fc2"}, nil, "blocks.0.attn.qkv blocks.0.mlp.fc2 blocks.1.attn.qkv blocks.1.mlp.fc2"},
		{[]string{"blocks.1.mlp.fc1"}, nil, "blocks.1.mlp.fc1"},
		{[]string{`blocks\.1\..*`}, nil, "blocks.1.attn.qkv blocks.1.attn.proj blocks.1.mlp.fc1 blocks.1.mlp.fc2"},
		{[]string{`.*\.(qkv|proj)`}, []string{"blocks.0.attn.proj"}, "blocks.0.attn.qkv blocks.1.attn.qkv blocks.1.attn.proj"},
		{[]string{"all-linear", "head"}, []string{`blocks\.0\..*`}, "blocks.1.attn.qkv blocks.1.attn.proj blocks.1.mlp.fc1 blocks.1.mlp.fc2 head"},
		{[]string{"mlp"}, nil, `error: target "mlp" matches no Linear`}, // suffix matches whole trailing segments only
		{[]string{"tn.qkv"}, nil, `error: target "tn.qkv" matches no`},
		{[]string{"qkv"}, []string{"fc9"}, `error: exclusion "fc9"`},
		{[]string{"qkv"}, []string{"qkv"}, "error: select no layer"},
		{[]string{"(qkv"}, nil, `error: target "(qkv"`},
		{nil, nil, "error: no target modules"},
	}
	for _, c := range cases {
		got, err := SelectTargets(fakeSites(), c.modules, c.exclude)
		if want, isErr := strings.CutPrefix(c.want, "error: "); isErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%v − %v: want error %q, got %v", c.modules, c.exclude, want, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v − %v: %v", c.modules, c.exclude, err)
			continue
		}
		var paths []string
		for _, s := range got {
			paths = append(paths, s.Path)
		}
		if strings.Join(paths, " ") != c.want {
			t.Errorf("%v − %v:\n got %s\nwant %s", c.modules, c.exclude, strings.Join(paths, " "), c.want)
		}
	}
}
