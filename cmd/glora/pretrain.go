package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/train"
)

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pretrain", "pretrain --data SPEC --out DIR [--model PRESET|DIR] [flags]", stderr)
	model := fs.String("model", "vit-fmnist", "preset to train from scratch, or a checkpoint folder to continue from")
	spec := fs.String("data", "fashion-mnist", "dataset spec (see README)")
	scheme := fs.String("scheme", "holdout", "validation carved from the training split: holdout[:F], vtab1k, Kshot; full trains on the whole training split, without validation (best/ is then the last epoch)")
	splitSeed := fs.Uint64("split-seed", 0, "seed of the train/validation split (kept apart from --seed, so runs with other seeds keep the same validation images)")
	out := fs.String("out", "", "output folder: checkpoint/, best/, curves.png, summary.json")
	o := train.Options{}
	fs.IntVar(&o.Epochs, "epochs", 10, "epochs")
	fs.IntVar(&o.Batch, "batch", 128, "images per step")
	fs.Float64Var(&o.LR, "lr", 1e-3, "peak learning rate (AdamW)")
	fs.Float64Var(&o.MinLR, "min-lr", 1e-5, "final learning rate of the cosine schedule")
	fs.Float64Var(&o.WarmupEpochs, "warmup", 1, "linear warm-up epochs")
	fs.Float64Var(&o.WeightDecay, "wd", 0.05, "AdamW weight decay (not on biases, norms, embeddings)")
	ls := fs.Float64("label-smoothing", 0.1, "label smoothing")
	fs.Float64Var(&o.ClipNorm, "clip", 1.0, "clip the gradient's global norm (0 = off)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of initialisation, data order, augmentation and drop-path")
	fs.Var(&augmentFlag{&o}, "augment", "training augmentation `SPEC`: crop:N (random crop from the image zero-padded by N pixels), flip (random horizontal flip), both (crop:N,flip) or none; --augment alone is crop:2,flip")
	fs.IntVar(&o.CheckpointEvery, "checkpoint-every", 200, "steps between checkpoints (also at each epoch's end and on Ctrl-C)")
	fs.BoolVar(&o.Resume, "resume", false, "continue the run saved in --out")
	fs.IntVar(&o.StopAfter, "stop-after", 0, "stop after this many epochs of the --epochs schedule (0 = all); --resume continues")
	dropPath := fs.Float64("drop-path", -1, "stochastic depth rate (default: the model's)")
	if err := parseFlags(fs, bareAugment(args), 0); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("--out is required (the run's folder)")
	}
	o.OutDir, o.LabelSmoothing, o.Log = *out, float32(*ls), stderr
	m, ck, from, err := loadModel(*model, o.Seed)
	if err != nil {
		return err
	}
	if *dropPath >= 0 {
		if err := m.SetDropPath(float32(*dropPath)); err != nil {
			return fmt.Errorf("--drop-path: %w", err)
		}
	}
	o.Checkpoint = ck
	trainAll, testSet, err := resolveFor(*spec, m.Cfg, stderr)
	if err != nil {
		return fmt.Errorf("--data %s: %w", *spec, err)
	}
	o.Checkpoint.Labels = trainAll.Classes // best/ names the classes the model learnt
	if len(trainAll.Classes) != m.Cfg.NumClasses {
		fmt.Fprintf(stderr, "warning: --data %s has %d classes but the model's head %d: best/ will not name them\n",
			*spec, len(trainAll.Classes), m.Cfg.NumClasses)
	}
	trainSet, err := data.Split(trainAll, testSet, "train", *scheme, *splitSeed)
	if err != nil {
		return fmt.Errorf("--scheme %s: %w", *scheme, err)
	}
	val := &data.Dataset{} // --scheme full: no validation split
	if *scheme != "full" {
		if val, err = data.Split(trainAll, testSet, "val", *scheme, *splitSeed); err != nil {
			return fmt.Errorf("--scheme %s: %w", *scheme, err)
		}
	}
	fmt.Fprintf(stdout, "pretrain %s on %s: %d train / %d val images, %d parameters, %d epochs of %d steps\n",
		from, *spec, trainSet.Len(), val.Len(), m.Store.Count(true), o.Epochs, trainSet.Len()/o.Batch)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	sum, err := train.Run(ctx, m, trainSet, val, o)
	if errors.Is(err, train.ErrInterrupted) {
		return err
	}
	if err != nil {
		return err
	}
	if val.Len() == 0 {
		fmt.Fprintf(stdout, "done in %s: no validation split; the model of the last epoch (%d) is in %s, curves in %s/curves.png\n",
			time.Since(t0).Round(time.Second), sum.BestEpoch, sum.BestDir, *out)
		return nil
	}
	fmt.Fprintf(stdout, "done in %s: best validation accuracy %.4f at epoch %d; model in %s, curves in %s/curves.png\n",
		time.Since(t0).Round(time.Second), sum.Best.Accuracy, sum.BestEpoch, sum.BestDir, *out)
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
