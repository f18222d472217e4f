package backbones

import (
	"slices"
	"testing"

	"github.com/glora/glora/data"
	"github.com/glora/glora/train"
)

func TestDefaultLoads(t *testing.T) {
	m, ck, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	c := m.Cfg
	if c.NumClasses != 10 || c.InChans != 1 || c.ImageSize != 28 {
		t.Fatalf("shipped backbone config %+v: want 10 classes, 1×28×28 input", c)
	}
	if n := m.Store.Count(false); n < 500_000 || n > 3_000_000 {
		t.Fatalf("shipped backbone has %d parameters, want about 1–3 M", n)
	}
	if !slices.Equal(ck.Labels, data.FashionMNISTClasses) {
		t.Fatalf("shipped backbone's class names %q, want Fashion-MNIST's %q", ck.Labels, data.FashionMNISTClasses)
	}
	t.Logf("%s: %d parameters, %s dialect, stored as %s", DefaultName, m.Store.Count(false), ck.Dialect, ck.DType)
}

// The shipped backbone scored 0.9084 top-1 on Fashion-MNIST's test split (f16
// weights); evaluation must reproduce that, give or take a few images whose
// arg-max another CPU's rounding could flip (the goal was ≥ 0.90).
func TestDefaultAccuracyOnFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates 10,000 images")
	}
	_, test, err := data.FashionMNIST()
	if err != nil {
		t.Skipf("Fashion-MNIST not available: %v", err)
	}
	m, _, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := train.Evaluate(m, test, 500)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %.4f (%d/%d), loss %.4f", mt.Accuracy, mt.Correct, mt.N, mt.Loss)
	if mt.N != 10000 || mt.Correct < 9080 {
		t.Fatalf("shipped backbone: accuracy %.4f on %d test images, want ≥ 0.9080 on 10000 (it shipped with 0.9084)", mt.Accuracy, mt.N)
	}
}

func TestUnknownBackbone(t *testing.T) {
	if _, _, err := Load("vit-nonexistent"); err == nil {
		t.Fatal("want an error for an unknown backbone")
	}
}

// The shipped backbone records that it was trained on the whole of
// Fashion-MNIST's training split, so that no command scores its "val".
func TestDefaultRecordsItsTraining(t *testing.T) {
	_, ck, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if r := ck.Training; r == nil || r.Data != "fashion-mnist" || r.Scheme != "full" {
		t.Fatalf("training record %+v, want fashion-mnist, scheme full", r)
	}
}
