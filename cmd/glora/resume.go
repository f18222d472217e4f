package main

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/glora/glora/train"
)

// pretrainKeys maps pretrain's flags to the state.json options they set,
// for resuming: a flag given with --resume must agree with the saved run
// (train.CheckResume); one left out takes the saved value. It is read off
// the registration (flagKeys: each flag bound to a field of
// train.Options takes that field's json key), so no table is kept by hand;
// --augment sets two, and --label-smoothing is read into a float64 beside
// Options' float32.
func pretrainKeys(fs *flag.FlagSet, o *train.Options) map[string][]string {
	keys := map[string][]string{"augment": {"pad_crop", "hflip"}, "label-smoothing": {"label_smoothing"}}
	for f, k := range flagKeys(fs, o) {
		keys[f] = []string{k}
	}
	return keys
}

// resumeHelp is --resume's help text: what a resume keeps and what may change.
const resumeHelp = "continue the run saved in --out with its saved settings: data, scheme, split seed, model, head and every training option are read from its checkpoint/state.json, so no flag needs repeating; a flag given again must match the saved value, except --epochs (may change, not below the epochs done; the cosine schedule is then recomputed from the current step), --checkpoint-every and --stop-after"

// givenKeys returns whether a state.json option was set by an explicit
// flag (flagKeys: pretrainKeys).
func givenKeys(explicit map[string]bool, flagKeys map[string][]string) func(key string) bool {
	keys := map[string]bool{}
	for f := range explicit {
		for _, k := range flagKeys[f] {
			keys[k] = true
		}
	}
	return func(k string) bool { return keys[k] }
}

// flagOf is the pretrain flag that sets state.json option key.
func flagOf(key string, flagKeys map[string][]string) string {
	switch key {
	case "pad_crop":
		return "--augment crop padding"
	case "hflip":
		return "--augment flip"
	}
	for f, keys := range flagKeys {
		for _, k := range keys {
			if k == key {
				return "--" + f
			}
		}
	}
	return key
}

// resumeError rewrites a train.ResumeError in terms of pretrain's flags
// (flagKeys: pretrainKeys).
func resumeError(out string, err error, flagKeys map[string][]string) error {
	var re *train.ResumeError
	if !errors.As(err, &re) {
		return err
	}
	var parts []string
	for _, c := range re.Conflicts {
		parts = append(parts, fmt.Sprintf("%s %v, but the run was saved with %v (%s)", flagOf(c.Setting, flagKeys), c.Given, c.Saved, c.Reason))
	}
	sort.Strings(parts)
	return fmt.Errorf("--resume: cannot continue the run in %s: %s; leave a flag out to use the saved value", out, strings.Join(parts, "; "))
}
