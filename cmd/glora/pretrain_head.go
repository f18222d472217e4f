package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/train"
)

// canonicalModel spells --model one way per model, for state.json: the
// shipped backbone as "shipped", a folder as its absolute path.
func canonicalModel(spec string) string {
	if spec == "" {
		return shipped
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		return absPath(spec)
	}
	return spec
}

// checkSplitClasses refuses data whose test split has another class count
// than its training split.
func checkSplitClasses(spec string, trainSet, testSet *data.Dataset) error {
	if err := data.CheckClasses(trainSet, testSet); err != nil {
		return fmt.Errorf("--data %s: %w", spec, err)
	}
	return nil
}

// namesEvery reports whether labels name each of n outputs.
func namesEvery(labels []string, n int) bool {
	return len(labels) == n && !slices.Contains(labels, "")
}

// otherClassNames reports whether a model's labels name each of as many
// outputs as the data has classes, and not as the data names them.
func otherClassNames(labels, classes []string) bool {
	return namesEvery(labels, len(classes)) && !slices.EqualFunc(labels, classes, strings.EqualFold)
}

// fitHead makes m's head fit the data's classes: a fresh preset already
// does; --new-head replaces the head (seeded by --seed); otherwise a head
// of another size is refused, saying how to replace it.
func fitHead(m *vit.Model, o train.Options, fresh bool, trainSet *data.Dataset) error {
	k := trainSet.NumClasses()
	switch {
	case o.NewHead:
		if err := m.ResetHead(k, vit.HeadRNG(o.Seed)); err != nil {
			return fmt.Errorf("--new-head: %w", err)
		}
	case fresh:
	case m.Head == nil || m.Cfg.NumClasses == 0:
		return fmt.Errorf("--model %s has no classification head; add --new-head to give it one for the %d classes of --data %s", o.Model, k, o.Data)
	case m.Cfg.NumClasses != k:
		return fmt.Errorf("--model %s has a %d-class head but --data %s has %d classes (%s); add --new-head to replace the head with a fresh %d-class one (the rest of the model is kept and fine-tuned)",
			o.Model, m.Cfg.NumClasses, o.Data, k, data.ClassList(trainSet.Classes), k)
	}
	return nil
}
