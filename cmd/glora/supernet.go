package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// supernetSettings is RUN_DIR/supernet.settings.json: everything search
// (and a resume) needs to rebuild the run's base, data and supernet.
type supernetSettings struct {
	baseSpec
	Recipe  string   `json:"recipe,omitempty" flag:"recipe" help:"{recipe}"`
	Ranks   []int    `json:"ranks" flag:"ranks" help:"the supernet's lora ranks (stored at the largest, sliced for the smaller)"`
	Targets []string `json:"targets" flag:"targets" help:"layers to wrap, comma-separated: module paths, suffixes (attn.qkv) or a regular expression; default all-linear (every Linear in the blocks, never the head)"` // nil: all-linear
	Exclude []string `json:"exclude" flag:"exclude" help:"layers to leave out of --targets, same rules"`
	// AnchorLoRA: a fraction of the steps train LoRA at the largest rank
	// on every layer (finetune.Setup.AnchorLoRA).
	AnchorLoRA float64 `json:"anchor_lora,omitempty" flag:"anchor-lora" help:"fraction of the steps that train LoRA at the largest rank on every layer instead of a uniform draw, so the search scores LoRA as it trains (default: the recipe's)"`
	finetune.Hyper
	CheckpointEvery int      `json:"checkpoint_every" flag:"checkpoint-every" help:"steps between checkpoints (also at each epoch's end and on Ctrl-C or SIGTERM, which exit with status 130 or 143)"`
	Classes         []string `json:"classes"`
	NewHead         bool     `json:"new_head"`
}

// supernetResult is RUN_DIR/supernet.json (and supernet's --json line).
type supernetResult struct {
	Command      string              `json:"command"`
	Run          string              `json:"run"`
	Supernet     string              `json:"supernet"`
	ValStructure string              `json:"val_structure"` // what the validation curve follows
	ValAccuracy  float64             `json:"val_accuracy"`
	ValLoss      float64             `json:"val_loss"`
	NVal         int                 `json:"n_val"`
	NTrain       int                 `json:"n_train"`
	SupportParam int                 `json:"support_params"` // every stored support tensor
	HeadParams   int                 `json:"head_params"`
	Epochs       int                 `json:"epochs"`
	Seconds      float64             `json:"seconds"`
	Precision    string              `json:"precision"` // of the matrix products: f32 or bf16
	History      []train.EpochRecord `json:"history"`
	Settings     supernetSettings    `json:"settings"`
}

func runSupernet(args []string, stdout, stderr io.Writer) error {
	if lm, err := routeLM("supernet", args, stdout, stderr); lm {
		return err
	}
	fs := newFlags("supernet", "supernet --data SPEC --out RUN_DIR [--base MODEL] [--recipe NAME] [--ranks 4,8] [--targets …] [flags]", stderr)
	d := pipeline.MustNamed(pipeline.Default).Search
	s := supernetSettings{baseSpec: baseSpec{Base: shipped, Scheme: autoScheme}, Recipe: pipeline.Default, CheckpointEvery: 100,
		Ranks: slices.Clone(d.Ranks), AnchorLoRA: d.AnchorLoRA}
	keys := bindFlags(fs, &s)
	st := registerStage(fs, "the supernet")
	c := newFolderCLI(fs, "the run folder: supernet/ (the supernet folder), checkpoint/, curves.png, supernet.json; search writes here too",
		resumeWithSaved, "a supernet run")
	if err := c.parse(args, stderr); err != nil {
		return err
	}
	hf, stopAfter, prec, explicit := &st.hf, st.stopAfter, c.prec, c.explicit
	out, resume, overwrite, asJSON := c.out, c.resume, c.overwrite, c.asJSON
	r, err := pipeline.Named(s.Recipe)
	if err != nil {
		return fmt.Errorf("--recipe: %w", err)
	}
	s.Hyper = hf.fill(r.Hyper(pipeline.SupernetRun, pipeline.RefTrain))
	if !explicit["ranks"] {
		s.Ranks = slices.Clone(r.Search.Ranks)
	}
	if !explicit["anchor-lora"] {
		s.AnchorLoRA = r.Search.AnchorLoRA
	}
	if err := firstErr(checkHyper(s.Hyper), checkInt("checkpoint-every", s.CheckpointEvery, 0, maxSteps),
		checkFloat("anchor-lora", s.AnchorLoRA, 0, 1, false, false),
		checkInt("stop-after", *stopAfter, 0, s.Epochs)); err != nil {
		return err
	}
	saved, err := claimOut("--out", *out, "supernet", *resume, *overwrite)
	if err != nil {
		return err
	}
	if !*resume && s.Data == "" {
		return fmt.Errorf("--data is required (the images to adapt the base to)")
	}
	s.canonical()
	if saved != nil {
		if prec, err = resumePrecision(saved, prec, explicit["precision"], *out, "supernet", stderr); err != nil {
			return err
		}
		maps.Copy(keys, hyperKeys)
		delete(keys, "epochs") // may grow, as pretrain's
		g := s
		if explicit["scheme"] && s.Scheme == autoScheme {
			delete(explicit, "scheme")
		}
		if s, err = mergeSaved(saved, g, explicit, keys, *out); err != nil {
			return err
		}
		if explicit["checkpoint-every"] { // else the saved value stays
			s.CheckpointEvery = g.CheckpointEvery
		}
		if explicit["epochs"] {
			if st, err := train.ReadState(*out); err == nil && g.Epochs < st.Epoch {
				return fmt.Errorf("--epochs %d: the run in %s has already done %d epochs", g.Epochs, *out, st.Epoch)
			}
			s.Epochs = g.Epochs
		}
	}
	human := humanOut(*asJSON, stdout, stderr)
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var refill func(n int) finetune.Hyper // the recipe's defaults for the training split's size
	if saved == nil {
		refill = func(n int) finetune.Hyper { return hf.fill(r.Hyper(pipeline.SupernetRun, n)) }
	}
	res, err := supernetStage(ctx, s, refill, *out, *resume, *overwrite, *stopAfter, prec, human, stderr)
	if errors.Is(err, train.ErrInterrupted) {
		return interrupted(ctx, "supernet", "--out "+*out)
	}
	if err != nil {
		return err
	}
	if res == nil { // stopped by --stop-after
		return nil
	}
	if *asJSON {
		fmt.Fprintln(stdout, jsonLine(res))
	}
	return nil
}

