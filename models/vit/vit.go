package vit

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// Block is one pre-norm transformer block:
//
//	x = x + DropPath(proj(Attention(qkv(LN1(x)))))
//	x = x + DropPath(fc2(GELU(fc1(LN2(x)))))
//
// The four Linear layers are held as nn.Layer so adapters can wrap them.
type Block struct {
	Norm1W, Norm1B, Norm2W, Norm2B *ag.Var
	QKV, Proj, FC1, FC2            nn.Layer
	dropPath                       float32
}

// Model is a Vision Transformer with timm's parameter names.
type Model struct {
	Cfg    Config
	Store  *nn.Store
	PatchW *ag.Var // patch_embed.proj.weight (D, Cin, P, P)
	PatchB *ag.Var // patch_embed.proj.bias (D)
	Cls    *ag.Var // cls_token (1, 1, D)
	Pos    *ag.Var // pos_embed (1, T, D)
	Blocks []*Block
	NormW  *ag.Var // norm.weight (D)
	NormB  *ag.Var // norm.bias (D)
	Head   *nn.Linear

	blockBases [][4]*nn.Linear // each block's qkv, proj, fc1, fc2 as built (see Linears)
	headWrap   nn.Layer        // a layer set in place of Head by a walker, or nil
}

// New builds a ViT with timm's initialisation (trunc-normal 0.02 for
// Linear weights, position embedding and head; cls token N(0, 1e-6)),
// seeded by rng.
func New(cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, Store: nn.NewStore()}
	root := nn.NewBuilder(m.Store, rng)
	D, P := cfg.Dim, cfg.PatchSize
	var errs []error
	param := func(b nn.Builder, name string, init nn.Init, shape ...int) *ag.Var {
		v, err := b.Param(name, init, shape...)
		errs = append(errs, err)
		return v
	}
	linear := func(b nn.Builder, in, out int, bias bool) *nn.Linear {
		l, err := nn.NewLinear(b, in, out, bias, nn.TruncNormal(0.02))
		errs = append(errs, err)
		if l != nil && l.B != nil {
			l.B.Value.Zero()
		}
		return l
	}
	pe := root.Sub("patch_embed.proj")
	m.PatchW = param(pe, "weight", nn.KaimingUniform, D, cfg.InChans, P, P)
	m.PatchB = param(pe, "bias", nn.Zeros, D)
	m.Cls = param(root, "cls_token", nn.TruncNormal(1e-6), 1, 1, D)
	m.Pos = param(root, "pos_embed", nn.TruncNormal(0.02), 1, cfg.Tokens(), D)
	hidden := cfg.MLPDim()
	for i := 0; i < cfg.Depth; i++ {
		b := root.Subf("blocks.%d", i)
		blk := &Block{
			Norm1W: param(b, "norm1.weight", nn.Ones, D),
			Norm1B: param(b, "norm1.bias", nn.Zeros, D),
			QKV:    linear(b.Sub("attn.qkv"), D, 3*D, cfg.QKVBias),
			Proj:   linear(b.Sub("attn.proj"), D, D, true),
			Norm2W: param(b, "norm2.weight", nn.Ones, D),
			Norm2B: param(b, "norm2.bias", nn.Zeros, D),
			FC1:    linear(b.Sub("mlp.fc1"), D, hidden, true),
			FC2:    linear(b.Sub("mlp.fc2"), hidden, D, true),
		}
		if cfg.Depth > 1 {
			blk.dropPath = cfg.DropPath * float32(i) / float32(cfg.Depth-1)
		}
		m.Blocks = append(m.Blocks, blk)
		m.blockBases = append(m.blockBases, [4]*nn.Linear{
			blk.QKV.(*nn.Linear), blk.Proj.(*nn.Linear), blk.FC1.(*nn.Linear), blk.FC2.(*nn.Linear)})
	}
	m.NormW = param(root, "norm.weight", nn.Ones, D)
	m.NormB = param(root, "norm.bias", nn.Zeros, D)
	if cfg.NumClasses > 0 {
		m.Head = linear(root.Sub("head"), D, cfg.NumClasses, true)
	}
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("vit: %w", err)
		}
	}
	return m, nil
}

