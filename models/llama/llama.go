// Package llama is the LLaMA-style decoder: token embedding, pre-norm
// decoder layers (RMSNorm, grouped-query attention with rotary position
// embeddings and a causal mask, SwiGLU MLP; biases only where the config's
// attention_bias / mlp_bias ask for them), a final RMSNorm and
// an output layer that may share the embedding's weights.
//
// Parameters carry the names of a Hugging Face Llama checkpoint
// (model.layers.N.self_attn.q_proj.weight, …), so a Hugging Face folder
// loads by name (LoadHF) and PEFT's target names (q_proj, …, down_proj)
// select layers. llama2.c's checkpoint format reads and writes too
// (LoadLlama2c, SaveLlama2c).
package llama

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// Layer is one decoder layer:
//
//	x = x + o_proj(Attention(RoPE(q_proj(h)), RoPE(k_proj(h)), v_proj(h))),  h = RMSNorm(x)·input_layernorm
//	x = x + down_proj(SiLU(gate_proj(h)) ⊙ up_proj(h)),                     h = RMSNorm(x)·post_attention_layernorm
//
// The seven Linear layers are held as nn.Layer so adapters can wrap them.
type Layer struct {
	AttnNorm, MLPNorm *ag.Var // input_layernorm.weight, post_attention_layernorm.weight (D)
	Q, K, V, O        nn.Layer
	Gate, Up, Down    nn.Layer
}

// Model is a LLaMA-style decoder with Hugging Face parameter names.
type Model struct {
	Cfg    Config
	Store  *nn.Store
	Embed  *ag.Var // model.embed_tokens.weight (V, D)
	Layers []*Layer
	Norm   *ag.Var    // model.norm.weight (D)
	Head   *nn.Linear // lm_head (V, D); its W is Embed when Cfg.TiedEmbed

	bases    [][7]*nn.Linear // each layer's Linears as built, in linearNames order
	headWrap nn.Layer        // a layer set in place of Head by a walker, or nil
}

// linearNames are a layer's Linear module names in forward order.
var linearNames = [7]string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
	"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}

// New builds a decoder with the initialisation of Hugging Face's
// LlamaPreTrainedModel (every Linear and the embedding N(0, 0.02²), norms
// one), seeded by rng.
func New(cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, Store: nn.NewStore()}
	root := nn.NewBuilder(m.Store, rng)
	D, hd := cfg.Dim, cfg.Head()
	var errs []error
	param := func(b nn.Builder, name string, init nn.Init, shape ...int) *ag.Var {
		v, err := b.Param(name, init, shape...)
		errs = append(errs, err)
		return v
	}
	linear := func(b nn.Builder, in, out int, bias bool) *nn.Linear {
		l, err := nn.NewLinear(b, in, out, bias, normal02)
		errs = append(errs, err)
		if err == nil && l.B != nil {
			clear(l.B.Value.Data) // LlamaPreTrainedModel zeroes biases
		}
		return l
	}
	model := root.Sub("model")
	m.Embed = param(model.Sub("embed_tokens"), "weight", normal02, cfg.VocabSize, D)
	for i := 0; i < cfg.Layers; i++ {
		b := model.Subf("layers.%d", i)
		ls := [7]*nn.Linear{
			linear(b.Sub(linearNames[0]), D, cfg.Heads*hd, cfg.AttnBias),
			linear(b.Sub(linearNames[1]), D, cfg.KVHeads*hd, cfg.AttnBias),
			linear(b.Sub(linearNames[2]), D, cfg.KVHeads*hd, cfg.AttnBias),
			linear(b.Sub(linearNames[3]), cfg.Heads*hd, D, cfg.AttnBias),
			linear(b.Sub(linearNames[4]), D, cfg.Hidden, cfg.MLPBias),
			linear(b.Sub(linearNames[5]), D, cfg.Hidden, cfg.MLPBias),
			linear(b.Sub(linearNames[6]), cfg.Hidden, D, cfg.MLPBias),
		}
		m.Layers = append(m.Layers, &Layer{
			AttnNorm: param(b.Sub("input_layernorm"), "weight", nn.Ones, D),
			MLPNorm:  param(b.Sub("post_attention_layernorm"), "weight", nn.Ones, D),
			Q:        ls[0], K: ls[1], V: ls[2], O: ls[3], Gate: ls[4], Up: ls[5], Down: ls[6],
		})
		m.bases = append(m.bases, ls)
	}
	m.Norm = param(model.Sub("norm"), "weight", nn.Ones, D)
	if cfg.TiedEmbed {
		m.Head = &nn.Linear{W: m.Embed}
	} else {
		m.Head = linear(root.Sub("lm_head"), D, cfg.VocabSize, false)
	}
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("llama: %w", err)
		}
	}
	return m, nil
}

