package lmtrain

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/internal/progress"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// Labelled is a set of token sequences with class labels.
type Labelled struct {
	IDs    [][]int // each sequence, BOS first, at most the window's length
	Labels []int
}

// EncodeLabelled tokenises each document after BOS and keeps its first
// seqLen tokens (a mail's subject and the start of its body).
func EncodeLabelled(enc Encoder, docs []string, labels []int, seqLen int) (Labelled, error) {
	if len(docs) != len(labels) {
		return Labelled{}, fmt.Errorf("lmtrain: %d documents, %d labels", len(docs), len(labels))
	}
	out := Labelled{Labels: slices.Clone(labels)}
	for i, d := range docs {
		ids, err := enc.Encode(d, true, false)
		if err != nil {
			return Labelled{}, fmt.Errorf("lmtrain: document %d: %w", i, err)
		}
		if len(ids) == 0 {
			return Labelled{}, fmt.Errorf("lmtrain: document %d encodes to no token", i)
		}
		out.IDs = append(out.IDs, ids[:min(len(ids), seqLen)])
	}
	return out, nil
}

// batchOf packs sequences idx of d into a (B, T) Classifier batch, T the
// longest, PadID after each, and their labels (zeros where d has none).
func batchOf(d Labelled, idx []int) (*tensor.Tensor, []int) {
	T := 0
	for _, i := range idx {
		T = max(T, len(d.IDs[i]))
	}
	x := tensor.New(len(idx), T)
	labels := make([]int, len(idx))
	for r, i := range idx {
		row := x.Data[r*T : (r+1)*T]
		for t := range row {
			row[t] = llama.PadID
		}
		for t, id := range d.IDs[i] {
			row[t] = float32(id)
		}
		if d.Labels != nil {
			labels[r] = d.Labels[i]
		}
	}
	return x, labels
}

// Accuracy is c's top-1 accuracy and mean loss on d, batch sequences at a
// time.
func Accuracy(c *llama.Classifier, d Labelled, batch int, prec tensor.Precision) (acc, loss float64, err error) {
	mt, err := Score(c, d, batch, prec)
	return mt.Accuracy, mt.Loss, err
}

// Probabilities is c's class probabilities (train.Softmax64 of the
// logits) for each sequence of d (its labels are not read), batch
// sequences at a time.
func Probabilities(c *llama.Classifier, d Labelled, batch int, prec tensor.Precision) ([][]float64, error) {
	classes := c.Score.W.Value.Shape[0]
	out := make([][]float64, 0, len(d.IDs))
	err := forBatches(c, d, batch, prec, func(_ *ag.Tape, logits *ag.Var, labels []int) {
		for r := range labels {
			out = append(out, train.Softmax64(logits.Value.Data[r*classes:(r+1)*classes]))
		}
	})
	return out, err
}

// Score is c's top-1 accuracy, mean loss and confusion matrix
// (Confusion[t][p]: sequences of class t predicted as p) on d, batch
// sequences at a time.
func Score(c *llama.Classifier, d Labelled, batch int, prec tensor.Precision) (train.Metrics, error) {
	if len(d.IDs) == 0 {
		return train.Metrics{}, fmt.Errorf("lmtrain: no sequences to score")
	}
	classes := c.Score.W.Value.Shape[0]
	for i, l := range d.Labels {
		if l < 0 || l >= classes {
			return train.Metrics{}, fmt.Errorf("lmtrain: sequence %d's label %d is outside the classifier's %d classes", i, l, classes)
		}
	}
	tally := train.Tally{Classes: classes}
	err := forBatches(c, d, batch, prec, func(tp *ag.Tape, logits *ag.Var, labels []int) {
		l := nn.CrossEntropy(tp, logits, labels, 0)
		if tp.Err() == nil {
			tally.Add(logits.Value, labels, l.Value.Data[0])
		}
	})
	if err != nil {
		return train.Metrics{}, err
	}
	return tally.Metrics(), nil
}

// forBatches runs c without gradients on d's sequences, batch at a time
// in order, and hands fn each batch's logits (rows, classes) and labels
// (d's, or zeros where d has none) on the tape it used; an error on the
// tape after fn stops it.
func forBatches(c *llama.Classifier, d Labelled, batch int, prec tensor.Precision, fn func(tp *ag.Tape, logits *ag.Var, labels []int)) error {
	tp := ag.NewTape()
	tp.NoGrad, tp.Precision = true, prec
	for lo := 0; lo < len(d.IDs); lo += batch {
		idx := make([]int, 0, batch)
		for i := lo; i < min(lo+batch, len(d.IDs)); i++ {
			idx = append(idx, i)
		}
		x, labels := batchOf(d, idx)
		tp.Reset()
		logits := c.Forward(tp, tp.Wrap(x), nil)
		if err := tp.Err(); err != nil {
			return fmt.Errorf("lmtrain: %w", err)
		}
		fn(tp, logits, labels)
		if err := tp.Err(); err != nil {
			return fmt.Errorf("lmtrain: %w", err)
		}
	}
	return nil
}

