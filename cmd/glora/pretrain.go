package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/train"
)

// notifyContext is signal.NotifyContext; tests replace it to interrupt a run.
var notifyContext = signal.NotifyContext

// pretrainCLI is what pretrain's flags hold besides train.Options.
type pretrainCLI struct {
	fs        *flag.FlagSet
	out       *string
	ls        *float64 // --label-smoothing (Options keeps a float32)
	asJSON    *bool
	precision *string
}

// registerPretrainFlags binds pretrain's flags to o and c.
func registerPretrainFlags(o *train.Options, stderr io.Writer) *pretrainCLI {
	fs := newFlags("pretrain", "pretrain --data SPEC --out DIR [--model shipped|PRESET|DIR] [--new-head] [flags]", stderr)
	c := &pretrainCLI{fs: fs}
	fs.StringVar(&o.Model, "model", shipped, modelHelp+". A preset takes its class count from the data; an existing model must have a head for the data's classes, or --new-head")
	fs.StringVar(&o.Data, "data", "fashion-mnist", "dataset spec (see README)")
	fs.StringVar(&o.Scheme, "scheme", "", schemeHelp+". With full, best/ is the last epoch")
	fs.Uint64Var(&o.SplitSeed, "split-seed", 0, "seed of the train/validation split (kept apart from --seed, so runs with other seeds keep the same validation images; default: the model's record, as --scheme)")
	fs.BoolVar(&o.NewHead, "new-head", false, "replace the model's classification head with a fresh one for the data's classes (to fine-tune a model on other classes)")
	c.out = fs.String("out", "", "output folder: checkpoint/ (to resume), best/ (the model), curves.png, summary.json (final metrics, timings, settings)")
	fs.IntVar(&o.Epochs, "epochs", 10, "epochs")
	fs.IntVar(&o.Batch, "batch", 128, "images per step (at most the number of training images: a larger value is lowered, with a notice)")
	fs.Float64Var(&o.LR, "lr", 1e-3, "peak learning rate (AdamW)")
	fs.Float64Var(&o.MinLR, "min-lr", 1e-5, "final learning rate of the cosine schedule")
	fs.Float64Var(&o.WarmupEpochs, "warmup", 1, "linear warm-up epochs")
	fs.Float64Var(&o.WeightDecay, "wd", 0.05, "AdamW weight decay (not on biases, norms, embeddings)")
	c.ls = fs.Float64("label-smoothing", 0.1, "label smoothing")
	fs.Float64Var(&o.ClipNorm, "clip", 1.0, "clip the gradient's global norm (0 = off)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of initialisation, data order, augmentation and drop-path")
	fs.Var(&augmentFlag{o}, "augment", "training augmentation `SPEC`: crop:N (random crop from the image zero-padded by N pixels), flip (random horizontal flip), both (crop:N,flip) or none; --augment alone is crop:2,flip")
	fs.IntVar(&o.CheckpointEvery, "checkpoint-every", 200, "steps between checkpoints (also at each epoch's end and on Ctrl-C or SIGTERM, which exit with status 130 or 143)")
	fs.BoolVar(&o.Resume, "resume", false, resumeHelp)
	fs.IntVar(&o.StopAfter, "stop-after", 0, "stop after this many epochs of the --epochs schedule (0 = all); --resume continues")
	fs.Float64Var(&o.DropPath, "drop-path", -1, "stochastic depth rate in [0,1); -1 keeps the model's")
	c.asJSON = fs.Bool("json", false, "print the summary (as summary.json) as one JSON line on stdout; everything else goes to stderr")
	c.precision = precisionFlag(fs)
	return c
}

// pretrainJob is a pretrain run ready to train: the model, its splits and
// the options (a resume's saved ones merged in, checked).
type pretrainJob struct {
	o          train.Options
	st         train.State // the saved state when resuming
	keys       map[string][]string
	m          *vit.Model
	from       string
	trainSet   *data.Dataset
	val        *data.Dataset
	classes    int
	out        string
	human, log io.Writer
}

