// Package lmtrain trains LLaMA-style decoders on token streams: next-token
// cross-entropy on windows cut from the stream, AdamW with a cosine
// schedule, validation perplexity, the best model kept, checkpoints that
// resume exactly, and a progress bar.
//
// A step's windows are drawn by a source seeded by (Seed, step) alone, and
// the step itself runs on train.Trainer (whose per-step sources are seeded
// the same way), so a run resumed from a checkpoint takes exactly the steps
// an uninterrupted one would.
//
// A long run's peak memory depends on Go's collector as much as on the
// step: see "Memory in long runs" in package pipeline (the glora command
// collects at 10% heap growth; a Go program can call
// runtime/debug.SetGCPercent(10)).
package lmtrain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/internal/progress"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// Options configure Train. The json names are state.json's.
type Options struct {
	OutDir      string  `json:"-"`
	Steps       int     `json:"steps"`        // optimiser steps
	Batch       int     `json:"batch"`        // windows per step
	SeqLen      int     `json:"seq_len"`      // tokens per window (≤ the model's max_position_embeddings)
	LR          float64 `json:"lr"`           // peak learning rate
	MinLR       float64 `json:"min_lr"`       // cosine floor
	WarmupSteps int     `json:"warmup_steps"` // linear warm-up from MinLR
	WeightDecay float64 `json:"weight_decay"` // AdamW, on matrices only (not norms)
	ClipNorm    float64 `json:"clip_norm"`    // 0 = no clipping
	Seed        uint64  `json:"seed"`
	EvalEvery   int     `json:"eval_every"` // steps between validations and checkpoints (0: Steps/10)
	// EvalTokens caps the validation tokens read per evaluation (0: all).
	EvalTokens int `json:"eval_tokens"`
	// StopAfter ends the run after this many steps of the schedule (0 =
	// all); Resume continues it.
	StopAfter int  `json:"-"`
	Resume    bool `json:"-"`
	// Data names the token streams (a data spec and tokenizer), recorded in
	// state.json and compared on resume.
	Data string `json:"data,omitempty"`
	// SaveExtra, if set, is called with every model folder Train writes
	// (best/, checkpoint/model/), e.g. to put the tokenizer beside it.
	SaveExtra func(dir string) error `json:"-"`
	// SaveBest, if set, writes the best model to dir instead of the
	// default (the model as a Hugging Face folder, then SaveExtra): e.g.
	// an adapter and the merged model.
	SaveBest func(dir string) error `json:"-"`
	// Extra are trainable parameters outside the model's Store that its
	// forward pass uses (an adapter's); checkpoints hold them too. Freeze
	// the model's own parameters (RequiresGrad false) to train only these.
	Extra []*ag.Var `json:"-"`
	// BeforeEval, if set, runs before each validation (a supernet fixes the
	// structure it is validated with; the next step's Hook draws again).
	BeforeEval func() error `json:"-"`
	// Hook runs at the start of each step (train.Trainer.Hook).
	Hook      train.Hook       `json:"-"`
	Precision tensor.Precision `json:"-"`
	Log       io.Writer        `json:"-"`
	// Ctx, when done, ends the run after the step in progress: a checkpoint
	// of that step is written (with OutDir) and Train returns Ctx's error,
	// so that Resume continues exactly there.
	Ctx context.Context `json:"-"`
}

// Record is one validation point of a run.
type Record struct {
	Step      int     `json:"step"` // optimiser steps taken
	TrainLoss float64 `json:"train_loss"`
	ValLoss   float64 `json:"val_loss"`
	ValPPL    float64 `json:"val_ppl"`
	LR        float64 `json:"lr"`
	Seconds   float64 `json:"seconds"` // training time since the previous record
	TokPerS   float64 `json:"train_tok_per_s"`
}

// Summary is what a run did.
type Summary struct {
	BestStep    int      `json:"best_step"`
	BestValLoss float64  `json:"best_val_loss"`
	BestValPPL  float64  `json:"best_val_ppl"`
	History     []Record `json:"history"`
	BestDir     string   `json:"best_dir"`
	Stopped     bool     `json:"stopped,omitempty"` // StopAfter ended it early
}