// ClassifyRecord is one validation point of a classification run.
type ClassifyRecord struct {
	Step      int     `json:"step"`
	TrainLoss float64 `json:"train_loss"`
	ValAcc    float64 `json:"val_accuracy"`
	ValLoss   float64 `json:"val_loss"`
	Seconds   float64 `json:"seconds"`
}

// ClassifySummary is what a classification run did.
type ClassifySummary struct {
	BestStep   int              `json:"best_step"`
	BestValAcc float64          `json:"best_val_accuracy"`
	History    []ClassifyRecord `json:"history"`
}

// Classify fine-tunes m as a classifier of train (a fresh head of classes
// outputs on the last token, plus the method's tensors: FinetuneOptions'
// Method, Rank, Targets), for o.Steps steps of o.Batch sequences drawn by a
// source seeded by (Seed, step); validation accuracy every EvalEvery steps
// chooses the step whose weights the classifier ends with. o.OutDir,
// Resume and StopAfter are not used: a run is minutes, not resumable.
func Classify(m *llama.Model, classes int, trainSet, val Labelled, fo FinetuneOptions) (ClassifySummary, *llama.Classifier, *Tuned, error) {
	if err := checkClassify(classes, trainSet, val, fo.Options); err != nil {
		return ClassifySummary{}, nil, nil, err
	}
	t, err := Attach(m, fo)
	if err != nil {
		return ClassifySummary{}, nil, nil, err
	}
	c, err := newHead(m, classes, fo.Seed, fo.Head)
	if err != nil {
		return ClassifySummary{}, nil, nil, err
	}
	c.Extra = t.extra()
	s, err := fitClassifier(c, trainSet, val, fo.Options, true)
	if err != nil {
		return ClassifySummary{}, nil, nil, err
	}
	return s, c, t, nil
}

// newHead is the classifier's head: a fresh one seeded by the run's seed,
// or a copy of head (classes, D) when it is not nil.
func newHead(m *llama.Model, classes int, seed uint64, head *tensor.Tensor) (*llama.Classifier, error) {
	c, err := llama.NewClassifier(m, classes, rand.New(rand.NewPCG(seed, 0x73636f7265)))
	if err != nil || head == nil {
		return c, err
	}
	w := c.Score.W.Value
	if !slices.Equal(head.Shape, w.Shape) {
		return nil, fmt.Errorf("lmtrain: the head to start from is %s, want (%d classes, width %d)", tensor.ShapeString(head.Shape), classes, m.Cfg.Dim)
	}
	copy(w.Data, head.Data)
	return c, nil
}

// checkClassify refuses options and sets that make no classification run.
func checkClassify(classes int, trainSet, val Labelled, o Options) error {
	if o.Steps <= 0 || o.Batch <= 0 || !(o.LR > 0) || o.MinLR < 0 || o.WarmupSteps < 0 || o.WarmupSteps > o.Steps {
		return fmt.Errorf("lmtrain: steps %d, batch %d, lr %g, warm-up %d do not make a run", o.Steps, o.Batch, o.LR, o.WarmupSteps)
	}
	if len(trainSet.IDs) == 0 || len(val.IDs) == 0 {
		return fmt.Errorf("lmtrain: %d training and %d validation sequences: both are needed", len(trainSet.IDs), len(val.IDs))
	}
	for _, l := range slices.Concat(trainSet.Labels, val.Labels) {
		if l < 0 || l >= classes {
			return fmt.Errorf("lmtrain: label %d outside %d classes", l, classes)
		}
	}
	return nil
}

