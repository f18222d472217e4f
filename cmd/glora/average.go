package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
)

// averageSettings are average's flags (declarative: see decl.go).
type averageSettings struct {
	Out   string `flag:"out" json:"out" help:"folder to write the averaged checkpoint to (config and dialect of the first), written as convert's --out"`
	Dtype string `flag:"dtype" json:"dtype" help:"storage of the result: f32, f16 or bf16"`
	JSON  bool   `flag:"json" json:"json" help:"print what was written as one JSON line on stdout; everything else goes to stderr"`
}

// runAverage writes the uniform average of several checkpoints of the same
// architecture (checkpoint averaging, a "uniform model soup"): models
// fine-tuned from one starting point usually average into a better one.
func runAverage(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("average", "average --out DIR MODEL MODEL... [--json]   (MODEL: a checkpoint folder, or shipped)", stderr)
	s := averageSettings{Dtype: "f32"}
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 1<<20); err != nil {
		return err
	}
	if s.Out == "" || fs.NArg() < 2 {
		return fmt.Errorf("need --out and at least two checkpoint folders")
	}
	dt, err := parseDType(s.Dtype)
	if err == nil && dt == "" {
		err = fmt.Errorf("--dtype: want f32, f16 or bf16")
	}
	if err != nil {
		return err
	}
	avg, ck, _, err := loadModel(fs.Arg(0), 0)
	if err != nil {
		return err
	}
	for _, dir := range fs.Args()[1:] {
		m, mck, _, err := loadModel(dir, 0)
		if err != nil {
			return err
		}
		ck.Training = mergeRecords(ck.Training, mck.Training)
		for _, p := range avg.Store.Params() {
			q, ok := m.Store.Get(p.Name)
			if !ok {
				return fmt.Errorf("%s has no tensor %q, which %s has: the checkpoints must share one architecture", dir, p.Name, fs.Arg(0))
			}
			if !slices.Equal(q.Value.Shape, p.Value.Shape) {
				return fmt.Errorf("%s: tensor %q is %s, %s in %s: the checkpoints must share one architecture (and head)",
					dir, p.Name, tensor.ShapeString(q.Value.Shape), tensor.ShapeString(p.Value.Shape), fs.Arg(0))
			}
			for i, v := range q.Value.Data {
				p.Value.Data[i] += v
			}
		}
	}
	inv := 1 / float32(fs.NArg())
	for _, p := range avg.Store.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] *= inv
		}
	}
	if err := vit.SaveFresh(avg, s.Out, ck, dt); err != nil {
		return fmt.Errorf("--out %s: %w", s.Out, err)
	}
	if s.JSON {
		fmt.Fprintln(stdout, jsonLine(map[string]any{"out": s.Out, "models": fs.Args(), "dtype": dt}))
		return nil
	}
	fmt.Fprintf(stdout, "wrote the average of %d checkpoints to %s\n", fs.NArg(), s.Out)
	return nil
}

// mergeRecords is the training record of an average of two models: the
// common one; on the same data with other splits, scheme full (together
// they have seen images outside either split's training part); on other
// data, none can say.
func mergeRecords(a, b *vit.TrainingInfo) *vit.TrainingInfo {
	switch {
	case a == nil || b == nil:
		return nil
	case *a == *b:
		return a
	case data.SameTraining(a.Data, b.Data):
		return &vit.TrainingInfo{Data: a.Data, Scheme: "full", SplitSeed: a.SplitSeed}
	}
	return nil
}
