package llama

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
)

// Classifier is a decoder with a classification head on the final hidden
// state of each sequence's last token, as Hugging Face's
// LlamaForSequenceClassification: logits = score(RMSNorm(h[last])), score
// a bias-less Linear (classes, D) named "score". In a causal model the
// last token is the only one that has read the whole sequence.
type Classifier struct {
	LM    *Model
	Score *nn.Linear
	// Extra are parameters outside the model and the head that the
	// forward pass uses (an adapter's), listed by Params.
	Extra []*ag.Var
}

// PadID marks the positions after a sequence's last token in a Classifier
// batch (sequences are padded on the right; causal attention keeps the
// padding out of every real position).
const PadID = -1

// NewClassifier puts a fresh head for classes on m, initialised N(0, 0.02²)
// from rng; the head lives in its own store (score.weight) and trains.
func NewClassifier(m *Model, classes int, rng *rand.Rand) (*Classifier, error) {
	if classes < 2 {
		return nil, fmt.Errorf("llama: a classifier needs at least 2 classes, not %d", classes)
	}
	st := nn.NewStore()
	score, err := nn.NewLinear(nn.NewBuilder(st, rng).Sub("score"), m.Cfg.Dim, classes, false, normal02)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	return &Classifier{LM: m, Score: score}, nil
}

// Params lists the model's parameters, the head's, then Extra.
func (c *Classifier) Params() []*ag.Var {
	ps := append([]*ag.Var(nil), c.LM.Params()...)
	return append(append(ps, c.Score.W), c.Extra...)
}

// Forward maps padded token sequences to class logits.
//
//	x: (B, T) token ids as float32, PadID after each sequence's end   →   logits (B, classes)
//
// Every row must hold at least one token; rng is unused.
func (c *Classifier) Forward(tp *ag.Tape, x *ag.Var, _ *rand.Rand) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	s := x.Value.Shape
	if len(s) != 2 {
		return tp.Fail(fmt.Errorf("llama: classifier input %v: want token ids (B, T)", s))
	}
	B, T := s[0], s[1]
	ids := make([]int, B*T)
	last := make([]int, B) // row b's last token, as a row of the (B·T, D) hidden states
	pad := max(c.LM.Cfg.EOS, 0)
	for b := 0; b < B; b++ {
		n := T
		for t := 0; t < T; t++ {
			v := x.Value.Data[b*T+t]
			switch {
			case v == PadID:
				if n == T {
					n = t
				}
				ids[b*T+t] = pad
			case n < T:
				return tp.Fail(fmt.Errorf("llama: classifier row %d has a token after its padding", b))
			default:
				ids[b*T+t] = int(v)
			}
		}
		if n == 0 {
			return tp.Fail(fmt.Errorf("llama: classifier row %d is empty", b))
		}
		last[b] = b*T + n - 1
	}
	h := c.LM.Hidden(tp, ids, B, T)                          // (B, T, D)
	h = tp.Embedding(tp.Reshape(h, B*T, c.LM.Cfg.Dim), last) // (B, D): each row's last token
	return c.Score.Forward(tp, h)
}