// fitClassifier trains c's trainable parameters (c.Params() that require
// gradients) as Classify describes, o.Hook drawing at each step and
// o.BeforeEval running before each validation. With keepBest the
// classifier ends with the weights of the step of best validation
// accuracy, else with the last step's.
func fitClassifier(c *llama.Classifier, trainSet, val Labelled, o Options, keepBest bool) (ClassifySummary, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	every := o.EvalEvery
	if every <= 0 {
		every = max(1, o.Steps/10)
	}
	opt := NewAdamW(c.Params(), o.LR, o.WeightDecay)
	tr := train.NewTrainer(c, opt)
	tr.ClipNorm, tr.Seed, tr.Precision, tr.Hook = o.ClipNorm, o.Seed, o.Precision, o.Hook
	tr.LR = optim.Cosine{Peak: o.LR, Min: o.MinLR, WarmupStart: o.MinLR, WarmupSteps: o.WarmupSteps, TotalSteps: o.Steps}.LR
	trainable := slices.DeleteFunc(c.Params(), func(p *ag.Var) bool { return !p.RequiresGrad })
	best := make([][]float32, len(trainable))
	s := ClassifySummary{BestValAcc: -1}
	bar := progress.New(log, "train", o.Steps)
	lossSum, lossN, t0 := 0.0, 0, time.Now()
	for step := 0; step < o.Steps; step++ {
		if o.Ctx != nil && o.Ctx.Err() != nil {
			return ClassifySummary{}, o.Ctx.Err()
		}
		rng := rand.New(rand.NewPCG(o.Seed^0x636c6173, uint64(step)))
		idx := make([]int, o.Batch)
		for i := range idx {
			idx[i] = rng.IntN(len(trainSet.IDs))
		}
		x, labels := batchOf(trainSet, idx)
		r, err := tr.Step(step, ag.NewVar(x, false), labels)
		if err != nil {
			return ClassifySummary{}, fmt.Errorf("lmtrain: %w", err)
		}
		lossSum += r.Loss
		lossN++
		bar.Update(step+1, fmt.Sprintf("loss %.3f", r.Loss))
		if (step+1)%every != 0 && step+1 != o.Steps {
			continue
		}
		if o.BeforeEval != nil {
			if err := o.BeforeEval(); err != nil {
				return ClassifySummary{}, err
			}
		}
		acc, vl, err := Accuracy(c, val, o.Batch, o.Precision)
		if err != nil {
			return ClassifySummary{}, err
		}
		rec := ClassifyRecord{Step: step + 1, TrainLoss: lossSum / float64(lossN), ValAcc: acc, ValLoss: vl, Seconds: time.Since(t0).Seconds()}
		s.History = append(s.History, rec)
		bar.Finish()
		fmt.Fprintf(log, "step %d: train loss %.4f, val accuracy %.4f (loss %.4f)\n", rec.Step, rec.TrainLoss, acc, vl)
		if acc > s.BestValAcc {
			s.BestValAcc, s.BestStep = acc, rec.Step
			for i, p := range trainable {
				best[i] = append(best[i][:0], p.Value.Data...)
			}
		}
		lossSum, lossN, t0 = 0, 0, time.Now()
		bar = progress.New(log, "train", o.Steps)
		bar.StartAt(step + 1)
	}
	if keepBest {
		for i, p := range trainable {
			copy(p.Value.Data, best[i])
		}
	}
	return s, nil
}

// ClassifyRun is what RunClassify did.
type ClassifyRun struct {
	Summary    ClassifySummary       // the run that chose the classifier (searched: the retraining)
	Search     *ClassifySearchResult // method searched's record, else nil
	Classifier *llama.Classifier
	Tuned      *Tuned
	// Test is the test set's reading, once, after every choice: accuracy,
	// loss, confusion matrix.
	Test      train.Metrics
	Trainable int // the method's parameters and the head's
}

// RunClassify is a classification task end to end: fo's method (Classify)
// or, with so, searched GLoRA (SearchClassify) trained on train with every
// choice on val; then test read once; then the classifier, its adapter
// merged, written to dir as a LlamaForSequenceClassification folder whose
// classes are labels.
func RunClassify(m *llama.Model, ck llama.Checkpoint, labels []string, train, val, test Labelled, fo FinetuneOptions, so *SearchOptions, dir string) (ClassifyRun, error) {
	var r ClassifyRun
	if so != nil {
		res, c, t, err := SearchClassify(m, len(labels), train, val, *so)
		if err != nil {
			return ClassifyRun{}, err
		}
		r.Summary, r.Search, r.Classifier, r.Tuned = res.Retrain, &res, c, t
	} else {
		s, c, t, err := Classify(m, len(labels), train, val, fo)
		if err != nil {
			return ClassifyRun{}, err
		}
		r.Summary, r.Classifier, r.Tuned = s, c, t
	}
	mt, err := Score(r.Classifier, test, fo.Batch, fo.Precision)
	if err != nil {
		return ClassifyRun{}, err
	}
	r.Test = mt
	r.Trainable = r.Tuned.Trainable() + r.Classifier.Score.W.Value.Numel()
	if err := r.Tuned.SaveClassifier(dir, r.Classifier, ck, labels); err != nil {
		return ClassifyRun{}, err
	}
	return r, nil
}
