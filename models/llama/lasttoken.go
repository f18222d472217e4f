package llama

import (
	"fmt"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
)

// lastOnly has a classifier's last layer compute its output at each row's
// last token alone (HiddenLast); off only in tests, to compare.
var lastOnly = true

// HiddenLast is Hidden at one token per row: ids (B, T) → (B, D), row b the
// final-norm hidden state at position pos[b]. Every layer but the last
// runs on all T positions; the last needs every position's key and value
// but only pos[b]'s query, so its query projection, attention, output
// projection, MLP and residual adds run on B rows instead of B·T
// (forwardLast).
func (m *Model) HiddenLast(tp *ag.Tape, ids []int, B, T int, pos []int) *ag.Var {
	if len(pos) != B {
		return tp.Fail(fmt.Errorf("llama: %d positions for a batch of %d rows", len(pos), B))
	}
	for b, p := range pos {
		if p < 0 || p >= T {
			return tp.Fail(fmt.Errorf("llama: row %d's position %d is outside [0, %d)", b, p, T))
		}
	}
	if len(m.Layers) == 0 {
		return tp.Fail(fmt.Errorf("llama: a model without layers"))
	}
	return m.hidden(tp, ids, B, T, pos)
}

// forwardLast is forward's output at one position per row:
// x (B, T, D) → (B, D), row b the layer's output at position pos[b].
// Keys and values come from every position; the query from pos[b] alone,
// attending positions ≤ pos[b] (nn.QueryAttention), as the causal mask
// does for that row.
func (l *Layer) forwardLast(tp *ag.Tape, x *ag.Var, c Config, pos []int) *ag.Var {
	hd := c.Head()
	s := x.Value.Shape
	B, T, D := s[0], s[1], s[2]
	theta, eps := float32(c.RopeTheta), float32(c.NormEps)
	rows := make([]int, B) // row b's position as a row of the (B·T, D) states
	keys := make([]int, B)
	for b, p := range pos {
		rows[b], keys[b] = b*T+p, p+1
	}
	discard := func(vs ...*ag.Var) {
		if recompute {
			tp.Discard(vs...)
		}
	}
	h := nn.RMSNorm(tp, x, l.AttnNorm, eps)
	mark := tp.Mark()
	ko, vo := l.K.Forward(tp, h), l.V.Forward(tp, h) // (B, T, Hkv·hd)
	hq := tp.Embedding(tp.Reshape(h, B*T, D), rows)  // (B, D): h at pos[b]
	if recompute {
		nn.RMSNormRecompute(tp, h, x, l.AttnNorm, eps, mark)
	}
	qo := l.Q.Forward(tp, hq) // (B, H·hd)
	kh := tp.Permute(tp.Reshape(ko, B, T, c.KVHeads, hd), 0, 2, 1, 3)
	q := nn.RoPEAt(tp, tp.Reshape(qo, B, c.Heads, 1, hd), theta, pos) // (B, H, 1, hd)
	k := nn.RoPE(tp, kh, theta, 0)                                    // (B, Hkv, T, hd)
	v := tp.Permute(tp.Reshape(vo, B, T, c.KVHeads, hd), 0, 2, 1, 3)  // (B, Hkv, T, hd)
	discard(ko, vo, kh)
	a := nn.QueryAttention(tp, q, k, v, keys) // (B, H, 1, hd)
	o := l.O.Forward(tp, tp.Reshape(a, B, c.Heads*hd))
	xl := tp.Embedding(tp.Reshape(x, B*T, D), rows) // (B, D): the residual stream at pos[b]
	x = tp.Add(xl, o)
	h = nn.RMSNorm(tp, x, l.MLPNorm, eps)
	g := nn.SwiGLU(tp, l.Gate.Forward(tp, h), l.Up.Forward(tp, h)) // (B, hidden)
	return tp.Add(x, l.Down.Forward(tp, g))
}
