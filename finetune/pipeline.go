package finetune

// The pipeline: the stages the glora supernet, search, finetune and run
// commands (and the demo) are made of, each resumable in its own folder.
//
//	TrainSupernet  the GLoRA supernet on the training split (one structure
//	               drawn per step), validation with a fixed structure;
//	               OUT/supernet is the supernet folder
//	Search         evolutionary search scored on the validation split;
//	               OUT/search.jsonl (one line per candidate, the resume
//	               log), OUT/structure.json, OUT/searched (the best
//	               structure's adapter, inherited weights), OUT/search.png
//	Finetune       one method (or a searched structure) trained alone;
//	               OUT/adapter (none for linear and full) and OUT/merged
//
// Nothing here reads a test split: Task carries the training and
// validation splits only.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/internal/progress"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/plot"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// Hyper holds one training stage's hyperparameters (AdamW, cosine schedule
// with linear warm-up from MinLR, no augmentation, plain cross-entropy).
// The defaults live in the named recipes (pipeline.Named).
type Hyper struct {
	Epochs       int     `json:"epochs"`
	Batch        int     `json:"batch"`
	LR           float64 `json:"lr"`
	MinLR        float64 `json:"min_lr"`
	WarmupEpochs float64 `json:"warmup_epochs"`
	WeightDecay  float64 `json:"weight_decay"`
	ClipNorm     float64 `json:"clip_norm"`
}

// Task is what a stage trains on: the training and validation splits
// (never the test split), the input pipeline, and what the run records
// for resume checks and for the adapter's base_model_name_or_path.
type Task struct {
	Train, Val *data.Dataset
	Pre        data.Preprocess
	BaseRef    string         // the base model, as the user named it (a folder, "shipped", a preset)
	Checkpoint vit.Checkpoint // the base's folder layout: merged models are saved in it (Labels: the data's classes)
	Data       string         // data spec, split scheme and seed: recorded in the checkpoints
	Scheme     string
	SplitSeed  uint64
	Log        io.Writer // progress and per-epoch lines; nil: none
}

// StageOptions says where a stage runs and how it continues.
type StageOptions struct {
	OutDir          string
	Resume          bool   // continue the checkpoint in OutDir/checkpoint
	Seed            uint64 // data order, support initialisation, supernet draws
	CheckpointEvery int    // steps between checkpoints (0: once an epoch)
	StopAfter       int    // end after this many epochs (0: all); Resume continues
	// Precision is the arithmetic of the matrix products, in training and
	// on validation (zero: tensor.F32; tensor.BF16 as PyTorch's autocast).
	Precision tensor.Precision
}

// EvalOptions are how a search scores its candidates: images per forward
// pass (0: 256) and the matrix products' precision.
type EvalOptions struct {
	Batch     int
	Precision tensor.Precision
}

// Trained is a finished training stage.
type Trained struct {
	Model     *Model
	Val       train.Metrics // the model kept (best epoch; a supernet: the last) on the validation split
	BestEpoch int
	History   []train.EpochRecord
	Support   int     // trainable support parameters
	Head      int     // trainable head parameters
	Seconds   float64 // training time over all resumes
	Stopped   bool    // StopAfter ended it before its last epoch
}

// options builds train.Options for a stage.
func (t Task) options(h Hyper, so StageOptions, method string, hook train.Hook, saveBest func(string) error) train.Options {
	pre := t.Pre
	return train.Options{OutDir: so.OutDir, Epochs: h.Epochs, Batch: h.Batch, LR: h.LR, MinLR: h.MinLR,
		WarmupEpochs: h.WarmupEpochs, WeightDecay: h.WeightDecay, ClipNorm: h.ClipNorm, Seed: so.Seed,
		CheckpointEvery: so.CheckpointEvery, StopAfter: so.StopAfter, Resume: so.Resume, Precision: so.Precision,
		CheckpointTrainableOnly: true, BaseRef: t.BaseRef, Preprocess: &pre, Hook: hook, SaveBest: saveBest,
		Log: t.logw(), Data: t.Data, Scheme: t.Scheme, SplitSeed: t.SplitSeed, Model: t.BaseRef + " (" + method + ")",
		DropPath: -1}
}

