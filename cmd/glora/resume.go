package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/glora/glora/train"
)

// pretrainFlagKeys maps pretrain's flags to the state.json options they
// set, for resuming: a flag given with --resume must agree with the saved
// run (train.CheckResume); one left out takes the saved value.
var pretrainFlagKeys = map[string][]string{
	"data": {"data"}, "scheme": {"scheme"}, "split-seed": {"split_seed"}, "model": {"model"},
	"new-head": {"new_head"}, "drop-path": {"drop_path"}, "epochs": {"epochs"}, "batch": {"batch"},
	"lr": {"lr"}, "min-lr": {"min_lr"}, "warmup": {"warmup_epochs"}, "wd": {"weight_decay"},
	"label-smoothing": {"label_smoothing"}, "clip": {"clip_norm"}, "seed": {"seed"},
	"augment": {"pad_crop", "hflip"}, "checkpoint-every": {"checkpoint_every"},
}

// resumeHelp is --resume's help text: what a resume keeps and what may change.
const resumeHelp = "continue the run saved in --out with its saved settings: data, scheme, split seed, model, head and every training option are read from its checkpoint/state.json, so no flag needs repeating; a flag given again must match the saved value, except --epochs (may change, not below the epochs done; the cosine schedule is then recomputed from the current step), --checkpoint-every and --stop-after"

// givenKeys returns whether a state.json option was set by an explicit flag.
func givenKeys(explicit map[string]bool) func(key string) bool {
	keys := map[string]bool{}
	for f := range explicit {
		for _, k := range pretrainFlagKeys[f] {
			keys[k] = true
		}
	}
	return func(k string) bool { return keys[k] }
}

// flagOf is the pretrain flag that sets state.json option key.
func flagOf(key string) string {
	switch key {
	case "pad_crop":
		return "--augment crop padding"
	case "hflip":
		return "--augment flip"
	}
	for f, keys := range pretrainFlagKeys {
		for _, k := range keys {
			if k == key {
				return "--" + f
			}
		}
	}
	return key
}

// resumeError rewrites a train.ResumeError in terms of pretrain's flags.
func resumeError(out string, err error) error {
	var re *train.ResumeError
	if !errors.As(err, &re) {
		return err
	}
	var parts []string
	for _, c := range re.Conflicts {
		parts = append(parts, fmt.Sprintf("%s %v, but the run was saved with %v (%s)", flagOf(c.Setting), c.Given, c.Saved, c.Reason))
	}
	sort.Strings(parts)
	return fmt.Errorf("--resume: cannot continue the run in %s: %s; leave a flag out to use the saved value", out, strings.Join(parts, "; "))
}
