package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/internal/progress"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/plot"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// ErrInterrupted is returned when the context is cancelled (e.g. Ctrl-C):
// a checkpoint was written and the run can be resumed.
var ErrInterrupted = errors.New("interrupted")

// Options configures a training run. The JSON names are what state.json
// records, so a resumed run can check it continues the same run.
type Options struct {
	OutDir          string  `json:"-"`
	Epochs          int     `json:"epochs"`
	Batch           int     `json:"batch"`
	LR              float64 `json:"lr"`            // peak learning rate
	MinLR           float64 `json:"min_lr"`        // cosine floor
	WarmupEpochs    float64 `json:"warmup_epochs"` // linear warm-up from MinLR
	WeightDecay     float64 `json:"weight_decay"`
	LabelSmoothing  float32 `json:"label_smoothing"`
	ClipNorm        float64 `json:"clip_norm"` // 0 = no clipping
	Seed            uint64  `json:"seed"`
	PadCrop         int     `json:"pad_crop"`         // augmentation: random crop of the image size from the image zero-padded by PadCrop pixels (0 = off), as data.Preprocess.PadCrop
	HFlip           bool    `json:"hflip"`            // augmentation: random horizontal flip
	CheckpointEvery int     `json:"checkpoint_every"` // steps between checkpoints; 0 = once an epoch
	StopAfter       int     `json:"-"`                // end the run after this many epochs of the schedule (0 = all); resume continues it
	EvalBatch       int     `json:"-"`
	Resume          bool    `json:"-"`
	// CheckpointTrainableOnly makes the checkpoint's model.safetensors hold
	// only the trainable tensors (RequiresGrad), not the frozen base at every
	// save: a GLoRA run's support tensors and head. BaseRef then says where
	// the frozen tensors come from (a folder, a preset, a backbone name); it
	// is recorded in state.json with a digest of the frozen tensors, and
	// resuming needs the model rebuilt from the same base.
	CheckpointTrainableOnly bool   `json:"checkpoint_trainable_only,omitempty"`
	BaseRef                 string `json:"base_ref,omitempty"`
	// Checkpoint is the folder layout vit.Save writes the best model in when
	// SaveBest is nil (F32 storage).
	Checkpoint vit.Checkpoint `json:"-"`
	// SaveBest writes the best model (by validation accuracy) as a folder in
	// dir; nil means vit.Save with Checkpoint, which needs a *vit.Model.
	SaveBest func(dir string) error `json:"-"`
	// Preprocess is the model's input pipeline (channels, size,
	// normalisation; PadCrop and HFlip are set from the options above); nil
	// means PreprocessFor the ViT's config, which needs a *vit.Model.
	Preprocess *data.Preprocess `json:"-"`
	// NoDecay picks the trainable parameters that get no weight decay; nil
	// means optim.NoDecayDefault (see there for the rule).
	NoDecay func(p *ag.Var) bool `json:"-"`
	// Hook runs before every step's forward pass (see Hook); nil: none.
	Hook Hook `json:"-"`
	// Precision is the arithmetic of the matrix products, in training and
	// validation (zero: tensor.F32).
	Precision tensor.Precision `json:"-"`
	Log       io.Writer        `json:"-"`

	// What the run trains on, recorded for resume checks (see CheckResume):
	// the caller's data spec, split scheme and seed, model spec, whether
	// the head was replaced, and the drop-path rate (-1 = the model's).
	Data      string  `json:"data,omitempty"`
	Scheme    string  `json:"scheme,omitempty"`
	SplitSeed uint64  `json:"split_seed"`
	Model     string  `json:"model,omitempty"`
	NewHead   bool    `json:"new_head"`
	DropPath  float64 `json:"drop_path"`
}

// EpochRecord is one epoch's line of the history.
type EpochRecord struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	ValLoss   float64 `json:"val_loss"`
	ValAcc    float64 `json:"val_acc"`
	LR        float64 `json:"lr"`
	Seconds   float64 `json:"seconds"`
	ImgPerS   float64 `json:"img_per_s"`
}