// record is the task's data, split scheme and seed as an adapter records
// them (nil without a data spec). The checkpoint's record, when set, wins:
// it says "full" for a base that had already seen the validation images.
func (t Task) record() *glora.TrainingRecord {
	if r := t.Checkpoint.Training; r != nil {
		return &glora.TrainingRecord{Data: r.Data, Scheme: r.Scheme, SplitSeed: r.SplitSeed}
	}
	if t.Data == "" {
		return nil
	}
	return &glora.TrainingRecord{Data: t.Data, Scheme: t.Scheme, SplitSeed: t.SplitSeed}
}

func (t Task) logw() io.Writer {
	if t.Log == nil {
		return io.Discard
	}
	return t.Log
}

func (t Task) check() error {
	switch {
	case t.Train == nil || t.Train.Len() == 0:
		return fmt.Errorf("finetune: no training images")
	case t.Val == nil || t.Val.Len() == 0:
		return fmt.Errorf("finetune: no validation images (the stages choose on the validation split)")
	}
	return nil
}

// EvalStructureOf is the structure a supernet's validation curve follows:
// LoRA at the supernet's largest rank on every layer.
func EvalStructureOf(m *Model) (glora.Structure, error) {
	return glora.Named(LoRA, m.Net.Targets(), m.Net.Space().MaxRank(), false)
}

// SupernetDir is the supernet folder a TrainSupernet stage writes in its OutDir.
func SupernetDir(outDir string) string { return filepath.Join(outDir, "supernet") }

// TrainSupernet trains the GLoRA supernet of s (Method Supernet; Ranks,
// Targets, Exclude) over v, whose head already fits the data (the backbone
// frozen; the support tensors and the head trained, one structure drawn per
// step), validating with EvalStructureOf after every epoch, checkpointing
// only the trainable tensors over t.BaseRef, and writes the last epoch's
// supernet folder in OutDir/supernet (for Search and for Finetune's Init).
func TrainSupernet(ctx context.Context, v *vit.Model, t Task, s Setup, h Hyper, so StageOptions) (*Trained, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	s.Method, s.Seed = Supernet, so.Seed
	m, err := Attach(v, s)
	if err != nil {
		return nil, err
	}
	m.Labels, m.Training = t.Checkpoint.Labels, t.record()
	if m.EvalStructure, err = EvalStructureOf(m); err != nil {
		return nil, err
	}
	o := t.options(h, so, Supernet, m.SampleHook(), func(dir string) error { return m.SaveAdapter(dir, t.BaseRef) })
	t0 := time.Now()
	sum, err := train.Run(ctx, m, t.Train, t.Val, o)
	if err != nil {
		return nil, err
	}
	out := &Trained{Model: m, BestEpoch: sum.BestEpoch, History: sum.History, Seconds: trainSeconds(sum.History, t0)}
	out.Support, out.Head = m.Trainable()
	if n := len(sum.History); n > 0 {
		last := sum.History[n-1]
		out.Val = train.Metrics{Accuracy: last.ValAcc, Loss: last.ValLoss, N: t.Val.Len()}
	}
	if out.Stopped = len(sum.History) < h.Epochs; out.Stopped {
		return out, nil
	}
	if err := m.SaveAdapter(SupernetDir(so.OutDir), t.BaseRef); err != nil {
		return nil, err
	}
	return out, nil
}

func trainSeconds(h []train.EpochRecord, t0 time.Time) float64 {
	s := 0.0
	for _, r := range h {
		s += r.Seconds
	}
	if s == 0 {
		s = time.Since(t0).Seconds()
	}
	return s
}

