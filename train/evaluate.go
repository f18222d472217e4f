// Package train runs glora's training loops: one training step (Trainer)
// for any Model, and Run, which pretrains or fine-tunes a model with a
// progress bar, periodic and on-interrupt checkpoints that resume exactly
// (optionally holding only the trainable tensors over a frozen base),
// best-model selection on a validation split and a PNG of the curves; and
// evaluation of a model on a dataset.
package train

import (
	"fmt"
	"io"
	"math"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/tensor"
)

// Metrics is a model's score on a dataset.
type Metrics struct {
	Accuracy float64 `json:"accuracy"` // top-1, a fraction
	Loss     float64 `json:"loss"`     // mean cross-entropy
	N        int     `json:"n"`        // images evaluated
	Correct  int     `json:"correct"`
	// Confusion[t][p] counts images of class t predicted as class p
	// (classes × logits columns).
	Confusion [][]int `json:"confusion,omitempty"`
}

// PerClass is each class's top-1 accuracy (NaN for a class with no images).
func (m Metrics) PerClass() []float64 {
	out := make([]float64, len(m.Confusion))
	for t, row := range m.Confusion {
		n := 0
		for _, v := range row {
			n += v
		}
		out[t] = math.NaN()
		if n > 0 {
			out[t] = float64(row[t]) / float64(n)
		}
	}
	return out
}

// PreprocessFor is the input pipeline a ViT wants: its channels, size and
// normalisation, and its checkpoint's resizing (bicubic and squashed
// unless its preprocessing says otherwise: see vit.Config.CropPct).
func PreprocessFor(c vit.Config) data.Preprocess {
	interp := data.Bicubic
	if c.Interpolation == "bilinear" {
		interp = data.Bilinear
	}
	return data.Preprocess{Channels: c.InChans, Height: c.ImageSize, Width: c.ImageSize,
		Interp: interp, CropPct: c.CropPct, Mean: c.Mean, Std: c.Std}
}

// InputOptions load a data set at a ViT's input: its channels and size,
// resized as PreprocessFor would (so preprocessing a batch resizes nothing
// again), with the folder loader's report of what it converted going to
// log.
func InputOptions(c vit.Config, log io.Writer) data.ResolveOptions {
	p := PreprocessFor(c)
	return data.ResolveOptions{H: p.Height, W: p.Width, Channels: p.Channels, Interp: p.Interp, CropPct: p.CropPct, Log: log}
}

// Evaluate computes top-1 accuracy and mean cross-entropy of the ViT m on
// ds, in batches, without recording gradients, with the ViT's input
// pipeline (PreprocessFor), its matrix products at precision prec.
func Evaluate(m *vit.Model, ds *data.Dataset, batch int, prec tensor.Precision) (Metrics, error) {
	if m.Head == nil {
		return Metrics{}, fmt.Errorf("evaluate: the model has no classification head")
	}
	if k := ds.NumClasses(); k > m.Cfg.NumClasses {
		return Metrics{}, fmt.Errorf("evaluate: dataset %q has %d classes, the model's head has %d", ds.Name, k, m.Cfg.NumClasses)
	}
	return EvaluateModel(m, ds, PreprocessFor(m.Cfg), batch, prec)
}

// EvaluateModel computes top-1 accuracy and mean cross-entropy of any model
// on ds, in batches of batch images prepared by pre, without recording
// gradients (Forward gets a nil rng: no drop-path). Logits with fewer
// columns than ds has classes are an error. The matrix products run at
// precision prec.
func EvaluateModel(m Model, ds *data.Dataset, pre data.Preprocess, batch int, prec tensor.Precision) (Metrics, error) {
	if ds.Len() == 0 {
		return Metrics{}, fmt.Errorf("evaluate: dataset %q is empty", ds.Name)
	}
	loader, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: batch, Preprocess: pre})
	if err != nil {
		return Metrics{}, err
	}
	tp := ag.NewTape()
	tp.NoGrad, tp.Precision = true, prec
	tally := Tally{Classes: ds.NumClasses()}
	for b, err := range loader.Epoch(0, 0) {
		if err != nil {
			return Metrics{}, err
		}
		tp.Reset()
		x, err := tensor.FromSlice(b.X, b.Shape[:]...)
		if err != nil {
			return Metrics{}, fmt.Errorf("evaluate: batch %d: %w", b.Index+1, err)
		}
		logits := m.Forward(tp, ag.NewVar(x, false), nil)
		if err := tp.Err(); err != nil {
			return Metrics{}, fmt.Errorf("evaluate: %w", err)
		}
		if s := logits.Value.Shape; len(s) != 2 || s[1] < ds.NumClasses() {
			return Metrics{}, fmt.Errorf("evaluate: dataset %q has %d classes, the model gives logits of shape %s", ds.Name, ds.NumClasses(), tensor.ShapeString(s))
		}
		loss := nn.CrossEntropy(tp, logits, b.Labels, 0)
		if err := tp.Err(); err != nil {
			return Metrics{}, fmt.Errorf("evaluate: %w", err)
		}
		tally.Add(logits.Value, b.Labels, loss.Value.Data[0])
	}
	return tally.Metrics(), nil
}

