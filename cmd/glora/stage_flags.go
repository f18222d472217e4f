package main

// The pipeline commands' shared flags: --recipe and the training
// overrides it defaults (hyperFlags), the run folder's flags and
// --precision (folderCLI), lists of ranks and names.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
)

// recipeHelp is --recipe's help for the stage commands.
var recipeHelp = "where the defaults come from: " + strings.Join(pipeline.Names, ", ") +
	" (epochs counted on 800 training images; a smaller training set gets as many optimiser steps)"

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
// (--recipe is one) and run folder: the training overrides and --stop-after.
type stageFlags struct {
	hf        hyperFlags
	stopAfter *int
}

// registerStage registers them; what names the run in the overrides' help.
func registerStage(fs *flag.FlagSet, what string) *stageFlags {
	st := &stageFlags{}
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
