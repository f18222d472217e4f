// Package train runs glora's training loops: pretraining or fine-tuning a
// ViT with a progress bar, periodic and on-interrupt checkpoints that resume
// exactly, best-model selection on a validation split and a PNG of the
// curves; and evaluation of a model on a dataset.
package train

import (
	"fmt"
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
}

// PreprocessFor is the input pipeline a ViT wants: its channels, size and
// normalisation, bicubic resizing.
func PreprocessFor(c vit.Config) data.Preprocess {
	return data.Preprocess{Channels: c.InChans, Height: c.ImageSize, Width: c.ImageSize,
		Interp: data.Bicubic, Mean: c.Mean, Std: c.Std}
}

// Evaluate computes top-1 accuracy and mean cross-entropy of m on ds, in
// batches, without recording gradients.
func Evaluate(m *vit.Model, ds *data.Dataset, batch int) (Metrics, error) {
	if ds.Len() == 0 {
		return Metrics{}, fmt.Errorf("evaluate: dataset %q is empty", ds.Name)
	}
	if m.Head == nil {
		return Metrics{}, fmt.Errorf("evaluate: the model has no classification head")
	}
	if k := ds.NumClasses(); k > m.Cfg.NumClasses {
		return Metrics{}, fmt.Errorf("evaluate: dataset %q has %d classes, the model's head has %d", ds.Name, k, m.Cfg.NumClasses)
	}
	loader, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: batch, Preprocess: PreprocessFor(m.Cfg)})
	if err != nil {
		return Metrics{}, err
	}
	tp := ag.NewTape()
	tp.NoGrad = true
	var mt Metrics
	var lossSum float64
	for b, err := range loader.Epoch(0, 0) {
		if err != nil {
			return Metrics{}, err
		}
		tp.Reset()
		x, _ := tensor.FromSlice(b.X, b.Shape[:]...)
		logits := m.Forward(tp, ag.NewVar(x, false), nil)
		loss := nn.CrossEntropy(tp, logits, b.Labels, 0)
		if err := tp.Err(); err != nil {
			return Metrics{}, err
		}
		lossSum += float64(loss.Value.Data[0]) * float64(len(b.Labels))
		mt.Correct += CountCorrect(logits.Value, b.Labels)
		mt.N += len(b.Labels)
	}
	mt.Accuracy = float64(mt.Correct) / float64(mt.N)
	mt.Loss = lossSum / float64(mt.N)
	return mt, nil
}

// CountCorrect counts rows of logits (N, C) whose arg-max is the label.
func CountCorrect(logits *tensor.Tensor, labels []int) int {
	c := logits.Shape[len(logits.Shape)-1]
	n := 0
	for i, y := range labels {
		row := logits.Data[i*c : (i+1)*c]
		best, bv := 0, float32(math.Inf(-1))
		for j, v := range row {
			if v > bv {
				best, bv = j, v
			}
		}
		if best == y {
			n++
		}
	}
	return n
}
