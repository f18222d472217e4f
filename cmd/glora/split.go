package main

import (
	"fmt"
	"path/filepath"

	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
)

// defaultScheme is the validation scheme of every command (pretrain, eval)
// when neither the flag nor the model's training record says otherwise.
const defaultScheme = "holdout"

// schemeHelp documents --scheme for pretrain and eval alike.
const schemeHelp = "how validation is carved from the training split: holdout[:F] (a stratified 10%, or F), vtab1k (800 train + 200 val), Kshot, or full (the whole training split trains, no validation). Default: the scheme recorded in the model's config.json when it was trained on the same data, else " + defaultScheme

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// splitDefaults returns the scheme and split seed to use on data when the
// flags leave them out: the model's record when it trained on the same
// data (fromRecord), else defaultScheme and seed 0.
func splitDefaults(rec *vit.TrainingInfo, spec string) (scheme string, seed uint64, fromRecord bool) {
	if rec != nil && data.SameTraining(rec.Data, spec) {
		return rec.Scheme, rec.SplitSeed, true
	}
	return defaultScheme, 0, false
}

// checkHeldOut refuses to score a validation split (val, trainval) of spec
// that holds images the model was trained on, per its record: all of them
// under scheme full, some under another scheme or split seed.
func checkHeldOut(rec *vit.TrainingInfo, spec, split, scheme string, seed uint64) error {
	// The messages name the spec the model was trained on (rec.Data): data
	// may be another spelling of it, or a test-only variant (mnist:blur).
	if rec == nil || !data.SameTraining(rec.Data, spec) || (split != "val" && split != "trainval") {
		return nil
	}
	if rec.Scheme == "full" {
		return fmt.Errorf("--split %s: the model was trained on the whole training split of %s (--scheme full, recorded in its config.json), so every %s image is a training image; evaluate on --split test",
			split, rec.Data, split)
	}
	if split == "trainval" {
		return fmt.Errorf("--split trainval: the model was trained on part of it (--scheme %s --split-seed %d on %s); evaluate on --split val or test", rec.Scheme, rec.SplitSeed, rec.Data)
	}
	if scheme != rec.Scheme || seed != rec.SplitSeed {
		return fmt.Errorf("--split val with --scheme %s --split-seed %d: the model was trained with --scheme %s --split-seed %d on %s (recorded in its config.json), and this validation split would hold its training images; leave out --scheme and --split-seed to use the recorded ones",
			scheme, seed, rec.Scheme, rec.SplitSeed, rec.Data)
	}
	return nil
}
