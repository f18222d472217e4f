package reference_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// vitMNISTDir is the timm hub folder written by train_vit_mnist.py: a tiny
// ViT trained on MNIST in PyTorch, with torch's test-set results.
var vitMNISTDir = filepath.Join("..", "testdata", "ref", "vit-mnist")

// vitMNISTExpected is expected.json: torch's float32 evaluation on the
// 10,000 MNIST test images.
type vitMNISTExpected struct {
	Accuracy     float64 `json:"accuracy"`
	Correct      int     `json:"correct"`
	N            int     `json:"n"`
	Loss         float64 `json:"loss"`
	LogitsImages int     `json:"logits_images"`
	Torch        string  `json:"torch"`
}

const (
	vitMNISTLogitTol = 1e-4 // |glora − torch| per logit
	// vitMNISTTieTol: an image on which glora and torch pick different
	// classes is accepted only when, in glora's logits, torch's class is
	// within this of glora's (an arg-max near-tie that float32 rounding
	// can flip); at most vitMNISTMaxTies such images.
	vitMNISTTieTol  = 2 * vitMNISTLogitTol
	vitMNISTMaxTies = 2
)

// TestViTMNISTMatchesTorch loads a ViT trained in PyTorch (timm names and
// config dialect) with vit.Load and checks that glora evaluates it on the
// MNIST test split exactly as torch did: the same correct count via
// train.Evaluate, the same prediction per image, the same mean loss, and
// the same logits on the first images.
func TestViTMNISTMatchesTorch(t *testing.T) {
	var exp vitMNISTExpected
	raw, err := os.ReadFile(filepath.Join(vitMNISTDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	ref, _, err := safetensors.ReadFile(filepath.Join(vitMNISTDir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	wantLogits, wantPred := ref["logits"], ref["pred"]
	if wantLogits == nil || wantPred == nil {
		t.Fatal("expected.safetensors lacks logits or pred")
	}

	m, ck, err := vit.Load(vitMNISTDir)
	if err != nil {
		t.Fatalf("vit.Load: %v", err)
	}
	c := m.Cfg
	if c.ImageSize != 28 || c.PatchSize != 7 || c.InChans != 1 || c.Dim != 32 || c.Depth != 2 || c.Heads != 2 ||
		c.MLPDim() != 64 || c.NumClasses != 10 || !c.QKVBias || c.LNEps != 1e-6 || c.TanhGELU ||
		len(c.Mean) != 1 || c.Mean[0] != 0.1307 || len(c.Std) != 1 || c.Std[0] != 0.3081 {
		t.Fatalf("config read as %+v, want timm's model_args (28/7/1ch, dim 32, depth 2, 2 heads, mlp 64, 10 classes, eps 1e-6, erf GELU, mean 0.1307, std 0.3081)", c)
	}
	if ck.Dialect != vit.Timm {
		t.Errorf("dialect %v, want timm", ck.Dialect)
	}

	_, test, err := data.MNIST()
	if err != nil {
		t.Skipf("MNIST is not available, skipping the torch cross-check: %v", err)
	}
	if test.Len() != exp.N || wantPred.Shape[0] != exp.N {
		t.Fatalf("MNIST test split has %d images, torch evaluated %d (pred has %d)", test.Len(), exp.N, wantPred.Shape[0])
	}

	// 1. The public evaluation path: train.Evaluate.
	mt, err := train.Evaluate(m, test, 500, tensor.F32)
	if err != nil {
		t.Fatalf("train.Evaluate: %v", err)
	}
	t.Logf("MNIST test accuracy: torch %s %.4f (%d/%d), glora %.4f (%d/%d)",
		exp.Torch, exp.Accuracy, exp.Correct, exp.N, mt.Accuracy, mt.Correct, mt.N)
	t.Logf("mean cross-entropy:  torch %.6f, glora %.6f", exp.Loss, mt.Loss)
	if mt.N != exp.N {
		t.Fatalf("evaluated %d images, want %d", mt.N, exp.N)
	}
	if d := math.Abs(mt.Loss - exp.Loss); d > 1e-4*(1+exp.Loss) {
		t.Errorf("mean loss %.6f, torch %.6f (diff %.3g)", mt.Loss, exp.Loss, d)
	}

	// 2. Per image: glora's arg-max against torch's, over the whole split.
	logits, err := vitLogits(m, test, 500)
	if err != nil {
		t.Fatal(err)
	}
	k := c.NumClasses
	var ties []string
	differ := 0
	for i := 0; i < exp.N; i++ {
		row := logits.Data[i*k : (i+1)*k]
		g, p := argmax(row), int(wantPred.Data[i])
		if g == p {
			continue
		}
		differ++
		gap := float64(row[g] - row[p])
		desc := fmt.Sprintf("image %d (label %d): glora %d, torch %d, glora's logit gap %.3g", i, test.Labels[i], g, p, gap)
		if gap > vitMNISTTieTol {
			t.Errorf("%s: not a near-tie", desc)
			continue
		}
		ties = append(ties, desc)
	}
	t.Logf("per-image arg-max: %d of %d differ from torch's (%d of them near-ties)", differ, exp.N, len(ties))
	for _, s := range ties {
		t.Logf("arg-max near-tie: %s", s)
	}
	if len(ties) > vitMNISTMaxTies {
		t.Errorf("%d predictions differ from torch's by near-ties, want at most %d", len(ties), vitMNISTMaxTies)
	}
	// The correct count must be torch's exactly, except for images that
	// are near-ties (each can move the count by one).
	if d := mt.Correct - exp.Correct; d != 0 && (len(ties) == 0 || abs(d) > len(ties)) {
		t.Errorf("correct %d, torch %d: differs by %d with %d near-ties", mt.Correct, exp.Correct, d, len(ties))
	}

	// 3. Logits of the first images against torch's.
	n := wantLogits.Shape[0]
	first := &tensor.Tensor{Shape: []int{n, k}, Data: logits.Data[:n*k]}
	checkTensor(t, fmt.Sprintf("logits[:%d]", n), first, wantLogits, vitMNISTLogitTol)
	// The same logits from a single Forward call on a batch of n images.
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	head, err := test.Subset(idx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := vitLogits(m, head, n)
	if err != nil {
		t.Fatal(err)
	}
	checkTensor(t, fmt.Sprintf("logits[:%d] batch %d", n, n), got, wantLogits, vitMNISTLogitTol)
}

// vitLogits runs m.Forward over ds in batches, with train.Evaluate's
// preprocessing, and returns the logits (N, classes).
func vitLogits(m *vit.Model, ds *data.Dataset, batch int) (*tensor.Tensor, error) {
	pre := train.PreprocessFor(m.Cfg)
	k := m.Cfg.NumClasses
	out := tensor.New(ds.Len(), k)
	tp := ag.NewTape()
	tp.NoGrad = true
	var buf []float32
	idx := make([]int, 0, batch)
	for lo := 0; lo < ds.Len(); lo += batch {
		hi := min(lo+batch, ds.Len())
		idx = idx[:0]
		for i := lo; i < hi; i++ {
			idx = append(idx, i)
		}
		var err error
		if buf, err = data.Batch(ds, idx, pre, buf); err != nil {
			return nil, err
		}
		x, err := tensor.FromSlice(buf, hi-lo, m.Cfg.InChans, m.Cfg.ImageSize, m.Cfg.ImageSize)
		if err != nil {
			return nil, err
		}
		tp.Reset()
		y := m.Forward(tp, ag.NewVar(x, false), nil)
		if err := tp.Err(); err != nil {
			return nil, fmt.Errorf("forward on images %d…%d: %w", lo, hi-1, err)
		}
		copy(out.Data[lo*k:hi*k], y.Value.Data)
	}
	return out, nil
}

// argmax returns the index of the first largest element, as torch.argmax.
func argmax(v []float32) int {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