// Forward maps normalised images to logits.
//
//	img: (B, Cin, H, W)  →  logits (B, classes), or the cls features (B, D) without a head
//
// With rng non-nil (training), drop-path is active.
func (m *Model) Forward(tp *ag.Tape, img *ag.Var, rng *rand.Rand) *ag.Var {
	feat := m.Features(tp, img, rng)
	if m.Head == nil {
		return feat
	}
	return m.headLayer().Forward(tp, feat)
}

// Features is the final-norm cls token: (B, Cin, H, W) → (B, D).
func (m *Model) Features(tp *ag.Tape, img *ag.Var, rng *rand.Rand) *ag.Var {
	c := m.Cfg
	if !tp.OK(img) {
		return tp.Dead()
	}
	if s := img.Value.Shape; len(s) != 4 || s[1] != c.InChans || s[2] != c.ImageSize || s[3] != c.ImageSize {
		return tp.Fail(tensor.Errorf("vit", fmt.Sprintf("want images (B,%d,%d,%d)", c.InChans, c.ImageSize, c.ImageSize), s))
	}
	x := m.tokens(tp, img) // (B, T, D)
	var cls *ag.Var        // (B, D): LayerNorm is per token, so norm(x)[:,0] = norm(x[:,0])
	for i, blk := range m.Blocks {
		if clsOnly && i == len(m.Blocks)-1 {
			cls = blk.forward(tp, x, c, rng, true)
			break
		}
		x = blk.Forward(tp, x, c, rng)
	}
	if cls == nil {
		cls = tp.Index(x, 1, 0)
	}
	return nn.LayerNorm(tp, cls, m.NormW, m.NormB, c.LNEps)
}

// clsOnly has the last block compute its output at the cls token alone
// (Block.forward), the only token the head reads; off only in tests, to
// compare.
var clsOnly = true

// eachTokens has a frozen patch embedding write its tokens straight into
// the token tensor (Model.tokens); off only in tests, to compare.
var eachTokens = true

// recompute turns on the recomputation of the blocks' LayerNorm and GELU
// outputs in the backward pass and the discarding of the residual
// branches' outputs (Block.Forward); off only in tests, to compare.
var recompute = true

// Forward runs the block on x: (B, T, D) → (B, T, D).
func (blk *Block) Forward(tp *ag.Tape, x *ag.Var, c Config, rng *rand.Rand) *ag.Var {
	return blk.forward(tp, x, c, rng, false)
}

// forward runs the block on x: (B, T, D) → (B, T, D), or with first only
// its output at token 0: (B, T, D) → (B, D). That needs every token's key
// and value but only token 0's query, so its attention is AttentionFirst,
// and proj, the second norm, the MLP and the residual adds run on B rows
// instead of B·T: in the last block of a model that classifies the cls
// token, the work whose result the head never reads is skipped.
func (blk *Block) forward(tp *ag.Tape, x *ag.Var, c Config, rng *rand.Rand, first bool) *ag.Var {
	// Without gradients (inference) each intermediate is freed as soon as it
	// is consumed; tp.Free ignores values a backward pass will need.
	// In training, the LayerNorms' and the GELU's outputs are not kept for
	// the backward pass: it recomputes them from the inputs it keeps anyway
	// (x, x1, u) just before the next layer's backward reads them
	// (Tape.Recompute), for a little more arithmetic and far less memory.
	// So are the qkv and fc1 outputs where their layer can rebuild them
	// from what its backward pass keeps (nn.RecomputeOutput: a GLoRA layer
	// with a vector or constant A).
	next := func(prev, v *ag.Var) *ag.Var { tp.Free(prev); return v }
	h := nn.LayerNorm(tp, x, blk.Norm1W, blk.Norm1B, c.LNEps)
	mark := tp.Mark()
	q := blk.QKV.Forward(tp, h) // (B, T, 3D)
	if recompute {
		if !nn.DiscardInput(tp, h, blk.QKV) {
			nn.LayerNormRecompute(tp, h, x, blk.Norm1W, blk.Norm1B, c.LNEps, mark)
		}
	}
	h = next(h, q)
	res := x // the residual stream the attention branch adds to
	if first {
		h = next(h, nn.AttentionFirst(tp, h, c.Heads)) // (B, D)
		res = tp.Index(x, 1, 0)                        // (B, D)
	} else {
		h = next(h, nn.Attention(tp, h, c.Heads, false)) // (B, T, D)
	}
	if recompute {
		// q rebuilt before attention's backward, where the layer can do so cheaply
		nn.RecomputeOutput(tp, blk.QKV, q)
	}
	a := h // attention's output: its backward reads only its gradient
	h = next(h, blk.Proj.Forward(tp, h))
	if recompute {
		nn.DiscardInput(tp, a, blk.Proj)
	}
	d := blk.dropPathOf(tp, h, rng)
	x1 := tp.Add(res, d)
	if recompute { // no backward reads the branch's output: Add and DropPath pass gradients through
		tp.Discard(h, d)
	}
	tp.Free(h, x)
	if first {
		tp.Free(res)
	}
	h = nn.LayerNorm(tp, x1, blk.Norm2W, blk.Norm2B, c.LNEps)
	mark = tp.Mark()
	u, g := nn.LinearGELU(tp, blk.FC1, h, c.TanhGELU) // (B, T, hidden): g = GELU(u), made as FC1's product finishes each block of u
	if recompute {
		if !nn.DiscardInput(tp, h, blk.FC1) {
			nn.LayerNormRecompute(tp, h, x1, blk.Norm2W, blk.Norm2B, c.LNEps, mark)
		}
	}
	tp.Free(h, u)
	mark = tp.Mark()
	h = blk.FC2.Forward(tp, g) // (B, T, D)
	if recompute {
		if !nn.DiscardInput(tp, g, blk.FC2) { // GELU's backward reads u, not g
			nn.GELURecompute(tp, g, u, mark, c.TanhGELU)
		}
		// after g's: g's refill reads u, so u's runs first
		nn.RecomputeOutput(tp, blk.FC1, u)
	}
	tp.Free(g)
	d = blk.dropPathOf(tp, h, rng)
	out := tp.Add(x1, d)
	if recompute {
		tp.Discard(h, d)
	}
	tp.Free(h, x1)
	return out
}