// normal02 is N(0, 0.02²), LlamaConfig's initializer_range.
func normal02(rng *rand.Rand, t *tensor.Tensor) {
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64() * 0.02)
	}
}

// Params lists every parameter in creation order (m.Store's); RequiresGrad
// marks the trainable ones. A tied output layer adds no parameter.
func (m *Model) Params() []*ag.Var { return m.Store.Params() }

// Forward maps token ids to next-token logits.
//
//	ids: B·T ids, row-major (B, T), each in [0, V)  →  logits (B, T, V)
//
// Position t of each row attends to positions ≤ t; positions start at 0.
func (m *Model) Forward(tp *ag.Tape, ids []int, B, T int) *ag.Var {
	x := m.Hidden(tp, ids, B, T)
	return m.headLayer().Forward(tp, x)
}

// Hidden is the final-norm hidden state: ids (B, T) → (B, T, D).
func (m *Model) Hidden(tp *ag.Tape, ids []int, B, T int) *ag.Var {
	return m.hidden(tp, ids, B, T, nil)
}

// hidden is Hidden, or with pos (one position per row, checked by
// HiddenLast) HiddenLast: the last layer at those positions alone.
func (m *Model) hidden(tp *ag.Tape, ids []int, B, T int, pos []int) *ag.Var {
	c := m.Cfg
	if B <= 0 || T <= 0 || len(ids) != B*T {
		return tp.Fail(fmt.Errorf("llama: %d ids do not make a (%d, %d) batch", len(ids), B, T))
	}
	if T > c.MaxSeq {
		return tp.Fail(fmt.Errorf("llama: sequence of %d tokens is longer than max_position_embeddings %d", T, c.MaxSeq))
	}
	layers := m.Layers
	if pos != nil {
		layers = layers[:len(layers)-1] // the last runs below, at pos
	}
	x := tp.Embedding(m.Embed, ids, B, T) // (B, T, D)
	for _, l := range layers {
		x = l.forward(tp, x, c, nil, 0)
	}
	if pos != nil {
		x = m.Layers[len(layers)].forwardLast(tp, x, c, pos) // (B, D)
	}
	return nn.RMSNorm(tp, x, m.Norm, float32(c.NormEps))
}

// recompute turns on the activation-memory savings of Layer.forward
// (RMSNorm outputs rebuilt in the backward pass, values no backward pass
// reads released); off only in tests, to compare.
var recompute = true

// forward runs the layer on x: (B, T, D) → (B, T, D). With a cache, the
// keys and values of positions pos … pos+T−1 are stored in it and the
// queries attend to every cached position before them as well.
//
// Training holds what the backward pass reads and no more: the RMSNorm
// outputs are rebuilt from x just before the projections' backward passes
// read them (nn.RMSNormRecompute), and the projections' raw outputs, the
// heads before RoPE, attention's output and the residual branches' outputs
// are released once used (tp.Discard: views, Permute, RoPE and Add pass
// gradients through without reading values), and so are the inputs of o
// and down, and the RMSNorm outputs instead of being rebuilt, where the
// layers that read them do not (nn.ReadsInput); SwiGLU is one op, and the
// gate and up outputs are rebuilt for its backward pass where their layers
// can (nn.RecomputeOutput). The same floats either way.
func (l *Layer) forward(tp *ag.Tape, x *ag.Var, c Config, kv *layerCache, pos int) *ag.Var {
	hd := c.Head()
	s := x.Value.Shape
	B, T := s[0], s[1]
	theta, eps := float32(c.RopeTheta), float32(c.NormEps)
	// heads: (B, T, n·hd) → (B, n, T, hd)
	heads := func(v *ag.Var, n int) *ag.Var {
		return tp.Permute(tp.Reshape(v, B, T, n, hd), 0, 2, 1, 3)
	}
	discard := func(vs ...*ag.Var) {
		if recompute {
			tp.Discard(vs...)
		}
	}
	h := nn.RMSNorm(tp, x, l.AttnNorm, eps)
	mark := tp.Mark()
	qo, ko, vo := l.Q.Forward(tp, h), l.K.Forward(tp, h), l.V.Forward(tp, h)
	if recompute {
		if !nn.DiscardInput(tp, h, l.Q, l.K, l.V) {
			nn.RMSNormRecompute(tp, h, x, l.AttnNorm, eps, mark)
		}
	}
	qh, kh := heads(qo, c.Heads), heads(ko, c.KVHeads)
	q := nn.RoPE(tp, qh, theta, pos) // (B, H, T, hd)
	k := nn.RoPE(tp, kh, theta, pos) // (B, Hkv, T, hd)
	v := heads(vo, c.KVHeads)        // (B, Hkv, T, hd)
	discard(qo, ko, vo, qh, kh)
	var a *ag.Var
	if kv == nil {
		a = nn.ScaledDotProductAttention(tp, q, k, v, true) // (B, H, T, hd)
	} else {
		a = kv.attend(tp, q, k, v, pos)
	}
	ah := tp.Permute(a, 0, 2, 1, 3)
	discard(a)
	o := l.O.Forward(tp, tp.Reshape(ah, B, T, c.Heads*hd)) // (B, T, D)
	if recompute {
		nn.DiscardInput(tp, ah, l.O)
	}
	x = tp.Add(x, o)
	discard(o)
	h = nn.RMSNorm(tp, x, l.MLPNorm, eps)
	mark = tp.Mark()
	gate, up := l.Gate.Forward(tp, h), l.Up.Forward(tp, h) // (B, T, hidden)
	if recompute {
		if !nn.DiscardInput(tp, h, l.Gate, l.Up) {
			nn.RMSNormRecompute(tp, h, x, l.MLPNorm, eps, mark)
		}
	}
	g := nn.SwiGLU(tp, gate, up)
	if recompute {
		// gate and up rebuilt before SwiGLU's backward, where their layers
		// can do so cheaply (a GLoRA layer with a vector or constant A)
		nn.RecomputeOutput(tp, l.Gate, gate)
		nn.RecomputeOutput(tp, l.Up, up)
	}
	d := l.Down.Forward(tp, g)
	if recompute { // SwiGLU's backward reads gate and up, not g
		nn.DiscardInput(tp, g, l.Down)
	}
	out := tp.Add(x, d)
	discard(d)
	return out
}

