package pipeline

import (
	"fmt"
	"io"
	"sync"

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
	From    string // the base, for messages ("the shipped backbone (vit-fmnist)", a folder, …)
	NewHead bool   // the base's head did not name the data's classes: every model gets a fresh one
	// OnTest, when set, is called at each read of the test split (Test):
	// a command can check that only its last step reads it.
	OnTest func()

	base   *vit.Model // as loaded: Fresh clones it
	labels []string   // the head's class names when the base's head is kept (nil: a fresh head)
	seed   uint64
	all    *data.Dataset // the training split before the train/validation draw
	test   *data.Dataset

	mu    sync.Mutex
	first *vit.Model // Open's model, head fitted: Fresh's first answer
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
	if err := data.CheckClasses(trainAll, test); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", dataName, err)
	}
	t := &Task{Classes: trainAll.Classes, From: baseRef, NewHead: true, seed: seed, all: trainAll, test: test}
	if err := t.split(dataName, scheme, splitSeed); err != nil {
		return nil, err
	}
	v, ck, err := base()
	if err != nil {
		return nil, err
	}
	if t.base, err = v.Clone(); err != nil {
		return nil, err
	}
	t.finish(v, ck, baseRef, &vit.TrainingInfo{Data: dataName, Scheme: scheme, SplitSeed: splitSeed}, nil)
	return t, nil
}

// split draws the task's training and validation images from t.all.
func (t *Task) split(dataName, scheme string, splitSeed uint64) error {
	tr, err := data.Split(t.all, t.test, "train", scheme, splitSeed)
	if err != nil {
		return err
	}
	val, err := data.Split(t.all, t.test, "val", scheme, splitSeed)
	if err != nil {
		return err
	}
	t.Task = finetune.Task{Train: tr, Val: val, Data: dataName, Scheme: scheme, SplitSeed: splitSeed}
	return nil
}

// finish completes a split task with what its models are saved with: the
// checkpoint of v (the base as loaded), whose labels and configuration
// become the task's, and the training record.
func (t *Task) finish(v *vit.Model, ck vit.Checkpoint, baseRef string, record *vit.TrainingInfo, log io.Writer) {
	ck.Training = record
	ck.Labels = t.Classes
	ck.Config = v.Cfg
	t.Pre = train.PreprocessFor(v.Cfg)
	t.BaseRef, t.Checkpoint, t.Log = baseRef, ck, log
}

// Fresh is a model no one else holds: the base with its head fitted to
// the task's classes (kept when the base's labels name them, else a fresh
// head, the same one every time): Options.Fresh. The first call after
// Open returns the model Open loaded; later ones clone the base.
func (t *Task) Fresh() (*vit.Model, error) {
	t.mu.Lock()
	v := t.first
	t.first = nil
	t.mu.Unlock()
	if v != nil {
		return v, nil
	}
	v, err := t.base.Clone()
	if err != nil {
		return nil, err
	}
	_, err = finetune.FitHead(v, t.labels, t.Classes, t.seed)
	return v, err
}

// Test scores a merged model folder (Outcome.Merged) on the test split:
// the one read of it a task should make, at the very end; the matrix
// products at precision prec.
func (t *Task) Test(merged string, prec tensor.Precision) (train.Metrics, error) {
	if t.OnTest != nil {
		t.OnTest()
	}
	if t.test == nil || t.test.Len() == 0 {
		return train.Metrics{}, fmt.Errorf("pipeline: %s: %w", t.Data, ErrNoTestSplit)
	}
	m, _, err := vit.Load(merged)
	if err != nil {
		return train.Metrics{}, err
	}
	return train.Evaluate(m, t.test, 256, prec)
}