func (blk *Block) dropPathOf(tp *ag.Tape, h *ag.Var, rng *rand.Rand) *ag.Var {
	if rng == nil || blk.dropPath == 0 {
		return h
	}
	return nn.DropPath(tp, h, blk.dropPath, rng)
}

// tokens is the patch embedding, the cls token and the position
// embedding: img (B, Cin, H, W) → (B, T, D), embedTokens(PatchEmbed(img)).
// Where the patch embedding is frozen (a forward pass without gradients,
// or a backbone tuned through adapters) nothing reads its input or output
// in a backward pass, so nn.PatchEmbedEach writes each few images' tokens
// straight into the output (the same floats): neither the (B, N, K)
// patches nor the (B, N, D) embedding is held.
func (m *Model) tokens(tp *ag.Tape, img *ag.Var) *ag.Var {
	c := m.Cfg
	frozen := tp.NoGrad || !img.RequiresGrad && !m.PatchW.RequiresGrad && (m.PatchB == nil || !m.PatchB.RequiresGrad)
	if !frozen || !eachTokens {
		x := nn.PatchEmbed(tp, img, m.PatchW, m.PatchB, c.PatchSize) // (B, N, D)
		return embedTokens(tp, x, m.Cls, m.Pos)
	}
	B, D := img.Value.Shape[0], m.PatchW.Value.Shape[0]
	N := (c.ImageSize / c.PatchSize) * (c.ImageSize / c.PatchSize)
	if err := checkTokens(N, D, m.Cls, m.Pos); err != nil {
		return tp.Fail(err)
	}
	T := N + 1
	out := tp.NewOutputRaw([]int{B, T, D}, m.Cls, m.Pos)
	o, cls, pos := out.Value.Data, m.Cls.Value.Data, m.Pos.Value.Data
	err := nn.PatchEmbedEach(tp, img, m.PatchW, m.PatchB, c.PatchSize, func(b0, b1 int, y []float32) {
		for b := b0; b < b1; b++ {
			ob := o[b*T*D : (b+1)*T*D]
			tensor.Add(ob[:D], cls, pos[:D])
			tensor.Add(ob[D:], y[(b-b0)*N*D:(b-b0+1)*N*D], pos[D:])
		}
	})
	if err != nil {
		return tp.Fail(err)
	}
	recordTokens(tp, out, nil, m.Cls, m.Pos)
	return out
}

