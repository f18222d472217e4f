package pipeline

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/glora/glora/train"
)

// Compared is one method of a Compare: what it trained and kept, and,
// once every method has finished, its kept model's score on the test
// split.
type Compared struct {
	Method string
	*Outcome
	Test train.Metrics // zero when Compare did not read the test split
}

// Compare trains each of methods (of Methods) on t under r, one after the
// other (TrainMethod; every choice on validation, each method in its own
// folder of o.Dir), and then, only after the last one finished and only
// when test is true, scores every kept model on t's test split: the one
// read of it, at the end, as the demo and the transfer suite make it. The
// test products run at o.Precision.
func Compare(ctx context.Context, t *Task, r Recipe, methods []string, o Options, test bool) ([]Compared, error) {
	if err := r.Validate(methods); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Fresh == nil {
		o.Fresh = t.Fresh
	}
	out := make([]Compared, 0, len(methods))
	for i, m := range methods {
		if len(methods) > 1 {
			fmt.Fprintf(o.Log, "\n[%d/%d] %s\n", i+1, len(methods), m)
		}
		res, err := TrainMethod(ctx, m, t.Task, r, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		fmt.Fprintf(o.Log, "%s: validation accuracy %.4f (epoch %d), %d support + %d head parameters, %.0fs\n",
			m, res.Val.Accuracy, res.BestEpoch, res.Support, res.Head, res.Seconds)
		out = append(out, Compared{Method: m, Outcome: res})
	}
	if !test {
		return out, nil
	}
	fmt.Fprintf(o.Log, "\ntest: each method's kept model (merged into a plain ViT)\n")
	for i := range out {
		mt, err := t.Test(out[i].Merged, o.Precision)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(mt.Accuracy) {
			return nil, fmt.Errorf("%s: test accuracy is NaN", out[i].Method)
		}
		out[i].Test = mt
	}
	return out, nil
}