func runPretrain(args []string, stdout, stderr io.Writer) error {
	var o train.Options
	c := registerPretrainFlags(&o, stderr)
	prec, err := parseWithPrecision(c.fs, bareAugment(args), 0, c.precision, stderr)
	if err != nil {
		return err
	}
	o.LabelSmoothing, o.Precision = float32(*c.ls), prec
	if *c.out == "" {
		return fmt.Errorf("--out is required (the run's folder)")
	}
	human := humanOut(*c.asJSON, stdout, stderr)
	j := &pretrainJob{o: o, keys: pretrainKeys(c.fs, &o), out: *c.out, human: human, log: stderr}
	explicit := explicitFlags(c.fs)
	if err := j.settle(explicit); err != nil {
		return err
	}
	if err := j.prepare(explicit); err != nil {
		return err
	}
	if j.o.Resume {
		if done := finishedMessage(j.st, j.o, j.out); done != "" {
			fmt.Fprintln(human, done)
			if *c.asJSON { // the run's summary, as the run that finished it printed it
				return printFinishedSummary(stdout, j.out, done)
			}
			return nil
		}
	}
	s, err := j.train()
	if err != nil {
		return err
	}
	if *c.asJSON {
		fmt.Fprintln(stdout, jsonLine(s))
	}
	return nil
}

// settle merges a resume's saved options into the given ones and checks
// them, before any data is read.
func (j *pretrainJob) settle(explicit map[string]bool) error {
	if j.o.Resume {
		var err error
		if j.st, err = train.ReadState(j.out); err != nil {
			return fmt.Errorf("--resume: no run to continue in %s (%w); leave out --resume to start one", j.out, err)
		}
		prec := j.o.Precision // this invocation's, never saved
		j.o = train.MergeResume(j.st.Options, j.o, givenKeys(explicit, j.keys))
		j.o.Precision = prec
	}
	if err := checkPretrainFlags(j.o); err != nil {
		return err
	}
	j.o.Data, j.o.Model = data.Canonical(j.o.Data), canonicalModel(j.o.Model)
	if j.o.Resume { // the batch is checked once it is fitted to the data
		early := j.o
		early.Batch = j.st.Options.Batch
		if err := train.CheckResume(j.st, early); err != nil {
			return resumeError(j.out, err, j.keys)
		}
	}
	return nil
}

// prepare loads the data at the model's input, builds the model with a
// head for the data's classes, draws the splits and records them in the
// checkpoint's training record.
func (j *pretrainJob) prepare(explicit map[string]bool) error {
	o := &j.o
	if err := backbones.CheckSpec(o.Model); err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	inCfg, err := backbones.InputConfig(o.Model)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	trainAll, testSet, err := resolveFor(o.Data, inCfg, j.log) // at the model's input size and channels
	if err != nil {
		return fmt.Errorf("--data %s: %w", o.Data, err)
	}
	if err := checkSplitClasses(o.Data, trainAll, testSet); err != nil {
		return err
	}
	j.classes = trainAll.NumClasses()
	m, ck, from, fresh, err := resolveModel(o.Model, o.Seed, j.classes)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	if err := fitHead(m, *o, fresh, trainAll); err != nil {
		return err
	}
	if !o.NewHead && !fresh && otherClassNames(ck.Labels, trainAll.Classes) {
		fmt.Fprintf(j.log, "note: the model's head names its classes %s, --data %s names them %s: output i is trained as the data's class i (--new-head starts a fresh head)\n",
			data.ClassList(ck.Labels), o.Data, data.ClassList(trainAll.Classes))
	}
	record := j.splitRecord(ck.Training, explicit)
	if j.trainSet, err = data.Split(trainAll, testSet, "train", o.Scheme, o.SplitSeed); err != nil {
		return fmt.Errorf("--scheme %s: %w", o.Scheme, err)
	}
	j.val = &data.Dataset{} // --scheme full: no validation split
	if o.Scheme != "full" {
		if j.val, err = data.Split(trainAll, testSet, "val", o.Scheme, o.SplitSeed); err != nil {
			return fmt.Errorf("--scheme %s: %w", o.Scheme, err)
		}
	}
	if o.Batch > j.trainSet.Len() {
		fmt.Fprintf(j.log, "--batch %d is more than the %d training images: using --batch %d\n", o.Batch, j.trainSet.Len(), j.trainSet.Len())
		o.Batch = j.trainSet.Len()
	}
	if o.Resume {
		if err := train.CheckResume(j.st, *o); err != nil {
			return resumeError(j.out, err, j.keys)
		}
		if o.Epochs != j.st.Options.Epochs {
			fmt.Fprintf(j.log, "--epochs %d (the run was saved with %d): the cosine schedule is recomputed for %d epochs from step %d\n",
				o.Epochs, j.st.Options.Epochs, o.Epochs, j.st.Step)
		}
	}
	if o.DropPath >= 0 {
		if err := m.SetDropPath(float32(o.DropPath)); err != nil {
			return fmt.Errorf("--drop-path: %w", err)
		}
	}
	ck.Training = record
	ck.Labels = trainAll.Classes // best/ names the classes the model learnt (fitHead made the head match)
	o.Checkpoint, o.OutDir, o.Log = ck, j.out, j.log
	j.m, j.from = m, from
	return nil
}