// LoadSupernet attaches the supernet saved in dir (a supernet folder, as
// TrainSupernet writes in OutDir/supernet) to v: its space, targets,
// stored tensors and head (v's head must already have the data's class
// count).
func LoadSupernet(v *vit.Model, dir string, targets, exclude []string) (*Model, error) {
	a, err := glora.LoadSupernet(dir)
	if err != nil {
		return nil, err
	}
	return Attach(v, Setup{Method: Supernet, Ranks: a.Ranks, Targets: targets, Exclude: exclude, Init: a})
}

// Budget helpers.

// LoRABudget is the support parameter count of LoRA at rank r over the
// targets (B = lora_r on every layer): the search's default budget, at r = 8.
func LoRABudget(targets []glora.Target, r int) int {
	n := 0
	for _, tg := range targets {
		n += r * (tg.In + tg.Out)
	}
	return n
}

// MinBudget is the parameter count of the smallest structure that changes
// the model: one constant in one layer.
const MinBudget = 1

// CheckBudget refuses a budget under MinBudget, saying what the smallest
// structure is.
func CheckBudget(budget int) error {
	if budget < MinBudget {
		return fmt.Errorf("budget %d is below the smallest structure: one constant (A, B, D or E) in one layer reads %d parameter; every other structure reads more", budget, MinBudget)
	}
	return nil
}

// Search files in a run folder.
const (
	SearchLogFile    = "search.jsonl"
	StructureFile    = "structure.json"
	SearchPlotFile   = "search.png"
	SearchedAdapter  = "searched"
	SearchResultFile = "search.json"
)

// SearchOutcome is a finished search.
type SearchOutcome struct {
	Best       search.Candidate
	Candidates []search.Candidate // every candidate scored, in the order evaluated (earlier runs' first)
	Evaluated  int                // evaluated in this call (not read back from the log)
	Seconds    float64
}

// ReadSearchLog reads a search log (one JSON candidate per line). A last
// line cut short by a kill is dropped; any other bad line is an error.
func ReadSearchLog(path string) ([]search.Candidate, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []search.Candidate
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var c search.Candidate
		if err := json.Unmarshal(line, &c); err != nil {
			if i == len(lines)-1 { // no newline after it: written when the run was killed
				break
			}
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		switch {
		case c.Structure == nil || c.Hash != c.Structure.Hash():
			return nil, fmt.Errorf("%s line %d: hash %q is not its structure's (%s): the log was edited or damaged", path, i+1, c.Hash, c.Structure.Hash())
		case !(c.Accuracy >= 0 && c.Accuracy <= 1) || !(c.Loss >= 0) || math.IsInf(c.Loss, 0) || c.Params < 0 || c.Generation < 0:
			return nil, fmt.Errorf("%s line %d: val accuracy %g, loss %g, %d params, generation %d: not a candidate a search scored", path, i+1, c.Accuracy, c.Loss, c.Params, c.Generation)
		}
		out = append(out, c)
	}
	return out, nil
}

// Search runs the evolutionary search over the supernet m's structures
// under cfg (Budget, sizes, Seed; Known and Record are set here), scoring
// each candidate on val with merged weights (Model.Evaluator). Every
// candidate is appended to dir/search.jsonl as it is scored, and a search
// started again in dir replays that log (search.Config.Known) and ends as
// an uninterrupted one would. At the end it writes dir/structure.json,
// dir/searched (the best structure's adapter with the supernet's weights
// and head) and dir/search.png (validation accuracy against parameters,
// by generation, the best highlighted).
func Search(ctx context.Context, m *Model, val *data.Dataset, pre data.Preprocess, cfg search.Config, dir string, ev EvalOptions, log io.Writer) (*SearchOutcome, error) {
	if ev.Batch < 1 {
		ev.Batch = 256
	}
	return searchWith(ctx, m, val, cfg, dir, log, m.Evaluator(val, pre, ev.Batch, ev.Precision))
}

