package vit

import (
	"fmt"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// countingLayer wraps a layer and counts its calls.
type countingLayer struct {
	inner nn.Layer
	calls *int
}

func (c countingLayer) Forward(tp *ag.Tape, x *ag.Var) *ag.Var {
	*c.calls++
	return c.inner.Forward(tp, x)
}

func TestLinearsWalksEveryLinearByModulePath(t *testing.T) {
	m := microModel(t, 3)
	sites := m.Linears()
	if want := 4*m.Cfg.Depth + 1; len(sites) != want {
		t.Fatalf("%d sites, want %d", len(sites), want)
	}
	for i, s := range sites {
		if s.Head != (s.Path == "head") {
			t.Errorf("%s: Head=%v", s.Path, s.Head)
		}
		w, ok := m.Store.Get(s.Path + ".weight")
		if !ok || w != s.Base.W {
			t.Errorf("site %d %q: base weight is not the store's %s.weight", i, s.Path, s.Path)
		}
		if s.Current() != nn.Layer(s.Base) {
			t.Errorf("%s: a fresh model does not call its base layer", s.Path)
		}
	}
	if sites[0].Path != "blocks.0.attn.qkv" || sites[3].Path != "blocks.0.mlp.fc2" {
		t.Fatalf("order: %s … %s", sites[0].Path, sites[3].Path)
	}
	if sites[0].In() != m.Cfg.Dim || sites[0].Out() != 3*m.Cfg.Dim || sites[0].HasBias() != m.Cfg.QKVBias {
		t.Fatalf("qkv dims %d→%d bias %v", sites[0].In(), sites[0].Out(), sites[0].HasBias())
	}

	// Wrapping every site through Set routes Forward through the wrappers;
	// Set(Base) restores the plain model bit for bit.
	x := tensor.New(2, m.Cfg.InChans, m.Cfg.ImageSize, m.Cfg.ImageSize)
	for i := range x.Data {
		x.Data[i] = float32(i%7) - 3
	}
	forward := func() []float32 {
		tp := ag.NewTape()
		y := m.Forward(tp, ag.NewVar(x, false), nil)
		if tp.Err() != nil {
			t.Fatal(tp.Err())
		}
		return append([]float32(nil), y.Value.Data...)
	}
	want := forward()
	calls := 0
	for _, s := range sites {
		s.Set(countingLayer{s.Base, &calls})
	}
	got := forward()
	if calls != len(sites) {
		t.Fatalf("wrappers called %d times, want %d", calls, len(sites))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("a pass-through wrapper changed the output")
	}
	for _, s := range m.Linears() {
		if _, ok := s.Current().(countingLayer); !ok {
			t.Fatalf("%s: Current does not return the wrapper", s.Path)
		}
		s.Set(s.Base)
	}
	calls = 0
	forward()
	if calls != 0 {
		t.Fatalf("Set(Base) left %d wrapper calls", calls)
	}
}
