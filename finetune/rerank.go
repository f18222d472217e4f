package finetune

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/train"
)

// Entrant is one structure (or method) of a Rerank: a name for the logs and
// the report, and how to adapt the model.
type Entrant struct {
	Name  string
	Setup Setup
}

// Round is what one entrant reached in a Rerank: the epochs it trained and
// its best validation accuracy (and that epoch's loss) so far.
type Round struct {
	Name     string  `json:"name"`
	Epochs   int     `json:"epochs"`
	Accuracy float64 `json:"val_accuracy"`
	Loss     float64 `json:"val_loss"`
	Seconds  float64 `json:"seconds"`
	Winner   bool    `json:"winner,omitempty"`
}

// RerankResult is a finished Rerank.
type RerankResult struct {
	Winner  *Trained // the last entrant, trained for the whole schedule (OutDir of its stage: WinnerDir)
	Index   int      // its index in the entrants
	Dir     string   // its stage folder (adapter/, merged/)
	Rounds  []Round  // every entrant's last round, in the entrants' order
	Seconds float64  // all of it
}

// Rungs is successive halving's schedule for n entrants over a run of
// epochs: the epochs after which the field is halved (rounded up), the
// last rung the whole run. One entrant trains the whole run at once.
// E.g. 4 entrants over 8 epochs: 2, 4, 8 (4 train 2 epochs, 2 of them
// reach 4, 1 reaches 8: 16 epochs in all, twice one run).
func Rungs(n, epochs int) []int {
	var rungs []int
	for e := epochs; n > 1 && e > 1; n = (n + 1) / 2 {
		e = max(1, e/2)
		rungs = append(rungs, e)
	}
	slices.Reverse(rungs)
	return append(slices.Compact(rungs), epochs)
}

// Rerank chooses among entrants by training them, on the validation split
// only, by successive halving: every entrant trains the first rung of the
// schedule h (Rungs), the better half by best validation accuracy so far
// (then its loss; the earlier entrant on a tie) continues from its
// checkpoint to the next rung, and so on, until one entrant trains the
// whole schedule; it is the winner, finished as Finetune finishes a run
// (best epoch kept, adapter/ and merged/ written). Entrant i trains in
// OutDir/entrant-i with so's seed; fresh builds each entrant's model. A
// resumed Rerank (so.Resume) replays what finished and continues.
func Rerank(ctx context.Context, fresh func() (*vit.Model, error), t Task, entrants []Entrant, h Hyper, so StageOptions, log io.Writer) (*RerankResult, error) {
	if len(entrants) == 0 {
		return nil, fmt.Errorf("finetune: rerank: no entrants")
	}
	if log == nil {
		log = io.Discard
	}
	t0 := time.Now()
	dir := func(i int) string { return filepath.Join(so.OutDir, fmt.Sprintf("entrant-%d", i)) }
	rounds := make([]Round, len(entrants))
	alive := make([]int, len(entrants))
	for i := range alive {
		alive[i] = i
		rounds[i].Name = entrants[i].Name
	}
	started := make([]bool, len(entrants))
	runs := make([]*Trained, len(entrants))
	rungs := Rungs(len(entrants), h.Epochs)
	for ri, rung := range rungs {
		for _, i := range alive {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			v, err := fresh()
			if err != nil {
				return nil, err
			}
			o := so
			o.OutDir, o.StopAfter = dir(i), rung
			o.Resume = started[i] || (so.Resume && hasCheckpoint(o.OutDir))
			if rung == h.Epochs {
				o.StopAfter = 0
			}
			t1 := time.Now()
			tr, err := Finetune(ctx, v, t, entrants[i].Setup, h, o)
			if err != nil {
				return nil, fmt.Errorf("rerank %s: %w", entrants[i].Name, err)
			}
			started[i], runs[i] = true, tr
			r := &rounds[i]
			r.Epochs, r.Seconds = len(tr.History), r.Seconds+time.Since(t1).Seconds()
			r.Accuracy, r.Loss = bestOf(tr)
			fmt.Fprintf(log, "rerank: %-24s %d/%d epochs, best val accuracy %.4f (loss %.4f)\n", entrants[i].Name, r.Epochs, h.Epochs, r.Accuracy, r.Loss)
		}
		// The better half goes on (the best alone after the last rung, or
		// before one that finishes the run).
		slices.SortStableFunc(alive, func(a, b int) int {
			ra, rb := rounds[a], rounds[b]
			switch {
			case ra.Accuracy != rb.Accuracy:
				return cmp.Compare(rb.Accuracy, ra.Accuracy)
			case ra.Loss != rb.Loss:
				return cmp.Compare(ra.Loss, rb.Loss)
			}
			return a - b
		})
		alive = alive[:(len(alive)+1)/2]
		if ri == len(rungs)-1 || rungs[ri+1] == h.Epochs {
			alive = alive[:1]
		}
		slices.Sort(alive)
	}
	winner := runs[alive[0]]
	if winner == nil || winner.Stopped {
		return nil, fmt.Errorf("finetune: rerank ended without a finished winner")
	}
	rounds[alive[0]].Winner = true
	return &RerankResult{Winner: winner, Index: alive[0], Dir: dir(alive[0]), Rounds: rounds, Seconds: time.Since(t0).Seconds()}, nil
}

// bestOf is a run's best validation accuracy so far and that epoch's loss.
func bestOf(tr *Trained) (acc, loss float64) {
	if !tr.Stopped {
		return tr.Val.Accuracy, tr.Val.Loss
	}
	for _, r := range tr.History {
		if r.Epoch == tr.BestEpoch {
			return r.ValAcc, r.ValLoss
		}
	}
	return 0, 0
}

// hasCheckpoint reports whether a stage folder holds a training checkpoint.
func hasCheckpoint(dir string) bool {
	_, err := os.Stat(train.StateFile(dir))
	return err == nil
}