func searchWith(ctx context.Context, m *Model, val *data.Dataset, cfg search.Config, dir string, log io.Writer, eval search.Evaluator) (*SearchOutcome, error) {
	if m.Net == nil || m.Method != Supernet {
		return nil, fmt.Errorf("finetune: search needs a supernet")
	}
	if val == nil || val.Len() == 0 {
		return nil, fmt.Errorf("finetune: search needs validation images")
	}
	if err := CheckBudget(cfg.Budget); err != nil {
		return nil, err
	}
	if log == nil {
		log = io.Discard
	}
	logPath := filepath.Join(dir, SearchLogFile)
	known, err := ReadSearchLog(logPath)
	if err != nil {
		return nil, err
	}
	if err := truncateToRecords(logPath, known); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all := append([]search.Candidate(nil), known...)
	cfg.Known = known
	t0 := time.Now()
	best := search.Candidate{}
	for _, c := range known {
		if best.Structure == nil || c.Score.Better(best.Score) {
			best = c
		}
	}
	// The bar's total is the most candidates the search can score (it may
	// score fewer: children that repeat earlier ones are not scored again).
	total := max(1, search.MaxCandidates(cfg))
	bar := progress.New(log, "search", total)
	bar.StartAt(len(known))
	cfg.Record = func(c search.Candidate) error {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		all = append(all, c)
		if best.Structure == nil || c.Score.Better(best.Score) {
			best = c
		}
		bar.Update(min(len(all), total), fmt.Sprintf("generation %d/%d, %d scored (%.1f/min), best val acc %.4f (%d params)",
			c.Generation+1, cfg.Generations, len(all), 60*float64(len(all)-len(known))/time.Since(t0).Seconds(), best.Accuracy, best.Params))
		return nil
	}
	res, err := search.Run(ctx, cfg, m.Net.Space(), m.Net.Targets(), eval)
	bar.Finish()
	if err != nil {
		return nil, err
	}
	out := &SearchOutcome{Best: res.Best, Candidates: all, Evaluated: res.Evaluated, Seconds: time.Since(t0).Seconds()}
	if err := writeSearchOutputs(m, out, dir); err != nil {
		return nil, err
	}
	return out, nil
}