// State is where a run stands; it is saved in every checkpoint.
type State struct {
	Options   Options       `json:"options"`
	Epoch     int           `json:"epoch"` // the next batch to run is (Epoch, Batch)
	Batch     int           `json:"batch"`
	Step      int           `json:"step"` // optimiser steps taken
	BestAcc   float64       `json:"best_val_acc"`
	BestEpoch int           `json:"best_epoch"`
	History   []EpochRecord `json:"history"`
	// running sums of the epoch in progress
	LossSum   float64 `json:"epoch_loss_sum"`
	Correct   int     `json:"epoch_correct"`
	Seen      int     `json:"epoch_seen"`
	EpochSecs float64 `json:"epoch_seconds"`
	// BaseDigest fingerprints the frozen tensors (see frozenDigest) when
	// the checkpoint holds only the trainable ones.
	BaseDigest string `json:"base_digest,omitempty"`
	// Data fingerprints the training and validation images the run
	// started on (data.Dataset.Fingerprint): a resume on others is refused.
	Data string `json:"data_fingerprint,omitempty"`
}

// Summary is the outcome of a finished run.
type Summary struct {
	Best      Metrics       `json:"best_val"`
	BestEpoch int           `json:"best_epoch"`
	History   []EpochRecord `json:"history"`
	BestDir   string        `json:"best_dir"`
}