// Tally accumulates Metrics batch by batch: Add each batch's logits, labels
// and mean loss, then read Metrics.
type Tally struct {
	// Classes is the confusion matrix's rows (the labels' classes); its
	// columns are the logits'.
	Classes int
	mt      Metrics
	lossSum float64
	pred    []int
}

// Add counts a batch: logits (N, C), labels (N, each below Classes) and
// their mean cross-entropy loss.
func (t *Tally) Add(logits *tensor.Tensor, labels []int, loss float32) {
	mt := &t.mt
	t.lossSum += float64(loss) * float64(len(labels))
	if mt.Confusion == nil {
		cols := logits.Shape[len(logits.Shape)-1]
		mt.Confusion = make([][]int, t.Classes)
		for i := range mt.Confusion {
			mt.Confusion[i] = make([]int, cols)
		}
	}
	t.pred = argmaxRows(logits, t.pred[:0])
	for i, y := range labels {
		mt.Confusion[y][t.pred[i]]++
		if t.pred[i] == y {
			mt.Correct++
		}
	}
	mt.N += len(labels)
}

// Metrics is what was added: top-1 accuracy, mean loss, counts and the
// confusion matrix.
func (t *Tally) Metrics() Metrics {
	mt := t.mt
	mt.Accuracy = float64(mt.Correct) / float64(mt.N)
	mt.Loss = t.lossSum / float64(mt.N)
	return mt
}

// CountCorrect counts rows of logits (N, C) whose arg-max is the label
// (nn.CountCorrect).
func CountCorrect(logits *tensor.Tensor, labels []int) int { return nn.CountCorrect(logits, labels) }

// argmaxRows appends the arg-max column of each row of logits (N, C) to dst.
func argmaxRows(logits *tensor.Tensor, dst []int) []int {
	c := logits.Shape[len(logits.Shape)-1]
	for r := 0; r < len(logits.Data)/max(c, 1); r++ {
		dst = append(dst, nn.Argmax(logits.Data[r*c:(r+1)*c]))
	}
	return dst
}

// Probabilities is the softmax of the ViT m's logits for every image of
// ds (its labels are not read), in float64 and shifted by each row's
// maximum, in batches of batch images with the ViT's input pipeline
// (PreprocessFor), the matrix products at precision prec.
func Probabilities(m *vit.Model, ds *data.Dataset, batch int, prec tensor.Precision) ([][]float64, error) {
	if m.Head == nil {
		return nil, fmt.Errorf("probabilities: the model has no classification head")
	}
	loader, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: batch, Preprocess: PreprocessFor(m.Cfg)})
	if err != nil {
		return nil, err
	}
	tp := ag.NewTape()
	tp.NoGrad, tp.Precision = true, prec
	out := make([][]float64, 0, ds.Len())
	for b, err := range loader.Epoch(0, 0) {
		if err != nil {
			return nil, err
		}
		tp.Reset()
		x, err := tensor.FromSlice(b.X, b.Shape[:]...)
		if err != nil {
			return nil, fmt.Errorf("probabilities: batch %d: %w", b.Index+1, err)
		}
		logits := m.Forward(tp, ag.NewVar(x, false), nil)
		if err := tp.Err(); err != nil {
			return nil, fmt.Errorf("probabilities: %w", err)
		}
		c := logits.Value.Shape[1]
		for i := range b.Labels {
			out = append(out, Softmax64(logits.Value.Data[i*c:(i+1)*c]))
		}
	}
	return out, nil
}

// Softmax64 is the softmax of logits z in float64, shifted by the maximum:
// the probabilities Probabilities (and a text classifier's) report.
func Softmax64(z []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, float64(v))
	}
	p := make([]float64, len(z))
	var sum float64
	for i, v := range z {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}