// headLayer is the output layer the forward pass calls: Head, or the
// wrapper a walker set in its place.
func (m *Model) headLayer() nn.Layer {
	if m.headWrap != nil && m.headWrap != nn.Layer(m.Head) {
		return m.headWrap
	}
	return m.Head
}

// Linears lists the model's Linear layers in forward order — per layer
// q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, then
// lm_head (marked Head) — under their Hugging Face module paths
// ("model.layers.3.self_attn.q_proj"). A tied lm_head shares the
// embedding's weight.
func (m *Model) Linears() []nn.LinearSite {
	var sites []nn.LinearSite
	for i, l := range m.Layers {
		slots := [7]*nn.Layer{&l.Q, &l.K, &l.V, &l.O, &l.Gate, &l.Up, &l.Down}
		for j, slot := range slots {
			sites = append(sites, nn.LinearSite{
				Path:    fmt.Sprintf("model.layers.%d.%s", i, linearNames[j]),
				Base:    m.bases[i][j],
				Current: func() nn.Layer { return *slot },
				Set:     func(x nn.Layer) { *slot = x },
			})
		}
	}
	sites = append(sites, nn.LinearSite{
		Path: "lm_head", Base: m.Head, Head: true,
		Current: m.headLayer,
		Set:     func(x nn.Layer) { m.headWrap = x },
	})
	return sites
}

// Clone is a deep copy of a plain model (no adapter attached).
func (m *Model) Clone() (*Model, error) {
	c, err := New(m.Cfg, rand.New(rand.NewPCG(0, 0))) // every value is overwritten
	if err != nil {
		return nil, fmt.Errorf("llama: clone: %w", err)
	}
	if err := c.Store.CopyFrom(m.Store); err != nil {
		return nil, fmt.Errorf("llama: clone (a model with an adapter attached cannot be cloned): %w", err)
	}
	return c, nil
}

// WithBiases is m when every bias its projections hold is one of its
// parameters; otherwise a copy whose config sets attention_bias (or
// mlp_bias) because some attention (or MLP) projection holds a bias m's
// Store lacks (one a merged adapter gave a bias-less layer), with those
// biases copied and the others of their kind zero. It is how a model
// merged with an adapter that tuned biases is saved as a plain Llama.
func (m *Model) WithBiases() (*Model, error) {
	cfg := m.Cfg
	for _, ls := range m.bases {
		for j, l := range ls {
			if l.B == nil {
				continue
			}
			if _, ok := m.Store.Get(l.B.Name); ok {
				continue
			}
			if j < 4 {
				cfg.AttnBias = true
			} else {
				cfg.MLPBias = true
			}
		}
	}
	if cfg == m.Cfg {
		return m, nil
	}
	c, err := New(cfg, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, fmt.Errorf("llama: with biases: %w", err)
	}
	values := m.Store.Tensors()
	for i, ls := range m.bases {
		for j, l := range ls {
			if b := c.bases[i][j].B; b != nil {
				values[b.Name] = b.Value // New's zeros, unless the layer has one
				if l.B != nil {
					values[b.Name] = l.B.Value
				}
			}
		}
	}
	if err := c.Store.Load(values, false); err != nil {
		return nil, fmt.Errorf("llama: with biases: %w", err)
	}
	return c, nil
}
