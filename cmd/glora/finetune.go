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
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// finetuneSettings is DIR/finetune.settings.json.
type finetuneSettings struct {
	baseSpec
	Recipe    string   `json:"recipe,omitempty" flag:"recipe" help:"{recipe}"`
	Method    string   `json:"method" flag:"method" help:"the method: {method}"`
	Structure string   `json:"structure,omitempty" flag:"structure" help:"structure file for --method glora (search's structure.json)"` // absolute path
	Init      string   `json:"init,omitempty" flag:"init" help:"start from trained tensors: supernet:RUN_DIR (a supernet run's shared weights and head) or adapter:DIR"`
	Rank      int      `json:"rank,omitempty" flag:"rank" help:"lora rank of lora and glora-fixed (default: the recipe's, 8)"`
	Targets   []string `json:"targets" flag:"targets" help:"layers to adapt, comma-separated (default all-linear; with --structure, the structure's layers)"`
	Exclude   []string `json:"exclude" flag:"exclude" help:"layers to leave out of --targets"`
	finetune.Hyper
	CheckpointEvery int      `json:"checkpoint_every" flag:"checkpoint-every" help:"steps between checkpoints (also at each epoch's end and on Ctrl-C or SIGTERM, which exit with status 130 or 143)"`
	Classes         []string `json:"classes"`
	NewHead         bool     `json:"new_head"`
}

// finetuneResult is DIR/finetune.json (and finetune's --json line).
type finetuneResult struct {
	Command         string              `json:"command"`
	Method          string              `json:"method"`
	ValAccuracy     float64             `json:"val_accuracy"`
	ValLoss         float64             `json:"val_loss"`
	NVal            int                 `json:"n_val"`
	NTrain          int                 `json:"n_train"`
	TrainableParams int                 `json:"trainable_params"` // support + head
	SupportParams   int                 `json:"support_params"`
	HeadParams      int                 `json:"head_params"`
	BestEpoch       int                 `json:"best_epoch"`
	Epochs          int                 `json:"epochs"`
	Seconds         float64             `json:"seconds"`
	Precision       string              `json:"precision"` // of the matrix products: f32 or bf16
	Adapter         string              `json:"adapter,omitempty"`
	Merged          string              `json:"merged"`
	History         []train.EpochRecord `json:"history"`
	Settings        finetuneSettings    `json:"settings"`
}

const methodHelp = "glora (a searched --structure), glora-fixed (PEFT's default: A = B = C = lora_r, D = E = constant), lora (B = lora_r), ssf (A, D, E vectors), ia3 (A, D vectors), bitfit (E vector), linear (the head only), full (every weight)"

func runFinetune(args []string, stdout, stderr io.Writer) error {
	if lm, err := routeLM("finetune", args, stdout, stderr); lm {
		return err
	}
	fs := newFlags("finetune", "finetune --data SPEC --method METHOD --out DIR [--base MODEL] [--recipe NAME] [--structure FILE] [--init supernet:RUN_DIR|adapter:DIR] [flags]", stderr)
	s := finetuneSettings{baseSpec: baseSpec{Base: shipped, Scheme: autoScheme}, Recipe: pipeline.Default, CheckpointEvery: 100}
	keys := bindFlags(fs, &s)
	st := registerStage(fs, "the method")
	c := newFolderCLI(fs, "output folder: adapter/ (none for linear and full), merged/ (a plain model folder), best/, checkpoint/, curves.png, finetune.json",
		resumeWithSaved, "a finetune run")
	if err := c.parse(args, stderr); err != nil {
		return err
	}
	hf, stopAfter, prec, explicit := &st.hf, st.stopAfter, c.prec, c.explicit
	out, resume, overwrite, asJSON := c.out, c.resume, c.overwrite, c.asJSON
	saved, err := claimOut("--out", *out, "finetune", *resume, *overwrite)
	if err != nil {
		return err
	}
	if saved == nil {
		if err := checkMethodFlags(&s); err != nil {
			return err
		}
		if s.Data == "" {
			return fmt.Errorf("--data is required (the images to adapt the base to)")
		}
	}
	def, err := stageDefaults(s.Recipe, s.Method, pipeline.RefTrain)
	if err != nil {
		return err
	}
	s.Hyper = hf.fill(def)
	s.canonical()
	if s.Structure != "" {
		s.Structure = absPath(s.Structure)
	}
	if saved != nil {
		if prec, err = resumePrecision(saved, prec, explicit["precision"], *out, "finetune", stderr); err != nil {
			return err
		}
		maps.Copy(keys, hyperKeys)
		if explicit["scheme"] && s.Scheme == autoScheme {
			delete(explicit, "scheme")
		}
		g := s
		if s, err = mergeSaved(saved, g, explicit, keys, *out); err != nil {
			return err
		}
		if explicit["checkpoint-every"] { // else the saved value stays
			s.CheckpointEvery = g.CheckpointEvery
		}
	}
	if err := firstErr(checkHyper(s.Hyper), checkInt("checkpoint-every", s.CheckpointEvery, 0, maxSteps),
		checkInt("stop-after", *stopAfter, 0, s.Epochs)); err != nil {
		return err
	}
	if explicit["rank"] { // 0 is not "the default": refused like any rank out of range
		if err := checkInt("rank", s.Rank, 1, glora.MaxRank); err != nil {
			return err
		}
	}
	human := humanOut(*asJSON, stdout, stderr)
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var refill func(n int) finetune.Hyper // the recipe's defaults for the training split's size
	if saved == nil {
		refill = func(n int) finetune.Hyper {
			def, _ := stageDefaults(s.Recipe, s.Method, n)
			return hf.fill(def)
		}
	}
	res, err := finetuneStage(ctx, s, refill, *out, *resume, *overwrite, *stopAfter, prec, human, stderr)
	if errors.Is(err, train.ErrInterrupted) {
		return interrupted(ctx, "finetune", "--out "+*out)
	}
	if err != nil || res == nil {
		return err
	}
	if *asJSON {
		fmt.Fprintln(stdout, jsonLine(res))
	}
	return nil
}

