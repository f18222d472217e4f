package pipeline

import (
	"errors"
	"fmt"
	"io"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/train"
)

// AutoScheme is Spec.Scheme's default: vtab1k (800 training + 200
// validation images, the VTAB-1k regime) when the training split holds at
// least 1,000 images, else holdout (a stratified tenth validates, the rest
// trains).
const AutoScheme = "auto"

// Spec names a task the way a user does: a base model, a data set and how
// its training split is divided. Open loads it.
type Spec struct {
	Base      string // backbones.Shipped (or ""), a model folder or a preset name
	Data      string // a data spec: mnist, folder:DIR, synth:count, … (docs/CLI.md)
	Scheme    string // AutoScheme (or ""), holdout[:F], vtab1k or Kshot; never full
	SplitSeed uint64 // the train/validation draw
	Seed      uint64 // a fresh head's initialisation
}

// SpecError says which of a Spec's settings Open could not use: Field is
// "base", "data" or "scheme", Value the setting (empty for the base, whose
// errors name it themselves).
type SpecError struct {
	Field, Value string
	Err          error
}

func (e *SpecError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Err.Error()
	}
	return e.Field + " " + e.Value + ": " + e.Err.Error()
}

func (e *SpecError) Unwrap() error { return e.Err }

// ErrNoTestSplit is what Task.Test returns for data without a test split.
var ErrNoTestSplit = errors.New("no test split")

// Open loads s once: the data at the base's input size (its folder
// loader's report of what it converted goes to log), the base with a head
// for the data's classes (kept when the base's labels already name them,
// else a fresh one seeded by s.Seed), the training split divided into
// training and validation images by the scheme. The test split stays in
// the Task for Task.Test. Errors are *SpecError naming the setting.
func Open(s Spec, log io.Writer) (*Task, error) {
	if log == nil {
		log = io.Discard
	}
	if s.Base == "" {
		s.Base = backbones.Shipped
	}
	if s.Data == "" {
		return nil, &SpecError{Field: "data", Err: errors.New("no data spec given (mnist, folder:DIR, synth:count, …: docs/CLI.md)")}
	}
	baseErr := func(err error) error { return &SpecError{Field: "base", Err: err} }
	if err := backbones.CheckSpec(s.Base); err != nil {
		return nil, baseErr(err)
	}
	inCfg, err := backbones.InputConfig(s.Base)
	if err != nil {
		return nil, baseErr(err)
	}
	all, test, err := data.ResolveWith(s.Data, train.InputOptions(inCfg, log))
	if err != nil {
		return nil, &SpecError{Field: "data", Value: s.Data, Err: err}
	}
	if err := data.CheckClasses(all, test); err != nil {
		return nil, &SpecError{Field: "data", Value: s.Data, Err: err}
	}
	v, ck, from, _, err := backbones.Resolve(s.Base, s.Seed, all.NumClasses())
	if err != nil {
		return nil, baseErr(err)
	}
	pristine, err := v.Clone()
	if err != nil {
		return nil, baseErr(err)
	}
	newHead, err := finetune.FitHead(v, ck.Labels, all.Classes, s.Seed)
	if err != nil {
		return nil, baseErr(err)
	}
	scheme := s.Scheme
	if scheme == "" || scheme == AutoScheme {
		scheme = "holdout"
		if all.Len() >= 1000 {
			scheme = "vtab1k"
		}
	}
	if scheme == "full" {
		return nil, &SpecError{Field: "scheme", Value: scheme, Err: errors.New("the pipeline chooses on a validation split; use holdout, vtab1k or Kshot")}
	}
	t := &Task{Classes: all.Classes, From: from, NewHead: newHead, base: pristine, first: v, seed: s.Seed, all: all, test: test}
	if !newHead {
		t.labels = all.Classes
	}
	if err := t.split(s.Data, scheme, s.SplitSeed); err != nil {
		return nil, &SpecError{Field: "scheme", Value: scheme, Err: err}
	}
	record := &vit.TrainingInfo{Data: s.Data, Scheme: scheme, SplitSeed: s.SplitSeed}
	if rec := ck.Training; rec != nil && data.SameTraining(rec.Data, s.Data) && (rec.Scheme != scheme || rec.SplitSeed != s.SplitSeed) {
		fmt.Fprintf(log, "warning: the base was trained on %s (--scheme %s): the validation images here are not all new to it, so validation accuracy flatters\n", s.Data, rec.Scheme)
		record.Scheme = "full"
	}
	t.finish(v, ck, s.Base, record, log)
	return t, nil
}

// Describe is one line on what the task trains: the base, its head, the
// data and its split.
func (t *Task) Describe() string {
	head := "its own head"
	if t.NewHead {
		head = fmt.Sprintf("a fresh %d-class head", len(t.Classes))
	}
	return fmt.Sprintf("%s with %s on %s (--scheme %s --split-seed %d): %d train / %d val images, %d classes",
		t.From, head, t.Data, t.Scheme, t.SplitSeed, t.Train.Len(), t.Val.Len(), len(t.Classes))
}

// Fingerprint is the training split's content (data.Dataset.Fingerprint):
// a run resumed on other data would draw another split.
func (t *Task) Fingerprint() string {
	if t.all == nil {
		return ""
	}
	return t.all.Fingerprint()
}

// BaseModel is the base as loaded, with its own head: read it (its
// layers, its configuration), never change it; Fresh gives a model to
// train.
func (t *Task) BaseModel() *vit.Model { return t.base }
