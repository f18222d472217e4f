package llama

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
)

// CausalLM presents the model to a trainer of classifiers (train.Model):
// every position of a token batch is one next-token classification.
//
//	x: (B, T) token ids held as float32 (exact up to 2²⁴)   →   logits (B·T, V)
//
// The labels that go with x are the next tokens, row-major (B·T): for a
// window w of T+1 tokens, x = w[:T] and labels = w[1:] (see Windows).
type CausalLM struct {
	*Model
	// Extra are parameters outside the model's Store that its forward
	// pass uses (an adapter's support tensors); Params lists them after
	// the model's.
	Extra []*ag.Var
}

// Params lists the model's parameters, then Extra.
func (c CausalLM) Params() []*ag.Var {
	return append(append([]*ag.Var(nil), c.Model.Params()...), c.Extra...)
}

// Forward implements train.Model; rng is unused (the decoder has no dropout).
func (c CausalLM) Forward(tp *ag.Tape, x *ag.Var, _ *rand.Rand) *ag.Var {
	h := c.hidden(tp, x)
	if !tp.OK(h) {
		return tp.Dead()
	}
	return c.headLayer().Forward(tp, h)
}

// Loss implements train.LossModel: the mean next-token cross-entropy with
// label smoothing s, and the positions whose arg-max logit is the next
// token. The output layer and the loss run fused
// (nn.LinearCrossEntropy), so the (B·T, vocabulary) logits and their
// gradient are never held whole; an output layer that an adapter wraps
// runs as in Forward, followed by nn.CrossEntropy.
func (c CausalLM) Loss(tp *ag.Tape, x *ag.Var, labels []int, s float32, _ *rand.Rand) (*ag.Var, int) {
	h := c.hidden(tp, x)
	if !tp.OK(h) {
		return tp.Dead(), 0
	}
	if head := c.headLayer(); head != nn.Layer(c.Head) {
		logits := head.Forward(tp, h)
		loss := nn.CrossEntropy(tp, logits, labels, s)
		return loss, nn.CountCorrect(logits.Value, labels)
	}
	return nn.LinearCrossEntropy(tp, h, c.Head.W, c.Head.B, labels, s)
}

// hidden is the final-norm hidden state of token ids x (B, T) as
// (B·T, D): viewed so before the output layer, not the logits after it,
// since a view's gradient is a copy and the logits' is (B·T, vocabulary).
func (c CausalLM) hidden(tp *ag.Tape, x *ag.Var) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	s := x.Value.Shape
	if len(s) != 2 {
		return tp.Fail(fmt.Errorf("llama: causal LM input %v: want token ids (B, T)", s))
	}
	ids := make([]int, len(x.Value.Data))
	for i, v := range x.Value.Data {
		ids[i] = int(v)
		if float32(ids[i]) != v {
			return tp.Fail(fmt.Errorf("llama: causal LM input holds %v at %d, not a token id", v, i))
		}
	}
	h := c.Model.Hidden(tp, ids, s[0], s[1])
	return tp.Reshape(h, s[0]*s[1], c.Cfg.Dim)
}

// Windows cuts B windows of T+1 tokens from stream, starting at starts,
// into a CausalLM batch: x (B, T) as float32 ids and labels (B·T), the
// token after each position.
func Windows(stream []int32, starts []int, T int) (x []float32, labels []int, err error) {
	x = make([]float32, 0, len(starts)*T)
	labels = make([]int, 0, len(starts)*T)
	for _, s := range starts {
		if s < 0 || s+T+1 > len(stream) {
			return nil, nil, fmt.Errorf("llama: window [%d, %d) is outside the %d-token stream", s, s+T+1, len(stream))
		}
		for _, id := range stream[s : s+T] {
			x = append(x, float32(id))
		}
		for _, id := range stream[s+1 : s+T+1] {
			labels = append(labels, int(id))
		}
	}
	return x, labels, nil
}