// splitRecord settles --scheme and --split-seed (the model's record for
// the same data when not given) and returns the training record best/ will
// carry: "full" when this run's validation images may be ones the model
// trained on before.
func (j *pretrainJob) splitRecord(rec *vit.TrainingInfo, explicit map[string]bool) *vit.TrainingInfo {
	o := &j.o
	if o.Scheme == "" {
		scheme, seed, fromRecord := splitDefaults(rec, o.Data)
		o.Scheme = scheme
		if fromRecord && !explicit["split-seed"] {
			o.SplitSeed = seed
		}
		if fromRecord {
			fmt.Fprintf(j.log, "--scheme %s --split-seed %d, as recorded for %s in the model's config.json\n", o.Scheme, o.SplitSeed, o.Data)
		}
	}
	record := &vit.TrainingInfo{Data: o.Data, Scheme: o.Scheme, SplitSeed: o.SplitSeed}
	if rec != nil && data.SameTraining(rec.Data, o.Data) && o.Scheme != "full" && (rec.Scheme != o.Scheme || rec.SplitSeed != o.SplitSeed) {
		fmt.Fprintf(j.log, "warning: the model was already trained on %s with --scheme %s --split-seed %d: this run's validation images are not all new to it; its record will say --scheme full\n",
			o.Data, rec.Scheme, rec.SplitSeed)
		record.Scheme = "full"
	}
	return record
}

// train runs the training and writes summary.json; an interruption is an
// exitError naming the checkpoint to resume from.
func (j *pretrainJob) train() (*pretrainSummary, error) {
	o := j.o
	fmt.Fprintf(j.human, "pretrain %s on %s (--scheme %s --split-seed %d): %d train / %d val images, %d classes, %d parameters, %s of %s\n",
		j.from, o.Data, o.Scheme, o.SplitSeed, j.trainSet.Len(), j.val.Len(), j.classes, j.m.Store.Count(true), nOf(o.Epochs, "epoch"), nOf(j.trainSet.Len()/o.Batch, "step"))
	dir := newOutFolder(j.out)
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	sum, err := train.Run(ctx, j.m, j.trainSet, j.val, o)
	if errors.Is(err, train.ErrInterrupted) {
		return nil, &exitError{code: interruptCode(ctx), err: fmt.Errorf("interrupted; the checkpoint in %s is saved: continue with glora pretrain --resume --out %s%s",
			filepath.Join(j.out, "checkpoint"), j.out, precisionArg(o.Precision))}
	}
	if err != nil {
		dir.cleanup()
		return nil, err
	}
	s := newPretrainSummary(sum, o, j.from, j.out, j.trainSet, j.val, time.Since(t0))
	s.Precision = o.Precision.String()
	if err := writeJSONAtomic(filepath.Join(j.out, "summary.json"), s); err != nil {
		return nil, err
	}
	took := time.Since(t0).Round(time.Second)
	if j.val.Len() == 0 {
		fmt.Fprintf(j.human, "done in %s: no validation split; the model of the last epoch (%d) is in %s, curves in %s/curves.png, summary in %s/summary.json\n",
			took, sum.BestEpoch, sum.BestDir, j.out, j.out)
	} else {
		fmt.Fprintf(j.human, "done in %s: best validation accuracy %.4f at epoch %d; model in %s, curves in %s/curves.png, summary in %s/summary.json\n",
			took, sum.Best.Accuracy, sum.BestEpoch, sum.BestDir, j.out, j.out)
	}
	if s.Stopped {
		fmt.Fprintf(j.human, "stopped after epoch %d of %d, as --stop-after asked; continue with glora pretrain --resume --out %s%s\n",
			o.StopAfter, o.Epochs, j.out, precisionArg(o.Precision))
	}
	return &s, nil
}

