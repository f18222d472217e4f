package pipeline

import (
	"fmt"

	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// Base loads a base model with its checkpoint's layout and labels;
// backbones.Default is one. A Task calls it once and clones the model for
// every run (a method changes the model it adapts).
type Base func() (*vit.Model, vit.Checkpoint, error)

// Task is a base and a data set loaded once and split once: what every
// method trains on (finetune.Task: the training and validation splits),
// with the test split kept apart for Test.
type Task struct {
	finetune.Task
	Classes []string
	base    *vit.Model // as loaded: Fresh clones it
	seed    uint64
	test    *data.Dataset
}

// NewTask splits trainAll by scheme (holdout[:F], vtab1k, Kshot) and
// splitSeed into training and validation images, and keeps test for Test.
// Models come from base, each with a fresh head for the data's classes
// (seeded by seed); baseRef names the base in adapters
// (base_model_name_or_path) and dataName the data in the saved models'
// training record. The images must already be at the base's input size
// (data.ResolveWith with the base's size does that).
func NewTask(base Base, baseRef string, trainAll, test *data.Dataset, dataName, scheme string, splitSeed, seed uint64) (*Task, error) {
	if scheme == "full" {
		return nil, fmt.Errorf("pipeline: scheme full leaves no validation split, and every choice is made on it")
	}
	if test != nil && test.NumClasses() != trainAll.NumClasses() {
		return nil, fmt.Errorf("pipeline: %s: the training split has %d classes, the test split %d", dataName, trainAll.NumClasses(), test.NumClasses())
	}
	tr, err := data.Split(trainAll, nil, "train", scheme, splitSeed)
	if err != nil {
		return nil, err
	}
	val, err := data.Split(trainAll, nil, "val", scheme, splitSeed)
	if err != nil {
		return nil, err
	}
	v, ck, err := base()
	if err != nil {
		return nil, err
	}
	ck.Labels = trainAll.Classes
	ck.Config = v.Cfg
	ck.Training = &vit.TrainingInfo{Data: dataName, Scheme: scheme, SplitSeed: splitSeed}
	pristine, err := v.Clone()
	if err != nil {
		return nil, err
	}
	t := &Task{Classes: trainAll.Classes, base: pristine, seed: seed, test: test}
	t.Task = finetune.Task{Train: tr, Val: val, Pre: train.PreprocessFor(v.Cfg), BaseRef: baseRef, Checkpoint: ck,
		Data: dataName, Scheme: scheme, SplitSeed: splitSeed}
	return t, nil
}

// Fresh is a new copy of the base with a fresh head for the task's
// classes: Options.Fresh.
func (t *Task) Fresh() (*vit.Model, error) {
	v, err := t.base.Clone()
	if err != nil {
		return nil, err
	}
	_, err = finetune.FitHead(v, nil, t.Classes, t.seed)
	return v, err
}

// Test scores a merged model folder (Outcome.Merged) on the test split:
// the one read of it a task should make, at the very end; the matrix
// products at precision prec.
func (t *Task) Test(merged string, prec tensor.Precision) (train.Metrics, error) {
	if t.test == nil || t.test.Len() == 0 {
		return train.Metrics{}, fmt.Errorf("pipeline: %s has no test split", t.Data)
	}
	m, _, err := vit.Load(merged)
	if err != nil {
		return train.Metrics{}, err
	}
	return train.Evaluate(m, t.test, 256, prec)
}
