package finetune

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/plot"
)

// RankItem is one structure of a rank check: its score with the
// supernet's shared weights and its validation accuracy trained alone.
type RankItem struct {
	Name       string          `json:"name"` // "top N" (the search's N-th best), "random N", or a named structure
	Hash       string          `json:"hash"`
	Params     int             `json:"params"`
	Shared     search.Score    `json:"shared"`     // the supernet's weights, nothing trained
	Standalone float64         `json:"standalone"` // best validation accuracy trained alone from fresh support tensors
	Loss       float64         `json:"standalone_loss"`
	Structure  glora.Structure `json:"structure"`
}

// RankCheck is how well a supernet ranks structures (the search is only as
// good as this ranking): Kendall's τ between the shared-weight validation
// accuracy of several structures and their validation accuracy after
// training each alone, and the same with the shared-weight loss.
type RankCheck struct {
	Items   []RankItem `json:"items"`
	Tau     *float64   `json:"tau"`      // shared accuracy against standalone accuracy; nil when undefined (a side constant)
	TauLoss *float64   `json:"tau_loss"` // −shared loss against standalone accuracy
	Epochs  int        `json:"epochs"`   // of each standalone training
	Seconds float64    `json:"seconds"`
}

// Rank-check files in a stage folder.
const (
	RankCheckFile = "rank-check.json"
	RankCheckPlot = "rank-check.png"
)

// CheckRanking trains each of items' structures alone (fresh support
// tensors, schedule h, seed so.Seed, in so.OutDir/item-i), scores each
// with the supernet m's shared weights on the validation split, and
// returns Kendall's τ between the two, writing so.OutDir/rank-check.json
// and rank-check.png. items need Name and Structure; a resumed check
// (so.Resume) reuses the trainings that finished.
func CheckRanking(ctx context.Context, m *Model, fresh func() (*vit.Model, error), t Task, items []RankItem, h Hyper, so StageOptions, log io.Writer) (*RankCheck, error) {
	if len(items) < 2 {
		return nil, fmt.Errorf("finetune: a rank check needs at least 2 structures, have %d", len(items))
	}
	if log == nil {
		log = io.Discard
	}
	t0 := time.Now()
	eval := m.Evaluator(t.Val, t.Pre, 256, so.Precision)
	rc := &RankCheck{Items: make([]RankItem, len(items)), Epochs: h.Epochs}
	var shared, sharedLoss, alone []float64
	for i, it := range items {
		sc, err := eval(ctx, it.Structure)
		if err != nil {
			return nil, err
		}
		v, err := fresh()
		if err != nil {
			return nil, err
		}
		o := so
		o.OutDir = filepath.Join(so.OutDir, fmt.Sprintf("item-%d", i))
		o.Resume = so.Resume && hasCheckpoint(o.OutDir)
		tr, err := Finetune(ctx, v, t, Setup{Method: GLoRA, Structure: it.Structure}, h, o)
		if err != nil {
			return nil, fmt.Errorf("rank check %s: %w", it.Name, err)
		}
		if err := os.RemoveAll(filepath.Join(o.OutDir, MergedDir)); err != nil {
			return nil, err
		}
		it.Hash, it.Params, it.Shared = it.Structure.Hash(), glora.Params(it.Structure, m.Net.Targets()), sc
		it.Standalone, it.Loss = tr.Val.Accuracy, tr.Val.Loss
		rc.Items[i] = it
		shared, sharedLoss, alone = append(shared, sc.Accuracy), append(sharedLoss, -sc.Loss), append(alone, tr.Val.Accuracy)
		fmt.Fprintf(log, "rank check %d/%d %-10s %6d params: shared weights %.4f, alone %.4f\n", i+1, len(items), it.Name, it.Params, sc.Accuracy, tr.Val.Accuracy)
	}
	rc.Tau, rc.TauLoss = defined(search.KendallTau(shared, alone)), defined(search.KendallTau(sharedLoss, alone))
	rc.Seconds = time.Since(t0).Seconds()
	if err := atomicfile.WriteJSON(filepath.Join(so.OutDir, RankCheckFile), rc); err != nil {
		return nil, err
	}
	return rc, WriteRankCheckPlot(filepath.Join(so.OutDir, RankCheckPlot), rc)
}

// WriteRankCheckPlot draws standalone validation accuracy against the
// shared-weight one, one point per structure.
func WriteRankCheckPlot(path string, rc *RankCheck) error {
	s := plot.Scatter{Title: fmt.Sprintf("rank check: Kendall tau %s (by shared loss %s)", FormatTau(rc.Tau), FormatTau(rc.TauLoss)),
		XLabel: "val acc with the supernet's shared weights", YLabel: "val acc trained alone", GroupName: "search top (0) / random (1)"}
	for _, it := range rc.Items {
		g := 0
		if len(it.Name) >= 6 && it.Name[:6] == "random" {
			g = 1
		}
		s.Points = append(s.Points, plot.Point{X: it.Shared.Accuracy, Y: it.Standalone, Group: g})
	}
	return plot.WriteScatterPNG(path, s)
}

// defined is &x, or nil for NaN (JSON has no NaN).
func defined(x float64) *float64 {
	if math.IsNaN(x) {
		return nil
	}
	return &x
}

// FormatTau prints a τ with two decimals, or "undefined".
func FormatTau(t *float64) string {
	if t == nil {
		return "undefined"
	}
	return fmt.Sprintf("%.2f", *t)
}