// checkPretrainFlags checks pretrain's numeric flags (after a resume's
// saved settings are merged in) before any work.
func checkPretrainFlags(o train.Options) error {
	err := firstErr(
		checkInt("epochs", o.Epochs, 1, maxEpochs),
		checkInt("batch", o.Batch, 1, maxBatch),
		checkFloat("lr", o.LR, 0, 10, true, false),
		checkFloat("min-lr", o.MinLR, 0, math.Max(o.LR, 0), false, false),
		checkFloat("warmup", o.WarmupEpochs, 0, float64(o.Epochs), false, false),
		checkFloat("wd", o.WeightDecay, 0, 10, false, false),
		checkFloat("label-smoothing", float64(o.LabelSmoothing), 0, 1, false, true),
		checkFloat("clip", o.ClipNorm, 0, math.Inf(1), false, false),
		checkInt("checkpoint-every", o.CheckpointEvery, 0, maxSteps),
		checkInt("stop-after", o.StopAfter, 0, o.Epochs),
	)
	if err != nil {
		return err
	}
	if o.DropPath != -1 {
		if err := checkFloat("drop-path", o.DropPath, 0, 1, false, true); err != nil {
			return fmt.Errorf("%w (or leave it out for the model's own)", err)
		}
	}
	return nil
}

// augmentFlag is --augment SPEC; bareAugment lets it stand alone, meaning
// the standard augmentation, crop:2,flip.
type augmentFlag struct{ o *train.Options }

// defaultPadCrop is the crop padding of a bare --augment or of "crop".
const defaultPadCrop = 2

// bareAugment rewrites a bare --augment (followed by another flag or
// nothing) into --augment=true.
func bareAugment(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if (a == "--augment" || a == "-augment") && (i+1 == len(args) || strings.HasPrefix(args[i+1], "-")) {
			a = "--augment=true"
		}
		out = append(out, a)
	}
	return out
}

func (f *augmentFlag) String() string {
	if f == nil || f.o == nil || (f.o.PadCrop == 0 && !f.o.HFlip) {
		return "none"
	}
	var parts []string
	if f.o.PadCrop > 0 {
		parts = append(parts, fmt.Sprintf("crop:%d", f.o.PadCrop))
	}
	if f.o.HFlip {
		parts = append(parts, "flip")
	}
	return strings.Join(parts, ",")
}

func (f *augmentFlag) Set(v string) error {
	crop, flip := 0, false
	switch v {
	case "true", "":
		crop, flip = defaultPadCrop, true
	case "false", "none":
	default:
		for _, p := range strings.Split(v, ",") {
			name, arg, hasArg := strings.Cut(strings.TrimSpace(p), ":")
			switch {
			case name == "flip" && !hasArg:
				flip = true
			case name == "crop" && !hasArg:
				crop = defaultPadCrop
			case name == "crop":
				n, err := strconv.Atoi(arg)
				if err != nil || n < 1 || n > 64 {
					return fmt.Errorf("crop padding %q: want a whole number of pixels in [1,64]", arg)
				}
				crop = n
			default:
				return fmt.Errorf("unknown augmentation %q (want crop, crop:N, flip or none)", p)
			}
		}
	}
	f.o.PadCrop, f.o.HFlip = crop, flip
	return nil
}
