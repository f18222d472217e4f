package main

// What the GLoRA pipeline commands (supernet, search, finetune, run) share:
// loading the base and the data into a finetune.Task (training and
// validation splits only; the test split stays behind testSplit), the run
// folder's settings file and its --resume / --overwrite rules.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
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

// recipeHelp is --recipe's help for the stage commands.
var recipeHelp = "where the defaults come from: " + strings.Join(pipeline.Names, ", ") +
	" (epochs counted on 800 training images; a smaller training set gets as many optimiser steps)"

// recipeFlag registers --recipe for a stage command.
func recipeFlag(fs *flag.FlagSet) *string {
	return fs.String("recipe", pipeline.Default, recipeHelp)
}

// stageDefaults is a stage's defaults from the named recipe for n
// training images (pipeline.RefTrain before the data is loaded).
func stageDefaults(recipe, method string, n int) (finetune.Hyper, error) {
	r, err := pipeline.Named(recipe)
	if err != nil {
		return finetune.Hyper{}, fmt.Errorf("--recipe: %w", err)
	}
	return r.Hyper(recipeRun(method), n), nil
}

// hyperFlags registers the training flags; zero values mean the recipe's
// default for the method (stageDefaults), filled in by fill.
type hyperFlags struct {
	h   finetune.Hyper
	set map[string]bool // the flags given
}

func (hf *hyperFlags) register(fs interface {
	Var(flag.Value, string, string)
}, what string) {
	// A flag left unset takes the method's default in fill; the values
	// record which were given, so an explicit 0 or -1 reaches checkHyper
	// and is refused, and the help text shows no misleading default.
	hf.set = map[string]bool{}
	fs.Var(optInt{&hf.h.Epochs, hf.set, "epochs"}, "epochs", "epochs (default: the recipe's for "+what+", see README)")
	fs.Var(optInt{&hf.h.Batch, hf.set, "batch"}, "batch", "images per step (default: the recipe's, 32; lowered to the training images when larger)")
	fs.Var(optFloat{&hf.h.LR, hf.set, "lr"}, "lr", "peak learning rate, AdamW (default: the recipe's for "+what+", see README)")
	fs.Var(optFloat{&hf.h.MinLR, hf.set, "min-lr"}, "min-lr", "final learning rate of the cosine schedule (default: the recipe's, lr/100)")
	fs.Var(optFloat{&hf.h.WarmupEpochs, hf.set, "warmup"}, "warmup", "linear warm-up epochs (default: the recipe's, a tenth of the run, at most 1)")
	fs.Var(optFloat{&hf.h.WeightDecay, hf.set, "wd"}, "wd", "AdamW weight decay (default: the recipe's, 1e-4)")
	fs.Var(optFloat{&hf.h.ClipNorm, hf.set, "clip"}, "clip", "clip the gradient's global norm, 0 = off (default: the recipe's, 1)")
}

// fill replaces unset values by def's.
func (hf *hyperFlags) fill(def finetune.Hyper) finetune.Hyper {
	h := hf.h
	if !hf.set["epochs"] {
		h.Epochs = def.Epochs
	}
	if !hf.set["batch"] {
		h.Batch = def.Batch
	}
	if !hf.set["lr"] {
		h.LR = def.LR
	}
	if !hf.set["min-lr"] {
		h.MinLR = min(def.MinLR, h.LR)
	}
	if !hf.set["warmup"] {
		h.WarmupEpochs = min(def.WarmupEpochs, float64(h.Epochs))
	}
	if !hf.set["wd"] {
		h.WeightDecay = def.WeightDecay
	}
	if !hf.set["clip"] {
		h.ClipNorm = def.ClipNorm
	}
	return h
}

func checkHyper(h finetune.Hyper) error {
	return firstErr(
		checkInt("epochs", h.Epochs, 1, maxEpochs),
		checkInt("batch", h.Batch, 1, maxBatch),
		checkFloat("lr", h.LR, 0, 10, true, false),
		checkFloat("min-lr", h.MinLR, 0, h.LR, false, false),
		checkFloat("warmup", h.WarmupEpochs, 0, float64(h.Epochs), false, false),
		checkFloat("wd", h.WeightDecay, 0, 10, false, false),
		checkFloat("clip", h.ClipNorm, 0, 1e9, false, false),
	)
}

