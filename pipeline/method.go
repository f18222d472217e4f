package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/glora/glora/finetune"
)

// Outcome is one method trained on a task.
type Outcome struct {
	*finetune.Trained
	Dir      string           // the kept run's folder: adapter/ (the structure methods) and merged/
	Merged   string           // Dir/merged: the kept model as a plain ViT folder (its test model)
	Note     string           // searched GLoRA: what the search found
	Seconds  float64          // everything the method took (supernet, search and finalists included)
	Searched *SearchedOutcome // searched GLoRA's stages; nil for the other methods
}

// TrainMethod adapts a fresh model (o.Fresh) to t with method (one of
// Methods) under r, in o.Dir: searched GLoRA through SearchGLoRA, every
// other method as one finetune.Finetune run in o.Dir/METHOD. Only the
// validation split chooses anything.
func TrainMethod(ctx context.Context, method string, t finetune.Task, r Recipe, o Options) (*Outcome, error) {
	if err := r.Validate([]string{method}); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if method == Searched {
		s, err := SearchGLoRA(ctx, t, r, o)
		if err != nil {
			return nil, err
		}
		out := &Outcome{Trained: s.Trained, Dir: s.Dir, Merged: filepath.Join(s.Dir, finetune.MergedDir), Searched: s,
			Seconds: time.Since(t0).Seconds()}
		out.Note = fmt.Sprintf("%d candidates searched (best %.3f with shared weights); %d finalists retrained from %s, kept %s",
			len(s.Search.Candidates), s.Search.Best.Accuracy, len(s.FinalistNames), map[bool]string{true: "the supernet's weights", false: "fresh support tensors"}[r.Search.Inherit],
			s.FinalistNames[s.Finalists.Index])
		out.Note += "; structure " + s.Structure.Summary()
		return out, nil
	}
	v, err := o.Fresh()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.Dir, method)
	so := finetune.StageOptions{OutDir: dir, Seed: o.Seed, CheckpointEvery: o.CheckpointEvery, Resume: o.Resume && hasCheckpoint(dir), Precision: o.Precision}
	tr, err := finetune.Finetune(ctx, v, t, finetune.Setup{Method: method, Rank: r.Rank}, r.Hyper(method, t.Train.Len()), so)
	if err != nil {
		return nil, err
	}
	return &Outcome{Trained: tr, Dir: dir, Merged: filepath.Join(dir, finetune.MergedDir), Seconds: time.Since(t0).Seconds()}, nil
}