func (o *Options) validate() error {
	switch {
	case o.OutDir == "":
		return fmt.Errorf("train: no output folder")
	case o.Epochs < 1:
		return fmt.Errorf("train: epochs %d must be ≥ 1", o.Epochs)
	case o.Batch < 1:
		return fmt.Errorf("train: batch %d must be ≥ 1", o.Batch)
	case !(o.LR > 0) || o.MinLR < 0 || o.MinLR > o.LR:
		return fmt.Errorf("train: need 0 ≤ min lr (%g) ≤ lr (%g), lr > 0", o.MinLR, o.LR)
	case o.WarmupEpochs < 0 || o.WeightDecay < 0 || o.ClipNorm < 0 || o.CheckpointEvery < 0 || o.PadCrop < 0:
		return fmt.Errorf("train: warm-up, weight decay, clip norm, checkpoint interval and crop padding must be ≥ 0")
	case o.LabelSmoothing < 0 || o.LabelSmoothing >= 1:
		return fmt.Errorf("train: label smoothing %g must be in [0,1)", o.LabelSmoothing)
	case o.CheckpointTrainableOnly && o.BaseRef == "":
		return fmt.Errorf("train: a checkpoint of the trainable tensors only needs BaseRef, the base the frozen tensors come from")
	}
	if o.EvalBatch < 1 {
		o.EvalBatch = 256
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// inputs returns the input pipeline and the best-model writer of m: the
// options', or a ViT's own.
func (o *Options) inputs(m Model) (data.Preprocess, func(dir string) error, error) {
	v, isViT := m.(*vit.Model)
	var pre data.Preprocess
	switch {
	case o.Preprocess != nil:
		pre = *o.Preprocess
	case isViT:
		pre = PreprocessFor(v.Cfg)
	default:
		return pre, nil, fmt.Errorf("train: model %T is not a *vit.Model: Options.Preprocess must give its input pipeline", m)
	}
	pre.PadCrop, pre.HFlip = o.PadCrop, o.HFlip
	save := o.SaveBest
	switch {
	case save != nil:
	case isViT:
		save = func(dir string) error { return vit.Save(v, dir, o.Checkpoint, safetensors.F32) }
	default:
		return pre, nil, fmt.Errorf("train: model %T is not a *vit.Model: Options.SaveBest must say how to save it", m)
	}
	return pre, save, nil
}

// Run trains m's trainable parameters (RequiresGrad) on train, one
// Trainer.Step per batch, with AdamW and a cosine schedule, evaluating on
// val after every epoch and keeping the best model in OutDir/best. With no
// validation set (val nil or empty, e.g. when training on the whole
// training split) OutDir/best holds the last epoch's model. Checkpoints
// (OutDir/checkpoint) are written every CheckpointEvery steps, at the end
// of each epoch and when ctx is cancelled; with Resume, a run continues
// exactly where its checkpoint left off (same data order, augmentation,
// drop-path and Hook draws, and optimiser state). A *vit.Model brings its
// own input pipeline and best-model writer; other models need
// Options.Preprocess and Options.SaveBest.
func Run(ctx context.Context, m Model, trainSet, val *data.Dataset, o Options) (Summary, error) {
	r, err := newRunner(m, trainSet, val, o)
	if err != nil {
		return Summary{}, err
	}
	if err := r.start(trainSet, val); err != nil {
		return Summary{}, err
	}
	last := o.Epochs
	if o.StopAfter > 0 {
		last = min(last, o.StopAfter)
	}
	var lastPlot time.Time // the first epoch's curves are drawn
	for r.st.Epoch < last {
		rec, err := r.epoch(ctx)
		if err != nil {
			return Summary{}, err
		}
		if err := r.endEpoch(rec); err != nil {
			return Summary{}, err
		}
		// The curves are redrawn at most every plotEvery (drawing a PNG
		// costs more than a step of a tiny few-shot epoch), and always
		// after the last epoch.
		if r.st.Epoch == last || time.Since(lastPlot) >= plotEvery {
			if err := writePlot(filepath.Join(o.OutDir, "curves.png"), r.st.History, o.LabelSmoothing > 0, r.hasVal); err != nil {
				fmt.Fprintf(o.Log, "warning: %v\n", err)
			}
			lastPlot = time.Now()
		}
	}
	sum := Summary{BestEpoch: r.st.BestEpoch, History: r.st.History, BestDir: filepath.Join(o.OutDir, "best")}
	for _, h := range r.st.History {
		if r.hasVal && h.Epoch == r.st.BestEpoch {
			// ValAcc is correct/N exactly, so the count is recovered without error.
			sum.Best = Metrics{Accuracy: h.ValAcc, Loss: h.ValLoss, N: val.Len(), Correct: int(math.Round(h.ValAcc * float64(val.Len())))}
		}
	}
	return sum, nil
}

// runner is one Run's working state: the model and its trainer, the
// loader, the optimiser and the checkpointed State.
type runner struct {
	o        Options
	m        Model
	all      []*ag.Var // every parameter (the frozen ones too)
	val      *data.Dataset
	hasVal   bool
	pre      data.Preprocess
	saveBest func(dir string) error
	loader   *data.Loader
	opt      *optim.AdamW
	tr       *Trainer
	perEpoch int
	st       State
	ckDir    string
}

// newRunner checks the options and the model and builds the loader, the
// optimiser, the schedule and the trainer.
func newRunner(m Model, trainSet, val *data.Dataset, o Options) (*runner, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	pre, saveBest, err := o.inputs(m)
	if err != nil {
		return nil, err
	}
	all := m.Params()
	if _, err := paramTensors(all, false); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	params := trainable(all)
	if len(params) == 0 {
		return nil, fmt.Errorf("train: the model has no trainable parameters")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	loader, err := data.NewLoader(trainSet, data.LoaderConfig{BatchSize: o.Batch, DropLast: true, Shuffle: true, Seed: o.Seed, Preprocess: pre})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	r := &runner{o: o, m: m, all: all, val: val, hasVal: val != nil && val.Len() > 0, pre: pre, saveBest: saveBest, loader: loader,
		opt: optim.NewAdamW(optim.DecayGroups(params, o.WeightDecay, o.NoDecay), o.LR, 0.9, 0.999, 1e-8), perEpoch: loader.NumBatches(),
		st: State{Options: o}, ckDir: filepath.Join(o.OutDir, "checkpoint")}
	sched := optim.Cosine{Peak: o.LR, Min: o.MinLR, WarmupStart: o.MinLR,
		WarmupSteps: int(o.WarmupEpochs * float64(r.perEpoch)), TotalSteps: o.Epochs * r.perEpoch}
	r.tr = NewTrainer(m, r.opt)
	r.tr.LabelSmoothing, r.tr.ClipNorm, r.tr.Seed, r.tr.LR, r.tr.Hook, r.tr.Precision = o.LabelSmoothing, o.ClipNorm, o.Seed, sched.LR, o.Hook, o.Precision
	return r, nil
}

// start resumes the checkpoint (refusing one of other data or one no run
// could have saved) or checks that there is none to overwrite.
func (r *runner) start(trainSet, val *data.Dataset) error {
	o := r.o
	fp := "train " + trainSet.Fingerprint()
	if r.hasVal {
		fp += "; val " + val.Fingerprint()
	}
	if o.Resume {
		st, err := loadCheckpoint(r.ckDir, r.m, r.opt, o)
		if err != nil {
			return err
		}
		if st.Data != "" && st.Data != fp {
			return fmt.Errorf("train: cannot resume the run in %s: it started on other images (%s), this call has %s; a split of other data can put training images in validation, so start a new run",
				o.OutDir, st.Data, fp)
		}
		if err := checkState(st, r.perEpoch, filepath.Join(r.ckDir, "state.json")); err != nil {
			return err
		}
		r.st = st
		fmt.Fprintf(o.Log, "resumed from %s at epoch %d batch %d (step %d)\n", r.ckDir, st.Epoch+1, st.Batch, st.Step)
	} else if _, err := os.Stat(filepath.Join(r.ckDir, "state.json")); err == nil {
		return fmt.Errorf("train: %s already holds a checkpoint: resume it (Options.Resume; --resume on the command line) or choose another output folder", r.ckDir)
	}
	r.st.Data = fp
	if o.CheckpointTrainableOnly && r.st.BaseDigest == "" {
		r.st.BaseDigest = frozenDigest(r.all)
	}
	return nil
}

func (r *runner) save() error { return saveCheckpoint(r.ckDir, r.m, r.opt, r.st) }

// epoch trains the rest of the current epoch (all of it unless resumed
// mid-epoch), checkpointing every CheckpointEvery steps and when ctx is
// cancelled (then ErrInterrupted), and returns its record so far.
func (r *runner) epoch(ctx context.Context) (EpochRecord, error) {
	o, st := r.o, &r.st
	bar := progress.New(o.Log, fmt.Sprintf("epoch %d/%d", st.Epoch+1, o.Epochs), r.perEpoch)
	bar.StartAt(st.Batch)
	t0 := time.Now()
	seenAtStart, secsAtStart := st.Seen, st.EpochSecs // the epoch so far, when resumed mid-epoch
	for b, err := range r.loader.Epoch(st.Epoch, st.Batch) {
		if err != nil {
			return EpochRecord{}, fmt.Errorf("train: epoch %d batch %d: %w", st.Epoch+1, st.Batch, err)
		}
		x, err := tensor.FromSlice(b.X, b.Shape[:]...)
		if err != nil {
			return EpochRecord{}, fmt.Errorf("train: epoch %d batch %d: %w", st.Epoch+1, b.Index+1, err)
		}
		res, err := r.tr.Step(st.Step, ag.NewVar(x, false), b.Labels)
		if err != nil {
			return EpochRecord{}, fmt.Errorf("train: epoch %d batch %d: %w", st.Epoch+1, b.Index+1, err)
		}
		st.Step++
		st.Batch = b.Index + 1
		st.LossSum += res.Loss * float64(len(b.Labels))
		st.Correct += res.Correct
		st.Seen += len(b.Labels)
		secs := secsAtStart + time.Since(t0).Seconds()
		bar.Update(st.Batch, fmt.Sprintf("loss %.4f acc %.3f lr %.2e %.0f img/s",
			st.LossSum/float64(st.Seen), float64(st.Correct)/float64(st.Seen), res.LR,
			float64(st.Seen-seenAtStart)/time.Since(t0).Seconds()))
		if ctx.Err() != nil {
			st.EpochSecs = secs
			if err := r.save(); err != nil {
				return EpochRecord{}, err
			}
			fmt.Fprintf(o.Log, "\ninterrupted at step %d; checkpoint saved in %s (resume with --resume)\n", st.Step, r.ckDir)
			return EpochRecord{}, ErrInterrupted
		}
		if o.CheckpointEvery > 0 && st.Step%o.CheckpointEvery == 0 {
			st.EpochSecs = secs
			if err := r.save(); err != nil {
				return EpochRecord{}, err
			}
		}
	}
	secs := secsAtStart + time.Since(t0).Seconds()
	return EpochRecord{Epoch: st.Epoch + 1, TrainLoss: st.LossSum / float64(max(st.Seen, 1)),
		TrainAcc: float64(st.Correct) / float64(max(st.Seen, 1)), LR: r.opt.LR, Seconds: secs, ImgPerS: float64(st.Seen) / secs}, nil
}

// endEpoch validates the epoch's model, keeps it in best/ when it is the
// best so far (by validation accuracy; without a validation split, the
// latest), and checkpoints the finished epoch.
func (r *runner) endEpoch(rec EpochRecord) error {
	o, st := r.o, &r.st
	if r.hasVal {
		vm, err := EvaluateModel(r.m, r.val, PreprocessEval(r.pre), o.EvalBatch, o.Precision)
		if err != nil {
			return fmt.Errorf("train: validation after epoch %d: %w", st.Epoch+1, err)
		}
		rec.ValLoss, rec.ValAcc = vm.Loss, vm.Accuracy
		fmt.Fprintf(o.Log, "epoch %d: train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.0fs, %.0f img/s\n",
			rec.Epoch, rec.TrainLoss, rec.TrainAcc, rec.ValLoss, rec.ValAcc, rec.Seconds, rec.ImgPerS)
	} else {
		fmt.Fprintf(o.Log, "epoch %d: train loss %.4f acc %.4f | no validation split | %.0fs, %.0f img/s\n",
			rec.Epoch, rec.TrainLoss, rec.TrainAcc, rec.Seconds, rec.ImgPerS)
	}
	st.History = append(st.History, rec)
	if !r.hasVal || rec.ValAcc > st.BestAcc || st.BestEpoch == 0 {
		st.BestAcc, st.BestEpoch = rec.ValAcc, rec.Epoch
		if err := r.saveBest(filepath.Join(o.OutDir, "best")); err != nil {
			return fmt.Errorf("train: saving the best model: %w", err)
		}
	}
	st.Epoch++
	st.Batch, st.LossSum, st.Correct, st.Seen, st.EpochSecs = 0, 0, 0, 0, 0
	return r.save()
}

// plotEvery is the least time between two redraws of curves.png.
const plotEvery = 10 * time.Second

// PreprocessEval is pre without augmentation: the pipeline evaluation uses.
func PreprocessEval(pre data.Preprocess) data.Preprocess {
	pre.PadCrop, pre.HFlip = 0, false
	return pre
}

// saveCheckpoint writes model, optimiser and state into a fresh folder and
// swaps it in with renames (atomicfile.WriteDir), so a crash never leaves a
// half-written checkpoint. With st.Options.CheckpointTrainableOnly the
// model file holds only the trainable tensors.
func saveCheckpoint(dir string, m Model, opt *optim.AdamW, st State) error {
	tensors, err := paramTensors(m.Params(), st.Options.CheckpointTrainableOnly)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	err = atomicfile.WriteDir(dir, func(tmp string) error {
		if err := safetensors.WriteFile(filepath.Join(tmp, "model.safetensors"), tensors, safetensors.F32, nil); err != nil {
			return err
		}
		if err := safetensors.WriteFile(filepath.Join(tmp, "optim.safetensors"), opt.State(), safetensors.F32, nil); err != nil {
			return err
		}
		return atomicfile.WriteBytes(filepath.Join(tmp, "state.json"), js)
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func loadCheckpoint(dir string, m Model, opt *optim.AdamW, o Options) (State, error) {
	var st State
	js, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return st, fmt.Errorf("resume: %w", err)
	}
	if err := json.Unmarshal(js, &st); err != nil {
		return st, fmt.Errorf("resume: %s: %w", filepath.Join(dir, "state.json"), err)
	}
	if err := CheckResume(st, o); err != nil {
		return st, fmt.Errorf("resume: %s: %w", dir, err)
	}
	ts, _, err := safetensors.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return st, fmt.Errorf("resume: %w", err)
	}
	if err := loadModelTensors(dir, m, ts, st, o); err != nil {
		return st, err
	}
	ost, _, err := safetensors.ReadFile(filepath.Join(dir, "optim.safetensors"))
	if err != nil {
		return st, fmt.Errorf("resume: %w", err)
	}
	if err := opt.Load(ost); err != nil {
		return st, fmt.Errorf("resume: %s: %w", filepath.Join(dir, "optim.safetensors"), err)
	}
	st.Options = o
	if !o.CheckpointTrainableOnly {
		st.BaseDigest = ""
	}
	return st, nil
}

// loadModelTensors loads a checkpoint's model tensors into m: all of them,
// or, when the checkpoint holds only the trainable ones, those onto a model
// that must have been rebuilt from the same base (o.BaseRef; it may have
// moved): m's frozen tensors must be the ones the checkpoint's digest
// recorded. Errors name the base.
func loadModelTensors(dir string, m Model, ts map[string]*tensor.Tensor, st State, o Options) error {
	file := filepath.Join(dir, "model.safetensors")
	ps := m.Params()
	if !st.Options.CheckpointTrainableOnly {
		if err := loadParams(ps, ts, false); err != nil {
			return fmt.Errorf("resume: %s: %w", file, err)
		}
		return nil
	}
	// (Options.validate has made sure o names a base: CheckResume refused
	// a run that does not checkpoint the trainable tensors only.)
	base := st.Options.BaseRef
	if err := loadParams(ps, ts, true); err != nil {
		return fmt.Errorf("resume: %s holds the trainable tensors over base %q, which do not fit the model built from it: %w", file, base, err)
	}
	if d := frozenDigest(ps); d != st.BaseDigest {
		return fmt.Errorf("resume: %s was trained over base %q, and the frozen tensors of this model differ from it (this run's base %q, digest %s; the checkpoint recorded %s): rebuild the model from that base", dir, base, o.BaseRef, d, st.BaseDigest)
	}
	return nil
}

// writePlot draws loss and accuracy per epoch. With label smoothing the
// training loss is the smoothed objective, which sits above the plain
// cross-entropy shown for validation; the legend says so.
func writePlot(path string, h []EpochRecord, smoothed, hasVal bool) error {
	trainLoss := "train"
	if smoothed {
		trainLoss = "train (smoothed)"
	}
	var ep, tl, vl, ta, va []float64
	for _, r := range h {
		ep = append(ep, float64(r.Epoch))
		tl, vl = append(tl, r.TrainLoss), append(vl, r.ValLoss)
		ta, va = append(ta, r.TrainAcc), append(va, r.ValAcc)
	}
	loss := []plot.Series{{Name: trainLoss, X: ep, Y: tl}}
	acc := []plot.Series{{Name: "train", X: ep, Y: ta}}
	if hasVal {
		loss = append(loss, plot.Series{Name: "validation", X: ep, Y: vl})
		acc = append(acc, plot.Series{Name: "validation", X: ep, Y: va})
	}
	return plot.WritePNG(path,
		plot.Panel{Title: "loss", XLabel: "epoch", Series: loss},
		plot.Panel{Title: "top-1 accuracy", XLabel: "epoch", Series: acc})
}