// embedTokens prepends the cls token to the patch tokens and adds the
// position embedding: out[b,0] = cls + pos[0], out[b,1+i] = x[b,i] + pos[1+i].
//
//	x: (B, N, D)  cls: (1, 1, D)  pos: (1, N+1, D)  →  (B, N+1, D)
func embedTokens(tp *ag.Tape, x, cls, pos *ag.Var) *ag.Var {
	if !tp.OK(x, cls, pos) {
		return tp.Dead()
	}
	xs := x.Value.Shape
	if len(xs) != 3 {
		return tp.Fail(tensor.Errorf("vit.embedTokens", "want x (B,N,D), cls (1,1,D), pos (1,N+1,D)",
			xs, cls.Value.Shape, pos.Value.Shape))
	}
	if err := checkTokens(xs[1], xs[2], cls, pos); err != nil {
		return tp.Fail(err)
	}
	B, N, D := xs[0], xs[1], xs[2]
	T := N + 1
	out := tp.NewOutputRaw([]int{B, T, D}, x, cls, pos)
	o, p := out.Value.Data, pos.Value.Data
	for b := 0; b < B; b++ {
		ob := o[b*T*D : (b+1)*T*D]
		tensor.Add(ob[:D], cls.Value.Data, p[:D])
		tensor.Add(ob[D:], x.Value.Data[b*N*D:(b+1)*N*D], p[D:])
	}
	recordTokens(tp, out, x, cls, pos)
	return out
}

// checkTokens checks the cls token (1, 1, D) and the position embedding
// (1, N+1, D) against N patch tokens of width D.
func checkTokens(N, D int, cls, pos *ag.Var) error {
	if !tensor.SameShape(cls.Value.Shape, []int{1, 1, D}) || !tensor.SameShape(pos.Value.Shape, []int{1, N + 1, D}) {
		return tensor.Errorf("vit.embedTokens", "want x (B,N,D), cls (1,1,D), pos (1,N+1,D)",
			[]int{-1, N, D}, cls.Value.Shape, pos.Value.Shape)
	}
	return nil
}

// recordTokens records embedTokens' backward pass: out (B, N+1, D) passes
// its gradient to the patch tokens x (B, N, D; nil: frozen), the cls token
// (its row 0, summed over the batch) and the position embedding (summed
// over the batch). It reads no values.
func recordTokens(tp *ag.Tape, out, x, cls, pos *ag.Var) {
	tp.Record(out, func() {
		B, T, D := out.Value.Shape[0], out.Value.Shape[1], out.Value.Shape[2]
		N := T - 1
		g := out.Grad.Data
		var gx *tensor.Tensor
		if x != nil {
			gx = tp.GradOf(x)
		}
		gc, gp := tp.GradOf(cls), tp.GradOf(pos)
		for b := 0; b < B; b++ {
			gb := g[b*T*D : (b+1)*T*D]
			if gx != nil {
				tensor.Axpy(1, gb[D:], gx.Data[b*N*D:(b+1)*N*D])
			}
			if gc != nil {
				tensor.Axpy(1, gb[:D], gc.Data)
			}
			if gp != nil {
				tensor.Axpy(1, gb, gp.Data)
			}
		}
	})
}

// SetDropPath sets the stochastic-depth rate: block i of depth L drops its
// residual branches with probability rate·i/(L−1) during training.
func (m *Model) SetDropPath(rate float32) error {
	if rate < 0 || rate >= 1 {
		return fmt.Errorf("vit: drop-path rate %g must be in [0,1)", rate)
	}
	m.Cfg.DropPath = rate
	for i, blk := range m.Blocks {
		blk.dropPath = 0
		if len(m.Blocks) > 1 {
			blk.dropPath = rate * float32(i) / float32(len(m.Blocks)-1)
		}
	}
	return nil
}

// Clone is a deep copy of a plain model (no adapter attached): the same
// configuration and parameter values, each parameter's trainability kept.
// A pipeline loads its base once and clones it for every run that changes
// it.
func (m *Model) Clone() (*Model, error) {
	c, err := New(m.Cfg, rand.New(rand.NewPCG(0, 0))) // every value is overwritten
	if err != nil {
		return nil, fmt.Errorf("vit: clone: %w", err)
	}
	if err := c.Store.CopyFrom(m.Store); err != nil {
		return nil, fmt.Errorf("vit: clone (a model with an adapter attached cannot be cloned): %w", err)
	}
	return c, nil
}

// Params lists every parameter of the model in creation order (m.Store's);
// RequiresGrad marks the trainable ones. With Forward it makes a *Model a
// train.Model.
func (m *Model) Params() []*ag.Var { return m.Store.Params() }
