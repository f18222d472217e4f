package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
)

// Open names the setting it could not use, in a *SpecError.
func TestOpenErrorsNameTheSetting(t *testing.T) {
	for _, c := range []struct {
		spec         pipeline.Spec
		field, value string
		says         string
	}{
		{pipeline.Spec{Base: "no-such-preset", Data: "synth:count:train=40,test=10"}, "base", "", "no-such-preset"},
		{pipeline.Spec{Data: "no-such-data"}, "data", "no-such-data", "no-such-data"},
		{pipeline.Spec{}, "data", "", "no data spec given"},
		{pipeline.Spec{Data: "synth:count:train=40,test=10", Scheme: "full"}, "scheme", "full", "chooses on a validation split"},
		{pipeline.Spec{Data: "synth:count:train=40,test=10", Scheme: "sideways"}, "scheme", "sideways", "sideways"},
	} {
		_, err := pipeline.Open(c.spec, nil)
		var se *pipeline.SpecError
		if !errors.As(err, &se) || se.Field != c.field || se.Value != c.value || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Open(%+v): %v (%+v), want a %s error saying %q", c.spec, err, se, c.field, c.says)
		}
	}
}

// Open loads once; Fresh hands out the loaded model first, then clones,
// each with the same fresh head; the auto scheme holds out a tenth of a
// small training split.
func TestOpenFresh(t *testing.T) {
	task, err := pipeline.Open(pipeline.Spec{Data: "synth:count:train=100,test=10", Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if task.Scheme != "holdout" || task.Train.Len()+task.Val.Len() != 100 || task.Val.Len() == 0 || !task.NewHead || task.BaseRef != "shipped" {
		t.Fatalf("scheme %s, %d + %d images, new head %v, base %q", task.Scheme, task.Train.Len(), task.Val.Len(), task.NewHead, task.BaseRef)
	}
	if !strings.Contains(task.Describe(), "a fresh 6-class head") {
		t.Errorf("Describe: %s", task.Describe())
	}
	a, err := task.Fresh()
	if err != nil {
		t.Fatal(err)
	}
	b, err := task.Fresh()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a == task.BaseModel() || b == task.BaseModel() {
		t.Fatal("Fresh handed out a model twice, or the base itself")
	}
	if a.Cfg.NumClasses != 6 || !slices.Equal(a.Head.W.Value.Data, b.Head.W.Value.Data) {
		t.Fatal("the two fresh heads differ")
	}
	if task.BaseModel().Cfg.NumClasses != 10 {
		t.Fatalf("the base's own head changed: %d classes", task.BaseModel().Cfg.NumClasses)
	}
	if _, err := task.Test(t.TempDir(), 0); err == nil {
		t.Fatal("Test of an empty folder")
	}
}

// A task without a test split says so with ErrNoTestSplit (the CLI turns
// it into its own words).
func TestNoTestSplit(t *testing.T) {
	all, _, err := data.ResolveWith("synth:count:train=40,test=10", data.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	task, err := pipeline.NewTask(backbones.Default, "shipped", all, nil, "synth:count", "holdout", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := task.Test(t.TempDir(), 0); !errors.Is(err, pipeline.ErrNoTestSplit) {
		t.Fatalf("Test without a test split: %v", err)
	}
}

// Run: the chain, the kept model published and tested once, the report
// and the confusion plot beside it; the report names a precision other
// than f32.
func TestRun(t *testing.T) {
	task, err := pipeline.Open(pipeline.Spec{Data: "synth:count:train=100,test=20", Scheme: "holdout:0.2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, prec := range []tensor.Precision{tensor.F32, tensor.BF16} {
		reads := 0
		task.OnTest = func() { reads++ }
		dir := t.TempDir()
		r, err := pipeline.Run(context.Background(), task, pipeline.MustNamed(pipeline.Quick), pipeline.Options{Dir: dir, Precision: prec})
		if err != nil {
			t.Fatal(err)
		}
		if reads != 1 || r.NTest != 20 || r.NTrain != 80 || r.NVal != 20 || r.Method != pipeline.RunMethod || r.SupportParams > r.Budget || r.Precision != prec.String() {
			t.Fatalf("%v: %d test reads, %+v", prec, reads, r)
		}
		rep, err := os.ReadFile(filepath.Join(dir, pipeline.ReportFile))
		if err != nil || !strings.Contains(string(rep), fmt.Sprintf("| %.4f | %.4f |", r.ValAccuracy, r.TestAccuracy)) {
			t.Fatalf("report: %v\n%s", err, rep)
		}
		if said := strings.Contains(string(rep), "--precision bf16"); said != (prec == tensor.BF16) {
			t.Errorf("%v: the report names bf16: %v\n%s", prec, said, rep)
		}
		for _, f := range []string{pipeline.ConfusionFile, "search.png", filepath.Join("merged", "config.json")} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
	}
}
