package main

import (
	"fmt"
	"io"

	"github.com/glora/glora/models/vit"
)

// runAverage writes the uniform average of several checkpoints of the same
// architecture (checkpoint averaging, a "uniform model soup"): models
// fine-tuned from one starting point usually average into a better one.
func runAverage(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("average", "average --out DIR CHECKPOINT_DIR CHECKPOINT_DIR...", stderr)
	out := fs.String("out", "", "folder to write the averaged checkpoint to (config and dialect of the first)")
	dtype := fs.String("dtype", "f32", "storage of the result: f32, f16 or bf16")
	if err := parseFlags(fs, args, 1<<20); err != nil {
		return err
	}
	if *out == "" || fs.NArg() < 2 {
		return fmt.Errorf("need --out and at least two checkpoint folders")
	}
	dt, err := parseDType(*dtype)
	if err == nil && dt == "" {
		err = fmt.Errorf("--dtype: want f32, f16 or bf16")
	}
	if err != nil {
		return err
	}
	avg, ck, err := vit.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	for _, dir := range fs.Args()[1:] {
		m, _, err := vit.Load(dir)
		if err != nil {
			return err
		}
		for _, p := range avg.Store.Params() {
			q, ok := m.Store.Get(p.Name)
			if !ok || len(q.Value.Data) != len(p.Value.Data) {
				return fmt.Errorf("%s: tensor %q differs from %s's: the checkpoints must share one architecture", dir, p.Name, fs.Arg(0))
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
	if err := vit.Save(avg, *out, ck, dt); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the average of %d checkpoints to %s\n", fs.NArg(), *out)
	return nil
}