// supernetStage trains (or resumes, or finds finished) the supernet run of
// s in out: every check before any work, then the training.
func supernetStage(ctx context.Context, s supernetSettings, refill func(n int) finetune.Hyper, out string, resume, overwrite bool, stopAfter int, prec tensor.Precision, human, log io.Writer) (*supernetResult, error) {
	p, err := prepare(s.baseSpec, "supernet", log)
	if err != nil {
		return nil, err
	}
	if refill != nil {
		s.Hyper = refill(p.Task.Train.Len())
		if err := checkInt("stop-after", stopAfter, 0, s.Epochs); err != nil {
			return nil, err
		}
	}
	if _, err := checkTargets(p.BaseModel(), s.Targets, s.Exclude, slices.Max(s.Ranks)); err != nil {
		return nil, err
	}
	s.Scheme, s.Classes, s.NewHead = p.Scheme, p.Classes, p.NewHead
	if err := checkSameData(p, &s.baseSpec, resume); err != nil {
		return nil, err
	}
	fitBatch(&s.Hyper, p.Task.Train.Len(), log)
	if err := startOut(out, "supernet", overwrite, resume, s, prec); err != nil {
		return nil, err
	}
	anchors := ""
	if s.AnchorLoRA > 0 {
		anchors = fmt.Sprintf(" (%g of the steps LoRA r%d on every layer: --anchor-lora)", s.AnchorLoRA, slices.Max(s.Ranks))
	}
	fmt.Fprintf(human, "supernet: %s; ranks %v%s, %s of %s, lr %g\n", p.Describe(), s.Ranks, anchors, nOf(s.Epochs, "epoch"), nOf(p.Task.Train.Len()/s.Batch, "step"), s.LR)
	t0 := time.Now()
	v, err := p.Fresh()
	if err != nil {
		return nil, err
	}
	tr, err := finetune.TrainSupernet(ctx, v, p.Task, finetune.Setup{Ranks: s.Ranks, Targets: s.Targets, Exclude: s.Exclude, AnchorLoRA: s.AnchorLoRA}, s.Hyper,
		finetune.StageOptions{OutDir: out, Resume: resume && hasCheckpoint(out), Seed: s.Seed, CheckpointEvery: s.CheckpointEvery, StopAfter: stopAfter, Precision: prec})
	if err != nil {
		return nil, err
	}
	if tr.Stopped {
		fmt.Fprintf(human, "stopped after epoch %d of %d, as --stop-after asked; continue with glora supernet --resume --out %s\n", len(tr.History), s.Epochs, out)
		return nil, nil
	}
	res := &supernetResult{Command: "supernet", Run: out, Supernet: finetune.SupernetDir(out), Precision: prec.String(),
		ValStructure: fmt.Sprintf("lora rank %d on every layer", s.Ranks[len(s.Ranks)-1]),
		ValAccuracy:  tr.Val.Accuracy, ValLoss: tr.Val.Loss, NVal: p.Task.Val.Len(), NTrain: p.Task.Train.Len(),
		SupportParam: tr.Support, HeadParams: tr.Head, Epochs: len(tr.History), Seconds: tr.Seconds, History: tr.History, Settings: s}
	if err := writeJSONAtomic(filepath.Join(out, "supernet.json"), res); err != nil {
		return nil, err
	}
	fmt.Fprintf(human, "supernet done in %s: val accuracy %.4f with %s; %d support + %d head parameters; supernet in %s, curves in %s; next: glora search --run %s\n",
		time.Since(t0).Round(time.Second), res.ValAccuracy, res.ValStructure, res.SupportParam, res.HeadParams,
		res.Supernet, filepath.Join(out, "curves.png"), out)
	return res, nil
}

// readSupernetSettings reads a supernet run's settings (for search and run).
func readSupernetSettings(run string) (supernetSettings, error) {
	var s supernetSettings
	b, err := os.ReadFile(settingsFile(run, "supernet"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return s, fmt.Errorf("--run %s is not a glora supernet run (no %s): train one with glora supernet --out %s", run, filepath.Base(settingsFile(run, "supernet")), run)
		}
		return s, fmt.Errorf("--run: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("--run: %s: %w", settingsFile(run, "supernet"), err)
	}
	if !fileExists(filepath.Join(finetune.SupernetDir(run), "adapter_config.json")) || !fileExists(filepath.Join(run, "supernet.json")) {
		return s, fmt.Errorf("--run %s: the supernet has not finished training (no %s): continue it with glora supernet --resume --out %s", run, finetune.SupernetDir(run), run)
	}
	return s, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}
