package main

// What the GLoRA pipeline commands (supernet, search, finetune, run) share:
// loading the base and the data into a pipeline.Task (training and
// validation splits only; the test split stays behind Task.Test). Their
// flags are in stage_flags.go, the run folder's settings file and its
// --resume / --overwrite rules in stage_folder.go.

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/pipeline"
)

// autoScheme is the pipeline commands' default --scheme: vtab1k (800
// train + 200 validation images) when the training split has at least
// 1000 images, else holdout. Parameter-efficient fine-tuning is for small
// data, and 800 images train in minutes on 2 cores; --scheme holdout uses
// every training image.
const autoScheme = pipeline.AutoScheme

const pipelineSchemeHelp = "how validation is carved from the training split: auto (vtab1k when the training split has ≥ 1000 images: 800 train + 200 val, the VTAB-1k regime, minutes on 2 cores; else holdout), holdout[:F] (a stratified 10%, or F, the rest trains), vtab1k, Kshot"

// testReads counts, per command, the times a pipeline command read the
// test split (pipeline.Task.Test): only run's final evaluation may. A
// test checks it.
var testReads = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

// countTestReads makes t count its test-split reads under cmd.
func countTestReads(t *pipeline.Task, cmd string) {
	t.OnTest = func() {
		testReads.Lock()
		testReads.n[cmd]++
		testReads.Unlock()
	}
}

// baseSpec is a run's data and base: what prepare needs.
type baseSpec struct {
	Base      string `json:"base" flag:"base" help:"{model}"`
	Data      string `json:"data" flag:"data" help:"dataset spec (see docs/CLI.md)"`
	Scheme    string `json:"scheme" flag:"scheme" help:"{scheme}"`
	SplitSeed uint64 `json:"split_seed" flag:"split-seed" help:"seed of the train/validation split"`
	Seed      uint64 `json:"seed" flag:"seed" help:"seed of the run's random draws: initialisation, data order, the supernet's structures, the search"`
	// Fingerprint is the training split's content when the run started
	// (data.Dataset.Fingerprint): a resume on other data is refused.
	Fingerprint string `json:"data_fingerprint,omitempty"`
}

// checkSameData refuses to resume a run on data that changed since it
// started (files added, removed or edited), which would re-draw its split.
func checkSameData(t *pipeline.Task, b *baseSpec, resume bool) error {
	now := t.Fingerprint()
	if resume && b.Fingerprint != "" && b.Fingerprint != now {
		return fmt.Errorf("--resume: the data changed since the run started: --data %s now has %s; the run was started on %s. A split drawn from other data could put training images in its validation split: start a new run instead",
			b.Data, now, b.Fingerprint)
	}
	b.Fingerprint = now
	return nil
}

// canonical spells --base and --data in their canonical forms (what the
// settings file records and a resume compares), loading nothing.
func (b *baseSpec) canonical() {
	b.Base, b.Data = canonicalModel(b.Base), data.Canonical(b.Data)
}

// prepare loads b's base and data (pipeline.Open): the base at its input
// size, the head replaced by a fresh one (seeded by b.Seed) unless it
// already names the data's classes, the training split divided by the
// scheme. Errors name the flag. The task counts its test-split reads
// under cmd (testReads).
func prepare(b baseSpec, cmd string, log io.Writer) (*pipeline.Task, error) {
	t, err := pipeline.Open(pipeline.Spec{Base: b.Base, Data: b.Data, Scheme: b.Scheme, SplitSeed: b.SplitSeed, Seed: b.Seed}, log)
	if se := (*pipeline.SpecError)(nil); errors.As(err, &se) {
		return nil, fmt.Errorf("--%w", err)
	}
	if err != nil {
		return nil, err
	}
	countTestReads(t, cmd)
	return t, nil
}

// nOf is n with its noun, singular or plural: "1 epoch", "2 epochs".
func nOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// recipeRun is the recipe's run a finetune method or the supernet trains
// with: the method's own, the retraining's for a searched structure.
func recipeRun(method string) string {
	switch method {
	case finetune.GLoRA:
		return pipeline.RetrainRun
	case finetune.Supernet:
		return pipeline.SupernetRun
	}
	return method
}

// fitBatch lowers the batch to the training images.
func fitBatch(h *finetune.Hyper, n int, log io.Writer) {
	if h.Batch > n {
		fmt.Fprintf(log, "--batch %d is more than the %d training images: using --batch %d\n", h.Batch, n, n)
		h.Batch = n
	}
}

// checkTargets checks --targets / --exclude against the base's layers.
func checkTargets(v *vit.Model, targets, exclude []string, rank int) ([]glora.Target, error) {
	if len(targets) == 0 {
		targets = []string{glora.AllLinear}
	}
	sites, err := glora.SelectTargets(v.Linears(), targets, exclude)
	if err != nil {
		return nil, fmt.Errorf("--targets: %w", err)
	}
	tg := glora.TargetsOf(sites)
	for _, t := range tg {
		if err := glora.CheckRank(t, rank); err != nil {
			return nil, err
		}
	}
	return tg, nil
}
