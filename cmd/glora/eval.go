package main

import (
	"fmt"
	"io"
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/train"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval [--model shipped|DIR] --data SPEC [--split test] [--json]", stderr)
	model := fs.String("model", shipped, modelHelp)
	spec := fs.String("data", "", "dataset: fashion-mnist, mnist, mnist:rotate30|invert|noise|blur, digits, emoji, synth:count|position|orientation, folder:PATH, idx:IMAGES,LABELS[,TEST_IMAGES,TEST_LABELS] (see README)")
	split := fs.String("split", "test", "train, val or test (val is carved from the training split by --scheme; a model trained with --scheme full has no val)")
	scheme := fs.String("scheme", "", schemeHelp)
	var seed uint64
	fs.Uint64Var(&seed, "split-seed", 0, "seed of the split, as pretrain's --split-seed (default: the model's record, as --scheme)")
	fs.Uint64Var(&seed, "seed", 0, "the same as --split-seed")
	batch := fs.Int("batch", 256, "images per forward pass")
	asJSON := fs.Bool("json", false, "print the result as one JSON line on stdout (accuracy, n, loss, …); everything else goes to stderr")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *spec == "" {
		return fmt.Errorf("--data is required (e.g. --data fashion-mnist)")
	}
	if err := checkInt("batch", *batch, 1, maxBatch); err != nil {
		return err
	}
	human := stdout
	if *asJSON {
		human = stderr
	}
	explicit := explicitFlags(fs)
	m, ck, from, err := loadModel(*model, seed)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	if *scheme == "" {
		s, recSeed, fromRecord := splitDefaults(ck.Training, *spec)
		*scheme = s
		if fromRecord && !explicit["split-seed"] && !explicit["seed"] {
			seed = recSeed
		}
	}
	if err := checkHeldOut(ck.Training, *spec, *split, *scheme, seed); err != nil {
		return err
	}
	trainSet, testSet, err := resolveFor(*spec, m.Cfg, stderr)
	if err != nil {
		return fmt.Errorf("--data %s: %w", *spec, err)
	}
	if err := checkSplitClasses(*spec, trainSet, testSet); err != nil {
		return err
	}
	ds, err := data.Split(trainSet, testSet, *split, *scheme, seed)
	if err != nil {
		return fmt.Errorf("--split %s --scheme %s: %w", *split, *scheme, err)
	}
	t0 := time.Now()
	mt, err := train.Evaluate(m, ds, *batch)
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	splitDesc := *split
	if *split != "test" {
		splitDesc = fmt.Sprintf("%s (--scheme %s --split-seed %d)", *split, *scheme, seed)
	}
	fmt.Fprintf(human, "model %s\ndata %s, split %s: %d images\ntop-1 accuracy %.4f (%d/%d), loss %.4f, %.1fs (%.0f img/s)\n",
		from, *spec, splitDesc, mt.N, mt.Accuracy, mt.Correct, mt.N, mt.Loss, secs, float64(mt.N)/secs)
	if *asJSON {
		fmt.Fprintln(stdout, jsonLine(map[string]any{"accuracy": mt.Accuracy, "n": mt.N, "correct": mt.Correct, "loss": mt.Loss,
			"model": from, "data": *spec, "split": *split, "scheme": *scheme, "split_seed": seed, "seconds": secs}))
	}
	return nil
}