func (o *Options) validate(cfg llama.Config, nTrain, nVal int) error {
	switch {
	case o.Steps <= 0 || o.Batch <= 0 || o.SeqLen <= 1:
		return fmt.Errorf("lmtrain: steps %d, batch %d and seq-len %d must be positive (seq-len > 1)", o.Steps, o.Batch, o.SeqLen)
	case o.SeqLen > cfg.MaxSeq:
		return fmt.Errorf("lmtrain: seq-len %d exceeds the model's max_position_embeddings %d", o.SeqLen, cfg.MaxSeq)
	case !(o.LR > 0) || o.MinLR < 0 || o.MinLR > o.LR || o.WarmupSteps < 0 || o.WarmupSteps > o.Steps:
		return fmt.Errorf("lmtrain: lr %g, min-lr %g, warm-up %d steps of %d do not make a schedule", o.LR, o.MinLR, o.WarmupSteps, o.Steps)
	case o.WeightDecay < 0 || o.ClipNorm < 0 || o.EvalEvery < 0 || o.EvalTokens < 0 || o.StopAfter < 0:
		return errors.New("lmtrain: weight decay, clip norm, eval-every, eval-tokens and stop-after must be ≥ 0")
	case nTrain < o.SeqLen+1:
		return fmt.Errorf("lmtrain: %d training tokens do not fill one window of %d", nTrain, o.SeqLen+1)
	case nVal < 2:
		return fmt.Errorf("lmtrain: %d validation tokens: at least 2 are needed", nVal)
	}
	if o.EvalEvery == 0 {
		o.EvalEvery = max(1, o.Steps/10)
	}
	return nil
}

