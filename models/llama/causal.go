package llama

import (
	"fmt"
	"math/rand/v2"

	ag "github.com/glora/glora/autograd"
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
	// The hidden state (B, T, D) is viewed as (B·T, D) before the output
	// layer, not the logits after it: a view's gradient is a copy, and the
	// logits' is (B·T, vocabulary).
	h := c.Model.Hidden(tp, ids, s[0], s[1])
	return c.headLayer().Forward(tp, tp.Reshape(h, s[0]*s[1], c.Cfg.Dim))
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
