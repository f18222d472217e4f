package nn

// LinearSite is one Linear layer of a model, found by walking the model:
// its checkpoint module path, the frozen base layer, and a setter that
// replaces the layer the model calls in its forward pass. Adapters (GLoRA,
// LoRA, …) attach by walking a model's sites, never by editing its Forward.
type LinearSite struct {
	// Path is the module path in the model's own (timm-style) naming,
	// e.g. "blocks.3.attn.qkv"; the weight is Path+".weight".
	Path string
	// Base is the plain Linear the model was built with (W: (out, in),
	// B: (out) or nil). It stays the base even after Set wrapped it.
	Base *Linear
	// Head marks the classification head (never a target of all-linear).
	Head bool
	// Current returns the layer the model calls now (Base, or a wrapper).
	Current func() Layer
	// Set replaces the layer the model calls; Set(Base) restores it.
	Set func(Layer)
}

// In is the layer's input width.
func (s LinearSite) In() int { return s.Base.W.Value.Shape[1] }

// Out is the layer's output width.
func (s LinearSite) Out() int { return s.Base.W.Value.Shape[0] }

// HasBias reports whether the base layer has a bias.
func (s LinearSite) HasBias() bool { return s.Base.B != nil }

// LinearWalker is a model whose Linear layers can be listed, in a fixed
// order (the model's forward order), and replaced.
type LinearWalker interface {
	Linears() []LinearSite
}