// Train trains m on the train token stream, validating on val every
// EvalEvery steps (and at the end). The model with the lowest validation
// loss is written to OutDir/best (a Hugging Face folder, with ck's extra
// config keys); OutDir/checkpoint holds the latest checkpoint (model,
// optimiser state, state.json) when OutDir is set. m ends with the weights
// of the last step.
func Train(m *llama.Model, ck llama.Checkpoint, trainTok, valTok []int32, o Options) (Summary, error) {
	if err := o.validate(m.Cfg, len(trainTok), len(valTok)); err != nil {
		return Summary{}, err
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	for i, id := range trainTok {
		if id < 0 || int(id) >= m.Cfg.VocabSize {
			return Summary{}, fmt.Errorf("lmtrain: training token %d at %d is outside the vocabulary of %d", id, i, m.Cfg.VocabSize)
		}
	}
	lm := llama.CausalLM{Model: m, Extra: o.Extra}
	opt := NewAdamW(lm.Params(), o.LR, o.WeightDecay)
	tr := train.NewTrainer(lm, opt)
	tr.ClipNorm, tr.Seed, tr.Hook, tr.Precision = o.ClipNorm, o.Seed, o.Hook, o.Precision
	sched := optim.Cosine{Peak: o.LR, Min: o.MinLR, WarmupStart: o.MinLR, WarmupSteps: o.WarmupSteps, TotalSteps: o.Steps}
	tr.LR = sched.LR

	st := state{Options: o, BestLoss: math.Inf(1)}
	if o.Resume {
		var err error
		if st, err = resume(m, opt, o); err != nil {
			return Summary{}, err
		}
		fmt.Fprintf(log, "resuming at step %d of %d\n", st.Step, o.Steps)
	}
	end := o.Steps
	if o.StopAfter > 0 {
		end = min(end, o.StopAfter)
	}
	bar := progress.New(log, "train", o.Steps)
	bar.StartAt(st.Step)
	x := tensor.New(o.Batch, o.SeqLen)
	xv := ag.NewVar(x, false)
	lossSum, lossN := st.LossSum, st.LossN // a run stopped between validations resumes its average
	t0 := time.Now()
	tokens := 0
	for st.Step < end {
		if o.Ctx != nil && o.Ctx.Err() != nil {
			bar.Finish()
			st.LossSum, st.LossN = lossSum, lossN
			if o.OutDir != "" {
				if err := saveCheckpoint(m, ck, opt, st, o); err != nil {
					return Summary{}, err
				}
				fmt.Fprintf(log, "stopped at step %d; checkpoint written: --resume continues\n", st.Step)
			}
			return Summary{}, fmt.Errorf("lmtrain: %w", context.Cause(o.Ctx))
		}
		starts := windowStarts(len(trainTok), o.SeqLen, o.Batch, o.Seed, st.Step)
		xs, labels, err := llama.Windows(trainTok, starts, o.SeqLen)
		if err != nil {
			return Summary{}, err
		}
		copy(x.Data, xs)
		r, err := tr.Step(st.Step, xv, labels)
		if err != nil {
			return Summary{}, fmt.Errorf("lmtrain: %w", err)
		}
		st.Step++
		lossSum += r.Loss
		lossN++
		tokens += len(labels)
		bar.Update(st.Step, fmt.Sprintf("loss %.3f lr %.2g", r.Loss, r.LR))
		if st.Step%o.EvalEvery != 0 && st.Step != o.Steps && st.Step != end {
			continue
		}
		secs := time.Since(t0).Seconds()
		rec := Record{Step: st.Step, TrainLoss: lossSum / float64(lossN), LR: r.LR, Seconds: secs, TokPerS: float64(tokens) / secs}
		bar.Finish()
		if err := validateAndSave(m, ck, opt, &st, valTok, o, rec, log); err != nil {
			return Summary{}, err
		}
		lossSum, lossN, tokens, t0 = 0, 0, 0, time.Now()
		bar = progress.New(log, "train", o.Steps)
		bar.StartAt(st.Step)
	}
	s := Summary{BestStep: st.BestStep, BestValLoss: st.BestLoss, BestValPPL: math.Exp(st.BestLoss),
		History: st.History, Stopped: st.Step < o.Steps}
	if o.OutDir != "" {
		s.BestDir = bestDir(o.OutDir)
	}
	return s, nil
}

// validateAndSave scores the validation tokens at st.Step, completes and
// records rec (the step's history entry), writes the best model when the
// validation loss improved and, with an OutDir, the checkpoint and the
// curves.
func validateAndSave(m *llama.Model, ck llama.Checkpoint, opt *optim.AdamW, st *state, valTok []int32, o Options, rec Record, log io.Writer) error {
	if o.BeforeEval != nil {
		if err := o.BeforeEval(); err != nil {
			return fmt.Errorf("lmtrain: %w", err)
		}
	}
	ev, err := Evaluate(m, valTok, o.SeqLen, o.Batch, o.EvalTokens, o.Precision)
	if err != nil {
		return err
	}
	rec.ValLoss, rec.ValPPL = ev.Loss, ev.PPL
	st.History = append(st.History, rec)
	fmt.Fprintf(log, "step %d: train loss %.4f, val loss %.4f (perplexity %.2f), %.0f tok/s\n",
		rec.Step, rec.TrainLoss, rec.ValLoss, rec.ValPPL, rec.TokPerS)
	if ev.Loss < st.BestLoss {
		st.BestLoss, st.BestStep = ev.Loss, st.Step
		if o.OutDir != "" {
			save := func(dir string) error { return saveModel(m, ck, dir, o.SaveExtra) }
			if o.SaveBest != nil {
				save = o.SaveBest
			}
			if err := atomicfile.WriteDir(bestDir(o.OutDir), save); err != nil {
				return err
			}
		}
	}
	st.LossSum, st.LossN = 0, 0
	if o.OutDir == "" {
		return nil
	}
	if err := saveCheckpoint(m, ck, opt, *st, o); err != nil {
		return err
	}
	return writeCurves(filepath.Join(o.OutDir, "curves.png"), st.History)
}

// NewAdamW is the optimiser of every lmtrain run: AdamW with betas 0.9 and
// 0.95, eps 1e-8, weight decay wd on matrices only (not the RMSNorm
// weights or other vectors), peak learning rate lr.
func NewAdamW(params []*ag.Var, lr, wd float64) *optim.AdamW {
	return optim.NewAdamW(optim.DecayGroups(params, wd, noDecay), lr, 0.9, 0.95, 1e-8)
}

// noDecay exempts vectors (the RMSNorm weights) from weight decay.
func noDecay(p *ag.Var) bool { return len(p.Value.Shape) < 2 }

// windowStarts draws B window starts for step from a source seeded by
// (seed, step) alone.
func windowStarts(n, seqLen, B int, seed uint64, step int) []int {
	rng := rand.New(rand.NewPCG(seed^0x6c6d747261696e, uint64(step)))
	starts := make([]int, B)
	for i := range starts {
		starts[i] = rng.IntN(n - seqLen)
	}
	return starts
}

// Eval is a model's next-token loss on a token stream.
type Eval struct {
	Loss    float64 // mean cross-entropy per predicted token (nats)
	PPL     float64 // perplexity, exp(Loss)
	Tokens  int     // tokens predicted
	TokPerS float64 // tokens per second of the forward passes
}

// Evaluate is the mean next-token cross-entropy of m over tokens, cut into
// consecutive windows of up to seqLen+1 tokens (each window predicts its
// last seqLen tokens from those before them, within the window), batch
// windows at a time; maxTokens > 0 reads only the first maxTokens+1.
func Evaluate(m *llama.Model, tokens []int32, seqLen, batch, maxTokens int, prec tensor.Precision) (Eval, error) {
	if maxTokens > 0 && len(tokens) > maxTokens+1 {
		tokens = tokens[:maxTokens+1]
	}
	if len(tokens) < 2 || seqLen < 1 || batch < 1 {
		return Eval{}, fmt.Errorf("lmtrain: evaluate %d tokens in windows of %d: nothing to predict", len(tokens), seqLen)
	}
	seqLen = min(seqLen, m.Cfg.MaxSeq)
	for i, id := range tokens {
		if id < 0 || int(id) >= m.Cfg.VocabSize {
			return Eval{}, fmt.Errorf("lmtrain: token %d at %d is outside the vocabulary of %d", id, i, m.Cfg.VocabSize)
		}
	}
	tp := ag.NewTape()
	tp.NoGrad, tp.Precision = true, prec
	t0 := time.Now()
	sum, n := 0.0, 0
	var starts []int
	flush := func(T int) error {
		if len(starts) == 0 {
			return nil
		}
		x, labels, err := llama.Windows(tokens, starts, T)
		if err != nil {
			return err
		}
		xt, err := tensor.FromSlice(x, len(starts), T)
		if err != nil {
			return err
		}
		tp.Reset()
		loss, _ := llama.CausalLM{Model: m}.Loss(tp, tp.Wrap(xt), labels, 0, nil) // no (B·T, vocabulary) logits held
		if err := tp.Err(); err != nil {
			return fmt.Errorf("lmtrain: evaluate: %w", err)
		}
		sum += float64(loss.Value.Data[0]) * float64(len(labels))
		n += len(labels)
		starts = starts[:0]
		return nil
	}
	full := (len(tokens) - 1) / seqLen
	for w := 0; w < full; w++ {
		starts = append(starts, w*seqLen)
		if len(starts) == batch {
			if err := flush(seqLen); err != nil {
				return Eval{}, err
			}
		}
	}
	if err := flush(seqLen); err != nil {
		return Eval{}, err
	}
	if rest := len(tokens) - 1 - full*seqLen; rest > 0 {
		starts = append(starts, full*seqLen)
		if err := flush(rest); err != nil {
			return Eval{}, err
		}
	}
	secs := time.Since(t0).Seconds()
	loss := sum / float64(n)
	return Eval{Loss: loss, PPL: math.Exp(loss), Tokens: n, TokPerS: float64(n) / secs}, nil
}