// fitBatch lowers the batch to the training images.
func fitBatch(h *finetune.Hyper, n int, log io.Writer) {
	if h.Batch > n {
		fmt.Fprintf(log, "--batch %d is more than the %d training images: using --batch %d\n", h.Batch, n, n)
		h.Batch = n
	}
}

// parseInts reads "4,8".
func parseInts(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > glora.MaxRank {
			return nil, fmt.Errorf("--%s %q: want whole numbers in [1, %d], comma-separated, e.g. 4,8", flag, s, glora.MaxRank)
		}
		out = append(out, n)
	}
	sort.Ints(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			return nil, fmt.Errorf("--%s %q: rank %d given twice", flag, s, out[i])
		}
	}
	return out, nil
}

// splitList reads a comma-separated list ("" is none).
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
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

// settingsFile is the file each pipeline command keeps its settings in,
// in its output folder: it marks the folder as that command's run.
func settingsFile(dir, cmd string) string { return filepath.Join(dir, cmd+".settings.json") }

// claimOut applies the --out rules before any work: a new or empty folder
// starts a run; one holding this command's run needs --resume (continue)
// or --overwrite (start again); anything else is refused. It returns the
// saved settings' raw JSON when resuming.
func claimOut(flag, dir, cmd string, resume, overwrite bool) ([]byte, error) {
	if resume && overwrite {
		return nil, fmt.Errorf("--resume and --overwrite contradict each other: continue the run, or start it again")
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("%s %s is a file, not a folder: name a new or empty folder for the run", flag, dir)
	}
	saved, err := os.ReadFile(settingsFile(dir, cmd))
	if err == nil {
		switch {
		case resume:
			return saved, nil
		case overwrite:
			return nil, nil
		}
		return nil, fmt.Errorf("%s %s holds a run of glora %s (%s): continue it with --resume, start it again with --overwrite, or choose another folder",
			flag, dir, cmd, filepath.Base(settingsFile(dir, cmd)))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	if resume {
		return nil, fmt.Errorf("--resume: nothing to continue in %s (no %s, which glora %s writes); leave out --resume to start one", dir, filepath.Base(settingsFile(dir, cmd)), cmd)
	}
	ents, err := os.ReadDir(dir)
	if err == nil && len(ents) > 0 && !overwrite {
		return nil, fmt.Errorf("%s %s is not empty and holds no glora %s run: choose a new or empty folder", flag, dir, cmd)
	}
	if err == nil && len(ents) > 0 && overwrite {
		return nil, fmt.Errorf("%s %s is not empty and holds no glora %s run: --overwrite replaces only a run of this command; choose a new or empty folder", flag, dir, cmd)
	}
	return nil, nil
}

// mergeSaved returns saved with every explicitly given flag checked
// against it: flagKeys maps a flag to its JSON key in the settings; a
// given flag whose value differs is an error naming it. given holds the
// settings built from this invocation's flags.
func mergeSaved[T any](saved []byte, given T, explicit map[string]bool, flagKeys map[string]string, out string) (T, error) {
	var s T
	if err := json.Unmarshal(saved, &s); err != nil {
		return s, fmt.Errorf("--resume: %s: %w", out, err)
	}
	sm, gm := toMap(s), toMap(given)
	var conflicts []string
	for f := range explicit {
		k, ok := flagKeys[f]
		if !ok {
			continue
		}
		if !reflect.DeepEqual(sm[k], gm[k]) {
			conflicts = append(conflicts, fmt.Sprintf("--%s %v, but the run was saved with %v", f, show(gm[k]), show(sm[k])))
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return s, fmt.Errorf("--resume: cannot continue the run in %s: %s; leave a flag out to use the saved value, or start a new run in another folder",
			out, strings.Join(conflicts, "; "))
	}
	return s, nil
}

func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	m := map[string]any{}
	json.Unmarshal(b, &m)
	return m
}

func show(v any) string {
	if v == nil {
		return "none"
	}
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// startOut prepares the output folder of a run that passed claimOut: a
// fresh one (overwrite: the previous run removed) with the settings saved.
func startOut(dir, cmd string, overwrite, resume bool, settings any) error {
	if overwrite && !resume {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeJSONAtomic(settingsFile(dir, cmd), settings)
}

// hasCheckpoint reports whether a stage in dir saved a checkpoint.
func hasCheckpoint(dir string) bool { return fileExists(train.StateFile(dir)) }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// interrupted is the error of a command stopped by Ctrl-C or SIGTERM
// (exit 130 or 143) and how to continue.
func interrupted(ctx context.Context, cmd, out string) error {
	return &exitError{code: interruptCode(ctx), err: fmt.Errorf("interrupted; the checkpoint is saved: continue with glora %s --resume %s", cmd, out)}
}

// hyperKeys maps the training flags (hyperFlags) to their settings keys
// (finetune.Hyper's json tags).
var hyperKeys = map[string]string{
	"epochs": "epochs", "batch": "batch", "lr": "lr", "min-lr": "min_lr", "warmup": "warmup_epochs",
	"wd": "weight_decay", "clip": "clip_norm",
}

// runFolderFlags registers the flags every pipeline command shares: the
// run folder (--out, whose help is outHelp), how to treat a folder that holds
// a run (--resume, whose help is resumeHelp; --overwrite for a run of
// `what`), and --json. The returned pointers are the flags' values.
func runFolderFlags(fs *flag.FlagSet, outHelp, resumeHelp, what string) (out *string, resume, overwrite, asJSON *bool) {
	out = fs.String("out", "", outHelp)
	resume = fs.Bool("resume", false, resumeHelp)
	overwrite = fs.Bool("overwrite", false, "start again in an --out that holds "+what+" (it is removed)")
	asJSON = fs.Bool("json", false, "print the summary as one JSON line on stdout; everything else goes to stderr")
	return out, resume, overwrite, asJSON
}

// folderCLI is what run, finetune and supernet register beside their
// settings: the run folder's flags (runFolderFlags) and --precision; parse
// settles the rest.
type folderCLI struct {
	fs                        *flag.FlagSet
	out                       *string
	resume, overwrite, asJSON *bool
	precision                 *string
	prec                      tensor.Precision // after parse
	explicit                  map[string]bool  // after parse: the flags given
}

func newFolderCLI(fs *flag.FlagSet, outHelp, resumeHelp, what string) *folderCLI {
	c := &folderCLI{fs: fs}
	c.out, c.resume, c.overwrite, c.asJSON = runFolderFlags(fs, outHelp, resumeHelp, what)
	c.precision = precisionFlag(fs)
	return c
}

// parse parses args (no positional ones), reads --precision, records the
// flags given and requires --out.
func (c *folderCLI) parse(args []string, log io.Writer) error {
	var err error
	if c.prec, err = parseWithPrecision(c.fs, args, 0, c.precision, log); err != nil {
		return err
	}
	c.explicit = explicitFlags(c.fs)
	if *c.out == "" {
		return fmt.Errorf("--out is required (the run's folder)")
	}
	return nil
}

// stageFlags are finetune's and supernet's flags beside their settings
// and run folder: --recipe, the training overrides and --stop-after.
type stageFlags struct {
	recipe    *string
	hf        hyperFlags
	stopAfter *int
}

// registerStage registers them; what names the run in the overrides' help.
func registerStage(fs *flag.FlagSet, what string) *stageFlags {
	st := &stageFlags{recipe: recipeFlag(fs)}
	st.hf.register(fs, what)
	st.stopAfter = fs.Int("stop-after", 0, "stop after this many epochs (0 = all); --resume continues")
	return st
}

// resumeWithSaved is --resume's help for a command that keeps its settings.
const resumeWithSaved = "continue the run in --out with its saved settings (a flag given again must match them)"

// optInt and optFloat are flag values that record, in set, that they were
// given; their help text shows no default (it depends on the method).
type optInt struct {
	p    *int
	set  map[string]bool
	name string
}

func (v optInt) String() string {
	if v.p == nil || !v.set[v.name] {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v optInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a whole number")
	}
	*v.p, v.set[v.name] = n, true
	return nil
}

type optFloat struct {
	p    *float64
	set  map[string]bool
	name string
}

func (v optFloat) String() string {
	if v.p == nil || !v.set[v.name] {
		return ""
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v optFloat) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("want a number")
	}
	*v.p, v.set[v.name] = f, true
	return nil
}
