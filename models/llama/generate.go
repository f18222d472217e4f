package llama

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	// MaxTokens counts positions, the prompt's included (llama2.c's -n);
	// 0 means max_position_embeddings.
	MaxTokens int
	// Temperature 0 is greedy decoding (argmax); otherwise logits are
	// divided by it before the softmax.
	Temperature float64
	// TopP in (0, 1) samples from the smallest set of tokens whose
	// probabilities sum past it (nucleus sampling); 0 or 1 samples from all.
	TopP float64
	// Seed seeds the sampler (unused when greedy).
	Seed uint64
	// Precision of the matrix products (tensor.F32 by default).
	Precision tensor.Precision
}

// Generate continues prompt (token ids, at least one) with a key/value
// cache: the prompt runs in one step, then each new token in one more.
// emit receives every generated token as soon as it is chosen; generation
// stops after MaxTokens positions, at the model's EOS, at a generated BOS
// (llama2.c's convention: BOS separates documents, so it ends one), or when
// emit returns an error (returned; ErrStop stops quietly).
func (m *Model) Generate(prompt []int, opt GenerateOptions, emit func(id int) error) error {
	c := m.Cfg
	n := opt.MaxTokens
	if n == 0 || n > c.MaxSeq {
		n = c.MaxSeq
	}
	switch {
	case len(prompt) == 0:
		return errors.New("llama: generate: empty prompt (start it with BOS)")
	case len(prompt) > n:
		return fmt.Errorf("llama: generate: the prompt has %d tokens, more than the %d positions allowed", len(prompt), n)
	case opt.Temperature < 0 || math.IsNaN(opt.Temperature) || math.IsInf(opt.Temperature, 0):
		return fmt.Errorf("llama: generate: temperature %v must be ≥ 0", opt.Temperature)
	case opt.TopP < 0 || opt.TopP > 1 || math.IsNaN(opt.TopP):
		return fmt.Errorf("llama: generate: top-p %v must be in [0, 1]", opt.TopP)
	}
	for i, id := range prompt {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("llama: generate: prompt token %d at position %d is outside the vocabulary of %d", id, i, c.VocabSize)
		}
	}
	cache, err := m.NewCache(1, n)
	if err != nil {
		return err
	}
	tp := ag.NewTape()
	tp.NoGrad, tp.Precision = true, opt.Precision
	smp := NewSampler(opt.Temperature, opt.TopP, opt.Seed)
	in := prompt
	for seq := len(prompt); seq < n; seq++ { // seq: positions so far, the prompt's and those emitted
		logits := m.Step(tp, cache, in, 1, len(in))
		if err := tp.Err(); err != nil {
			return err
		}
		next := smp.Sample(logits.Value.Data)
		tp.Reset()
		if next == c.EOS || next == c.BOS {
			return nil
		}
		if err := emit(next); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		in = []int{next}
	}
	return nil
}

// ErrStop, returned by Generate's emit, ends generation without an error.
var ErrStop = errors.New("llama: stop generation")

// Sampler picks the next token from logits: argmax when its temperature is
// 0, else a draw from softmax(logits/T), restricted to the top-p nucleus.
type Sampler struct {
	temp, topP float64
	rng        *rand.Rand
	probs      []float64
	order      []int
}

// NewSampler makes a sampler seeded by seed.
func NewSampler(temperature, topP float64, seed uint64) *Sampler {
	return &Sampler{temp: temperature, topP: topP, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// Sample returns a token id for one position's logits (V).
func (s *Sampler) Sample(logits []float32) int {
	if s.temp == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best
	}
	p := s.probs[:0]
	mx := float64(slices.Max(logits))
	sum := 0.0
	for _, v := range logits {
		e := math.Exp((float64(v) - mx) / s.temp)
		p = append(p, e)
		sum += e
	}
	s.probs = p
	for i := range p {
		p[i] /= sum
	}
	order := s.order[:0]
	for i := range p {
		order = append(order, i)
	}
	s.order = order
	if s.topP > 0 && s.topP < 1 {
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case p[a] > p[b]:
				return -1
			case p[a] < p[b]:
				return 1
			}
			return 0
		})
		cum := 0.0
		for k, i := range order {
			cum += p[i]
			if cum > s.topP {
				order = order[:k+1]
				break
			}
		}
	}
	total := 0.0
	for _, i := range order {
		total += p[i]
	}
	r := s.rng.Float64() * total
	for _, i := range order {
		r -= p[i]
		if r < 0 {
			return i
		}
	}
	return order[len(order)-1]
}