// checkMethodFlags checks --method against --structure and --rank.
func checkMethodFlags(s *finetuneSettings) error {
	switch {
	case s.Method == "":
		return fmt.Errorf("--method is required: %s", methodHelp)
	case !slices.Contains(finetune.Methods, s.Method):
		return fmt.Errorf("--method %q is not a method; want one of %s", s.Method, strings.Join(finetune.Methods, ", "))
	case s.Method == finetune.GLoRA && s.Structure == "":
		return fmt.Errorf("--method glora needs --structure FILE (a search's structure.json); for PEFT's fixed GLoRA use --method glora-fixed")
	case s.Method != finetune.GLoRA && s.Structure != "":
		return fmt.Errorf("--structure is for --method glora only (--method %s has its own structure)", s.Method)
	case s.Rank != 0 && s.Method != finetune.LoRA && s.Method != finetune.GLoRAFixed:
		return fmt.Errorf("--rank is for --method lora and glora-fixed only")
	}
	if s.Init != "" {
		kind, _, _ := strings.Cut(s.Init, ":")
		if kind != "supernet" && kind != "adapter" {
			return fmt.Errorf("--init %q: want supernet:RUN_DIR or adapter:DIR", s.Init)
		}
	}
	return nil
}

// readStructure reads a structure file and checks it against the base's
// layers (paths, widths, allowed choices); errors name the file.
func readStructure(file string, p *pipeline.Task, targets, exclude []string) (glora.Structure, []string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("--structure: %w", err)
	}
	var st glora.Structure
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil, fmt.Errorf("--structure %s: not a structure file: %w", file, err)
	}
	if len(st) == 0 {
		return nil, nil, fmt.Errorf("--structure %s: the structure names no layer", file)
	}
	if len(targets) == 0 {
		targets = st.Paths()
	}
	tg, err := checkTargets(p.BaseModel(), targets, exclude, 0) // the structure's ranks: ValidateStructure below
	if err != nil {
		return nil, nil, fmt.Errorf("--structure %s: it is not for this base (%s): %w", file, p.From, err)
	}
	var ranks []int
	for _, lc := range st {
		for _, c := range lc {
			if c.Kind == glora.LoRA && !slices.Contains(ranks, c.Rank) {
				ranks = append(ranks, c.Rank)
			}
		}
	}
	if len(ranks) == 0 {
		ranks = []int{1}
	}
	slices.Sort(ranks)
	if err := (glora.Space{Ranks: ranks}).ValidateStructure(st, tg); err != nil {
		return nil, nil, fmt.Errorf("--structure %s: it does not fit this base (%s): %w", file, p.From, err)
	}
	return st, targets, nil
}

