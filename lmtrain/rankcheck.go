package lmtrain

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/llama"
)

// RankItem is one structure of a rank check: its validation loss with the
// supernet's shared weights and after training alone.
type RankItem struct {
	Name       string          `json:"name"` // "top N" (the search's N-th best) or "random N"
	Params     int             `json:"params"`
	SharedLoss float64         `json:"shared_val_loss"`     // the supernet's weights, nothing trained
	Loss       float64         `json:"standalone_val_loss"` // best validation loss trained alone from the adapter's initialisation
	Structure  glora.Structure `json:"structure"`
}

// RankCheck is how well the supernet ranks structures: Kendall's τ between
// the shared-weight validation loss of several structures and their
// validation loss after each trained alone (1: the same order; 0: none).
type RankCheck struct {
	Items   []RankItem `json:"items"`
	Tau     *float64   `json:"tau"`   // nil when undefined (a side constant)
	Steps   int        `json:"steps"` // of each standalone run
	Seconds float64    `json:"seconds"`
}

// rankCheck trains n structures alone — the search's ⌈n/2⌉ best and
// random ones at the budget — each for steps from the adapter's initial
// support tensors, scores each with the supernet's trained weights on the
// search's validation tokens, and returns τ.
func (s *Supernet) rankCheck(m *llama.Model, ck llama.Checkpoint, sr searched, n, steps, tokens int,
	trainTok, valTok []int32, o Options) (*RankCheck, error) {
	net := s.Net
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	t0 := time.Now()
	// a structure reading nothing has nothing to train alone
	names, sts := search.RankCheckSet(sr.all, s.Space, net.Targets(), sr.budget, n, o.Seed,
		func(st glora.Structure) bool { return glora.Params(st, net.Targets()) > 0 })
	items := make([]RankItem, len(sts))
	for i, st := range sts {
		items[i] = RankItem{Name: names[i], Structure: st}
	}
	short := o
	short.OutDir, short.Steps, short.StopAfter, short.Resume = "", steps, 0, false
	short.EvalEvery, short.WarmupSteps = max(1, steps/2), min(o.WarmupSteps, steps/10)
	short.SaveBest, short.SaveExtra, short.Hook, short.BeforeEval = nil, nil, nil, nil
	rc := &RankCheck{Steps: steps}
	var shared, alone []float64
	for i := range items {
		it := &items[i]
		it.Params = glora.Params(it.Structure, net.Targets())
		s.trained.restore()
		if _, err := net.MergeStructure(it.Structure); err != nil {
			return nil, err
		}
		ev, err := Evaluate(m, valTok, o.SeqLen, o.Batch, tokens, o.Precision)
		net.Unmerge()
		if err != nil {
			return nil, err
		}
		it.SharedLoss = ev.Loss
		if err := s.fix(it.Structure, true); err != nil {
			return nil, err
		}
		short.Extra = net.Trainable()
		sum, err := Train(m, ck, trainTok, valTok, short)
		if err != nil {
			return nil, fmt.Errorf("lmtrain: rank check %s: %w", it.Name, err)
		}
		it.Loss = sum.BestValLoss
		fmt.Fprintf(log, "rank check %s (%d support parameters): validation loss %.4f with the supernet's weights, %.4f trained alone for %d steps\n",
			it.Name, it.Params, it.SharedLoss, it.Loss, steps)
		shared, alone = append(shared, it.SharedLoss), append(alone, it.Loss)
	}
	s.trained.restore()
	rc.Items = items
	if tau := search.KendallTau(shared, alone); !math.IsNaN(tau) {
		rc.Tau = &tau
	}
	rc.Seconds = time.Since(t0).Seconds()
	return rc, nil
}
