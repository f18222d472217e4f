package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/train"
)

// finishedMessage says why a resumed run has nothing left to train ("" if
// it has): its schedule is done, or --stop-after is already reached.
func finishedMessage(st train.State, o train.Options, out string) string {
	best := filepath.Join(out, "best")
	switch {
	case st.Epoch >= o.Epochs:
		return fmt.Sprintf("the run in %s already finished its %d epochs: nothing to train (its model is in %s; give a larger --epochs to train on)", out, st.Epoch, best)
	case o.StopAfter > 0 && st.Epoch >= o.StopAfter:
		return fmt.Sprintf("the run in %s has done %d of %d epochs, which --stop-after %d already reaches: nothing to train (raise or leave out --stop-after to go on)", out, st.Epoch, o.Epochs, o.StopAfter)
	}
	return ""
}

// printFinishedSummary prints, for --json, the summary.json of a run that
// has nothing left to train as one line; a run stopped before it wrote one
// (killed at its end) gets {"out", "finished": true, "note"}.
func printFinishedSummary(stdout io.Writer, out, note string) error {
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stdout, jsonLine(map[string]any{"out": out, "finished": true, "note": note}))
		return nil
	}
	if err != nil {
		return err
	}
	var line bytes.Buffer
	if err := json.Compact(&line, b); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(out, "summary.json"), err)
	}
	fmt.Fprintln(stdout, line.String())
	return nil
}

// pretrainSummary is summary.json: the outcome, timings and settings of a
// pretrain run (also its --json line).
type pretrainSummary struct {
	Model       string              `json:"model"`
	Out         string              `json:"out"`
	Settings    train.Options       `json:"settings"`
	TrainImages int                 `json:"train_images"`
	ValImages   int                 `json:"val_images"`
	Classes     []string            `json:"classes"`
	Epochs      int                 `json:"epochs_done"`
	Stopped     bool                `json:"stopped_early"` // --stop-after ended it before --epochs
	BestEpoch   int                 `json:"best_epoch"`
	BestVal     *train.Metrics      `json:"best_val"` // null without a validation split
	Final       *train.EpochRecord  `json:"final_epoch"`
	History     []train.EpochRecord `json:"history"`
	BestDir     string              `json:"best_dir"`
	Seconds     float64             `json:"seconds"`       // wall time of this invocation
	TrainSecs   float64             `json:"train_seconds"` // the epochs' training time, over all resumes
	ImgPerS     float64             `json:"img_per_s"`     // training images per second over all epochs
	Precision   string              `json:"precision"`     // of this invocation's matrix products (f32, bf16)
}

func newPretrainSummary(sum train.Summary, o train.Options, from, out string, trainSet, val *data.Dataset, wall time.Duration) pretrainSummary {
	s := pretrainSummary{Model: from, Out: out, Settings: o, TrainImages: trainSet.Len(), ValImages: val.Len(),
		Classes: trainSet.Classes, Epochs: len(sum.History), BestEpoch: sum.BestEpoch, History: sum.History,
		BestDir: sum.BestDir, Seconds: wall.Seconds()}
	s.Stopped = o.StopAfter > 0 && o.StopAfter < o.Epochs
	if val.Len() > 0 {
		b := sum.Best
		s.BestVal = &b
	}
	var imgs float64
	for _, h := range sum.History {
		s.TrainSecs += h.Seconds
		imgs += h.ImgPerS * h.Seconds
	}
	if s.TrainSecs > 0 {
		s.ImgPerS = imgs / s.TrainSecs
	}
	if n := len(sum.History); n > 0 {
		f := sum.History[n-1]
		s.Final = &f
	}
	return s
}