// loadInit reads --init: a supernet run (or supernet folder) or an adapter folder.
func loadInit(spec string) (*glora.Adapter, error) {
	kind, dir, _ := strings.Cut(spec, ":")
	if dir == "" {
		return nil, fmt.Errorf("--init %q: want supernet:RUN_DIR or adapter:DIR", spec)
	}
	var a *glora.Adapter
	var err error
	if kind == "supernet" {
		if fileExists(finetune.SupernetDir(dir)) {
			dir = finetune.SupernetDir(dir)
		}
		a, err = glora.LoadSupernet(dir)
	} else {
		a, err = glora.LoadAdapter(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("--init %s: %w", spec, err)
	}
	return a, nil
}

// finetuneStage trains (or resumes, or finds finished) the finetune run of
// s in out: every check before any work.
func finetuneStage(ctx context.Context, s finetuneSettings, refill func(n int) finetune.Hyper, out string, resume, overwrite bool, stopAfter int, prec tensor.Precision, human, log io.Writer) (*finetuneResult, error) {
	p, err := prepare(s.baseSpec, "finetune", log)
	if err != nil {
		return nil, err
	}
	if refill != nil {
		s.Hyper = refill(p.Task.Train.Len())
		if err := checkInt("stop-after", stopAfter, 0, s.Epochs); err != nil {
			return nil, err
		}
	}
	setup := finetune.Setup{Method: s.Method, Rank: s.Rank, Targets: s.Targets, Exclude: s.Exclude}
	if s.Structure != "" {
		if setup.Structure, setup.Targets, err = readStructure(s.Structure, p, s.Targets, s.Exclude); err != nil {
			return nil, err
		}
	} else if _, err := checkTargets(p.BaseModel(), s.Targets, s.Exclude, setup.LoRARank()); err != nil {
		return nil, err
	}
	if s.Init != "" {
		if setup.Init, err = loadInit(s.Init); err != nil {
			return nil, err
		}
		if need := setup.LoRARank(); need > setup.Init.R {
			return nil, fmt.Errorf("--init %s stores rank %d, below the rank %d this run trains: its tensors cannot start it", s.Init, setup.Init.R, need)
		}
		// Attach checks the init's layers and shapes against the model
		// before any training: try it on a throwaway copy of the base.
		probe, err := p.Fresh()
		if err != nil {
			return nil, err
		}
		if _, err := finetune.Attach(probe, setup); err != nil {
			return nil, fmt.Errorf("--init %s: %w", s.Init, err)
		}
	}
	s.Scheme, s.Classes, s.NewHead = p.Scheme, p.Classes, p.NewHead
	if err := checkSameData(p, &s.baseSpec, resume); err != nil {
		return nil, err
	}
	fitBatch(&s.Hyper, p.Task.Train.Len(), log)
	if err := startOut(out, "finetune", overwrite, resume, s, prec); err != nil {
		return nil, err
	}
	init := ""
	if s.Init != "" {
		init = ", starting from " + s.Init
	}
	fmt.Fprintf(human, "finetune %s: %s%s; %s of %s, lr %g\n", s.Method, p.Describe(), init, nOf(s.Epochs, "epoch"), nOf(p.Task.Train.Len()/s.Batch, "step"), s.LR)
	t0 := time.Now()
	v, err := p.Fresh()
	if err != nil {
		return nil, err
	}
	tr, err := finetune.Finetune(ctx, v, p.Task, setup, s.Hyper,
		finetune.StageOptions{OutDir: out, Resume: resume && hasCheckpoint(out), Seed: s.Seed, CheckpointEvery: s.CheckpointEvery, StopAfter: stopAfter, Precision: prec})
	if err != nil {
		return nil, err
	}
	if tr.Stopped {
		fmt.Fprintf(human, "stopped after epoch %d of %d, as --stop-after asked; continue with glora finetune --resume --out %s\n", len(tr.History), s.Epochs, out)
		return nil, nil
	}
	res := &finetuneResult{Command: "finetune", Method: s.Method, Precision: prec.String(), ValAccuracy: tr.Val.Accuracy, ValLoss: tr.Val.Loss, NVal: tr.Val.N,
		NTrain: p.Task.Train.Len(), TrainableParams: tr.Support + tr.Head, SupportParams: tr.Support, HeadParams: tr.Head,
		BestEpoch: tr.BestEpoch, Epochs: len(tr.History), Seconds: tr.Seconds, Merged: filepath.Join(out, finetune.MergedDir),
		History: tr.History, Settings: s}
	if tr.Model.Net != nil {
		res.Adapter = filepath.Join(out, finetune.AdapterDir)
	}
	if err := writeJSONAtomic(filepath.Join(out, "finetune.json"), res); err != nil {
		return nil, err
	}
	where := "merged model in " + res.Merged
	if res.Adapter != "" {
		where = "adapter in " + res.Adapter + ", " + where
	}
	fmt.Fprintf(human, "finetune %s done in %s: val accuracy %.4f (epoch %d of %d), %d trainable parameters (%d support + %d head); %s\n",
		s.Method, time.Since(t0).Round(time.Second), res.ValAccuracy, res.BestEpoch, res.Epochs, res.TrainableParams, res.SupportParams, res.HeadParams, where)
	return res, nil
}
