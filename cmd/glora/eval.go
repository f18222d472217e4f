package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/train"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval [--model DIR] --data SPEC [--split test] [--json]", stderr)
	model := fs.String("model", "", "checkpoint folder or preset (default: the shipped backbone)")
	spec := fs.String("data", "", "dataset: fashion-mnist, mnist, folder:PATH, idx:IMAGES,LABELS[,TEST_IMAGES,TEST_LABELS]")
	split := fs.String("split", "test", "train, val or test (val is carved from the training split)")
	scheme := fs.String("scheme", "vtab1k", "how train/val are carved from the training split: full, holdout[:F], vtab1k, Kshot")
	seed := fs.Uint64("seed", 0, "seed of the split (pretrain's --split-seed)")
	batch := fs.Int("batch", 256, "images per forward pass")
	asJSON := fs.Bool("json", false, "end with one JSON line: accuracy, n, loss, …")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *spec == "" {
		return fmt.Errorf("--data is required (e.g. --data fashion-mnist)")
	}
	if *batch < 1 {
		return fmt.Errorf("--batch must be ≥ 1, got %d", *batch)
	}
	m, _, from, err := loadModel(*model, *seed)
	if err != nil {
		return err
	}
	trainSet, testSet, err := resolveFor(*spec, m.Cfg, stderr)
	if err != nil {
		return fmt.Errorf("--data %s: %w", *spec, err)
	}
	ds, err := data.Split(trainSet, testSet, *split, *scheme, *seed)
	if err != nil {
		return fmt.Errorf("--split %s --scheme %s: %w", *split, *scheme, err)
	}
	t0 := time.Now()
	mt, err := train.Evaluate(m, ds, *batch)
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	fmt.Fprintf(stdout, "model %s\ndata %s, split %s: %d images\ntop-1 accuracy %.4f (%d/%d), loss %.4f, %.1fs (%.0f img/s)\n",
		from, *spec, *split, mt.N, mt.Accuracy, mt.Correct, mt.N, mt.Loss, secs, float64(mt.N)/secs)
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"accuracy": mt.Accuracy, "n": mt.N, "correct": mt.Correct, "loss": mt.Loss,
			"model": from, "data": *spec, "split": *split, "seconds": secs})
		fmt.Fprintln(stdout, string(b))
	}
	return nil
}