// truncateToRecords rewrites the log without a cut-short last line.
func truncateToRecords(path string, known []search.Candidate) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(b) == 0 || b[len(b)-1] == '\n' {
		return nil
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for _, c := range known {
		js, err := json.Marshal(c)
		if err != nil {
			return err
		}
		w.Write(append(js, '\n'))
	}
	w.Flush()
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeSearchOutputs writes structure.json, the searched adapter and search.png.
func writeSearchOutputs(m *Model, o *SearchOutcome, dir string) error {
	st := o.Best.Structure
	if err := atomicfile.WriteBytes(filepath.Join(dir, StructureFile), st.Format()); err != nil {
		return err
	}
	a, err := glora.NewAdapter(st, m.layerTensors(), m.head())
	if err != nil {
		return err
	}
	if err := glora.Save(filepath.Join(dir, SearchedAdapter), a, glora.SaveOptions{}); err != nil {
		return err
	}
	return WriteSearchPlot(filepath.Join(dir, SearchPlotFile), o.Candidates, o.Best)
}

// WriteSearchPlot draws validation accuracy against support parameters,
// coloured by generation, with the best candidate highlighted.
func WriteSearchPlot(path string, cs []search.Candidate, best search.Candidate) error {
	// Thousands of parameters (the axis labels keep their digits); groups
	// are the log's generations, from 0.
	s := plot.Scatter{Title: "search: validation accuracy of each candidate", XLabel: "support parameters (thousands)",
		YLabel: "val acc", GroupName: "generation"}
	for _, c := range cs {
		s.Points = append(s.Points, plot.Point{X: float64(c.Params) / 1000, Y: c.Accuracy, Group: c.Generation})
	}
	s.Highlight = &plot.Point{X: float64(best.Params) / 1000, Y: best.Accuracy, Group: best.Generation}
	return plot.WriteScatterPNG(path, s)
}

// Finetune outputs in a stage's OutDir.
const (
	AdapterDir = "adapter"
	MergedDir  = "merged"
)

// Finetune trains s (a method of Methods; Structure for glora; Init to
// start from a supernet's or adapter's tensors) over v, whose head already
// fits the data: AdamW with h, validation after every epoch, the best epoch
// by validation accuracy kept (OutDir/best during the run), checkpoints of
// the trainable tensors only. At the end it writes OutDir/adapter (the
// structure methods) and OutDir/merged (a plain model folder in
// t.Checkpoint's layout, with t.Checkpoint.Labels), and returns the kept
// model's validation metrics.
func Finetune(ctx context.Context, v *vit.Model, t Task, s Setup, h Hyper, so StageOptions) (*Trained, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if s.Method == Supernet {
		return nil, fmt.Errorf("finetune: the supernet trains with TrainSupernet")
	}
	s.Seed = so.Seed
	m, err := Attach(v, s)
	if err != nil {
		return nil, err
	}
	m.Labels, m.Training = t.Checkpoint.Labels, t.record()
	ck := t.Checkpoint
	ck.Config = v.Cfg
	saveBest := func(dir string) error {
		if m.Net != nil {
			return m.SaveAdapter(dir, t.BaseRef)
		}
		return m.SaveMerged(dir, ck, safetensors.F32)
	}
	o := t.options(h, so, s.Method, nil, saveBest)
	t0 := time.Now()
	sum, err := train.Run(ctx, m, t.Train, t.Val, o)
	if err != nil {
		return nil, err
	}
	out := &Trained{Model: m, BestEpoch: sum.BestEpoch, History: sum.History, Seconds: trainSeconds(sum.History, t0)}
	out.Support, out.Head = m.Trainable()
	if out.Stopped = len(sum.History) < h.Epochs; out.Stopped {
		return out, nil
	}
	if err := restoreBest(m, sum.BestDir); err != nil {
		return nil, fmt.Errorf("finetune: restoring the best epoch from %s: %w", sum.BestDir, err)
	}
	if out.Val, err = train.EvaluateModel(m, t.Val, train.PreprocessEval(t.Pre), 256, so.Precision); err != nil {
		return nil, err
	}
	if m.Net != nil {
		if err := m.SaveAdapter(filepath.Join(so.OutDir, AdapterDir), t.BaseRef); err != nil {
			return nil, err
		}
	}
	if err := m.SaveMerged(filepath.Join(so.OutDir, MergedDir), ck, safetensors.F32); err != nil {
		return nil, err
	}
	return out, nil
}

// restoreBest loads the best epoch's trainable values (an adapter folder,
// or a model folder for linear and full) back into m.
func restoreBest(m *Model, dir string) error {
	if m.Net != nil {
		a, err := glora.LoadAdapter(dir)
		if err != nil {
			return err
		}
		return initFrom(m, a)
	}
	b, _, err := vit.Load(dir)
	if err != nil {
		return err
	}
	dst, src := m.ViT.Params(), b.Params()
	if len(dst) != len(src) {
		return fmt.Errorf("%d tensors, the model has %d", len(src), len(dst))
	}
	for i := range dst {
		if dst[i].Value.Numel() != src[i].Value.Numel() {
			return fmt.Errorf("tensor %d: %d values, want %d", i, src[i].Value.Numel(), dst[i].Value.Numel())
		}
		copy(dst[i].Value.Data, src[i].Value.Data)
	}
	return nil
}

// FitHead gives v a fresh head (seeded) for classes unless its head
// already names exactly these classes (labels: the base's class names,
// e.g. vit.Checkpoint.Labels): a head trained for other classes, even as
// many, knows nothing of these. It reports whether it replaced the head.
func FitHead(v *vit.Model, labels, classes []string, seed uint64) (bool, error) {
	if v.Head != nil && v.Cfg.NumClasses == len(classes) && slices.Equal(labels, classes) {
		return false, nil
	}
	return true, v.ResetHead(len(classes), vit.HeadRNG(seed))
}
