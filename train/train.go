package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/internal/progress"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/nn"
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
	// Save writes the best model (by validation accuracy) as a checkpoint
	// folder; nil means vit.Save with Checkpoint and F32 storage.
	Checkpoint vit.Checkpoint `json:"-"`
	Log        io.Writer      `json:"-"`

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
	}
	if o.EvalBatch < 1 {
		o.EvalBatch = 256
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// Run trains all of m's trainable parameters on train with AdamW and a
// cosine schedule, evaluating on val after every epoch and keeping the best
// model in OutDir/best. With no validation set (val nil or empty, e.g. when
// training on the whole training split) OutDir/best holds the last epoch's
// model. Checkpoints (OutDir/checkpoint) are written every
// CheckpointEvery steps, at the end of each epoch and when ctx is cancelled;
// with Resume, a run continues exactly where its checkpoint left off (same
// data order, augmentation, drop-path draws and optimiser state).
func Run(ctx context.Context, m *vit.Model, trainSet, val *data.Dataset, o Options) (Summary, error) {
	if err := o.validate(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("train: %w", err)
	}
	hasVal := val != nil && val.Len() > 0
	pre := PreprocessFor(m.Cfg)
	pre.PadCrop, pre.HFlip = o.PadCrop, o.HFlip
	loader, err := data.NewLoader(trainSet, data.LoaderConfig{BatchSize: o.Batch, DropLast: true, Shuffle: true, Seed: o.Seed, Preprocess: pre})
	if err != nil {
		return Summary{}, fmt.Errorf("train: %w", err)
	}
	params := trainable(m.Store.Params())
	opt := optim.NewAdamW(optim.DecayGroups(params, o.WeightDecay, nil), o.LR, 0.9, 0.999, 1e-8)
	perEpoch := loader.NumBatches()
	sched := optim.Cosine{Peak: o.LR, Min: o.MinLR, WarmupStart: o.MinLR,
		WarmupSteps: int(o.WarmupEpochs * float64(perEpoch)), TotalSteps: o.Epochs * perEpoch}

	st := State{Options: o}
	ckDir := filepath.Join(o.OutDir, "checkpoint")
	if o.Resume {
		if st, err = loadCheckpoint(ckDir, m, opt, o); err != nil {
			return Summary{}, err
		}
		fmt.Fprintf(o.Log, "resumed from %s at epoch %d batch %d (step %d)\n", ckDir, st.Epoch+1, st.Batch, st.Step)
	} else if _, err := os.Stat(filepath.Join(ckDir, "state.json")); err == nil {
		return Summary{}, fmt.Errorf("train: %s already holds a checkpoint: resume it (--resume) or choose another output folder", ckDir)
	}

	tp := ag.NewTape()
	save := func() error { return saveCheckpoint(ckDir, m, opt, st) }
	last := o.Epochs
	if o.StopAfter > 0 {
		last = min(last, o.StopAfter)
	}
	for st.Epoch < last {
		bar := progress.New(o.Log, fmt.Sprintf("epoch %d/%d", st.Epoch+1, o.Epochs), perEpoch)
		bar.StartAt(st.Batch)
		t0 := time.Now()
		seenAtStart, secsAtStart := st.Seen, st.EpochSecs // the epoch so far, when resumed mid-epoch
		for b, err := range loader.Epoch(st.Epoch, st.Batch) {
			if err != nil {
				return Summary{}, fmt.Errorf("train: epoch %d batch %d: %w", st.Epoch+1, st.Batch, err)
			}
			opt.LR = sched.LR(st.Step)
			rng := rand.New(rand.NewPCG(o.Seed, uint64(st.Step)+1)) // drop-path draws of this step
			tp.Reset()
			x, _ := tensor.FromSlice(b.X, b.Shape[:]...)
			logits := m.Forward(tp, ag.NewVar(x, false), rng)
			loss := nn.CrossEntropy(tp, logits, b.Labels, o.LabelSmoothing)
			if err := tp.Backward(loss); err != nil {
				return Summary{}, fmt.Errorf("train: step %d (epoch %d, batch %d): %w", st.Step+1, st.Epoch+1, b.Index+1, err)
			}
			if o.ClipNorm > 0 {
				if n := optim.ClipGradNorm(params, o.ClipNorm); math.IsNaN(n) || math.IsInf(n, 0) {
					return Summary{}, fmt.Errorf("train: step %d (epoch %d, batch %d): gradient norm is %v", st.Step+1, st.Epoch+1, b.Index+1, n)
				}
			}
			if err := opt.Update(); err != nil {
				return Summary{}, fmt.Errorf("train: step %d: %w", st.Step+1, err)
			}
			optim.ZeroGrad(params)
			st.Step++
			st.Batch = b.Index + 1
			st.LossSum += float64(loss.Value.Data[0]) * float64(len(b.Labels))
			st.Correct += CountCorrect(logits.Value, b.Labels)
			st.Seen += len(b.Labels)
			secs := secsAtStart + time.Since(t0).Seconds()
			bar.Update(st.Batch, fmt.Sprintf("loss %.4f acc %.3f lr %.2e %.0f img/s",
				st.LossSum/float64(st.Seen), float64(st.Correct)/float64(st.Seen), opt.LR,
				float64(st.Seen-seenAtStart)/time.Since(t0).Seconds()))
			if ctx.Err() != nil {
				st.EpochSecs = secs
				if err := save(); err != nil {
					return Summary{}, err
				}
				fmt.Fprintf(o.Log, "\ninterrupted at step %d; checkpoint saved in %s (resume with --resume)\n", st.Step, ckDir)
				return Summary{}, ErrInterrupted
			}
			if o.CheckpointEvery > 0 && st.Step%o.CheckpointEvery == 0 {
				st.EpochSecs = secs
				if err := save(); err != nil {
					return Summary{}, err
				}
			}
		}
		secs := secsAtStart + time.Since(t0).Seconds()
		rec := EpochRecord{Epoch: st.Epoch + 1, TrainLoss: st.LossSum / float64(max(st.Seen, 1)),
			TrainAcc: float64(st.Correct) / float64(max(st.Seen, 1)), LR: opt.LR, Seconds: secs, ImgPerS: float64(st.Seen) / secs}
		if hasVal {
			vm, err := Evaluate(m, val, o.EvalBatch)
			if err != nil {
				return Summary{}, fmt.Errorf("train: validation after epoch %d: %w", st.Epoch+1, err)
			}
			rec.ValLoss, rec.ValAcc = vm.Loss, vm.Accuracy
			fmt.Fprintf(o.Log, "epoch %d: train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.0fs, %.0f img/s\n",
				rec.Epoch, rec.TrainLoss, rec.TrainAcc, rec.ValLoss, rec.ValAcc, rec.Seconds, rec.ImgPerS)
		} else {
			fmt.Fprintf(o.Log, "epoch %d: train loss %.4f acc %.4f | no validation split | %.0fs, %.0f img/s\n",
				rec.Epoch, rec.TrainLoss, rec.TrainAcc, rec.Seconds, rec.ImgPerS)
		}
		st.History = append(st.History, rec)
		// Without a validation split the latest epoch counts as the best.
		if !hasVal || rec.ValAcc > st.BestAcc || st.BestEpoch == 0 {
			st.BestAcc, st.BestEpoch = rec.ValAcc, rec.Epoch
			if err := vit.Save(m, filepath.Join(o.OutDir, "best"), o.Checkpoint, safetensors.F32); err != nil {
				return Summary{}, fmt.Errorf("train: saving the best model: %w", err)
			}
		}
		st.Epoch++
		st.Batch, st.LossSum, st.Correct, st.Seen, st.EpochSecs = 0, 0, 0, 0, 0
		if err := save(); err != nil {
			return Summary{}, err
		}
		if err := writePlot(filepath.Join(o.OutDir, "curves.png"), st.History, o.LabelSmoothing > 0, hasVal); err != nil {
			fmt.Fprintf(o.Log, "warning: %v\n", err)
		}
	}
	sum := Summary{BestEpoch: st.BestEpoch, History: st.History, BestDir: filepath.Join(o.OutDir, "best")}
	for _, h := range st.History {
		if hasVal && h.Epoch == st.BestEpoch {
			sum.Best = Metrics{Accuracy: h.ValAcc, Loss: h.ValLoss, N: val.Len()}
		}
	}
	return sum, nil
}

func trainable(ps []*ag.Var) []*ag.Var {
	var out []*ag.Var
	for _, p := range ps {
		if p.RequiresGrad {
			out = append(out, p)
		}
	}
	return out
}

// saveCheckpoint writes model, optimiser and state into a fresh folder and
// swaps it in with renames, so a crash never leaves a half-written checkpoint.
func saveCheckpoint(dir string, m *vit.Model, opt *optim.AdamW, st State) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, "model.safetensors"), m.Store.Tensors(), safetensors.F32, nil); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, "optim.safetensors"), opt.State(), safetensors.F32, nil); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "state.json"), js, 0o644); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	old := dir + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return os.RemoveAll(old)
}

func loadCheckpoint(dir string, m *vit.Model, opt *optim.AdamW, o Options) (State, error) {
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
	if err := m.Store.Load(ts, false); err != nil {
		return st, fmt.Errorf("resume: %s: %w", filepath.Join(dir, "model.safetensors"), err)
	}
	ost, _, err := safetensors.ReadFile(filepath.Join(dir, "optim.safetensors"))
	if err != nil {
		return st, fmt.Errorf("resume: %w", err)
	}
	if err := opt.Load(ost); err != nil {
		return st, fmt.Errorf("resume: %s: %w", filepath.Join(dir, "optim.safetensors"), err)
	}
	st.Options = o
	return st, nil
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
