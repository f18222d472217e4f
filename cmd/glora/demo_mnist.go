package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// The demo's methods, in the table's order.
const (
	demoLinear   = "linear"
	demoLoRA     = "lora"
	demoFixed    = "glora-fixed"
	demoSearched = pipeline.Searched
)

var demoMethods = []string{demoLinear, demoLoRA, demoFixed, demoSearched}

// demoOptions are the MNIST demo's settings. The defaults (defaultDemo)
// were picked on the validation split (MNIST-1k's 200 images) with 5-epoch
// runs, never on the test split (best val accuracy in brackets): linear
// probe lr 1e-2 / 3e-2 / 1e-1 (0.560 / 0.575 / 0.590); LoRA 2e-3 / 5e-3 /
// 1e-2 (0.750 / 0.780 / 0.755); glora-fixed 5e-3 / 1e-2 (0.800 / 0.780);
// supernet 5e-3 / 1e-2 (LoRA-structure val 0.715 / unstable, 0.33 at epoch
// 3); retraining the searched structure from the supernet's weights was
// still improving after 3 epochs at 5e-3 (0.705, 0.690, 0.765). With 5
// epochs everywhere and a 64-candidate search the demo took 11.4 CPU-minutes
// (15.2 min wall on a shared 2-core machine), about 4.2 of them for the
// 40,000 test forward passes (63 CPU-s per 10,000 images); the epoch counts
// and the search were then cut to fit 10 minutes there (the peak learning
// rates kept, nothing looked at on test). Once the AVX2 vector kernels made
// the engine about twice as fast on that machine, the epochs were doubled
// and the search grown again, on validation only: linear 3 → 6 epochs
// (val 0.555 → 0.610), LoRA 4 → 8 (0.785 → 0.820), glora-fixed 4 → 8
// (0.740 → 0.840), supernet 4 → 8 and retraining 3 → 6 with a search of
// 16 × 4 generations instead of 12 × 3 (searched 0.775 → 0.805); the
// demo's training then took 2.9 min wall on the quiet 2-core machine.
type demoOptions struct {
	Scheme    string // how train and val are carved from MNIST's training split
	SplitSeed uint64
	Seed      uint64
	Methods   []string
	// Recipe is the training budget: batch, weight decay, rank (lora and
	// glora-fixed; the search's budget is lora's), each run's epochs and
	// learning rate (by method, plus the supernet and the retraining of
	// the searched structures), and the search's settings.
	pipeline.Recipe

	NoTest bool   // stop before the test split (for choosing settings on validation)
	OutDir string // where runs are kept ("" = a temporary folder, removed)
}

// demoRuns are the runs whose epochs and learning rate the demo's flags
// set (--epochs-NAME, --lr-NAME): its methods' and searched GLoRA's two.
var demoRuns = []string{finetune.Linear, finetune.LoRA, finetune.GLoRAFixed, pipeline.SupernetRun, pipeline.RetrainRun}

// defaultDemo is the demo at the default recipe (pipeline.Named, the
// numbers above), the transfer suite's and the CLI's: one table for all.
func defaultDemo() demoOptions {
	return demoOptions{Scheme: "vtab1k", Seed: 1, Methods: demoMethods, Recipe: pipeline.MustNamed(pipeline.Default)}
}

// setRuns sets the epochs of every demo run to epochs (for tests and
// --full); the learning rates stay.
func (o *demoOptions) setRuns(epochs func(run string) int) {
	runs := maps.Clone(o.Runs)
	for _, name := range demoRuns {
		s := runs[name]
		s.Epochs = epochs(name)
		runs[name] = s
	}
	o.Runs = runs
}

// fullDemo is the demo at the reference code's budget (recipe paper).
func fullDemo() demoOptions {
	o := defaultDemo()
	o.Recipe = pipeline.MustNamed(pipeline.Paper)
	return o
}

// demoRow is one line of the demo's table.
type demoRow struct {
	Method    string  `json:"method"`
	Support   int     `json:"support_params"`
	Head      int     `json:"head_params"`
	ValAcc    float64 `json:"val_accuracy"`
	TestAcc   float64 `json:"test_accuracy"`
	NTest     int     `json:"n_test"`
	Seconds   float64 `json:"seconds"` // training (and supernet + search), not the test evaluation
	BestEpoch int     `json:"best_epoch"`
	Note      string  `json:"note,omitempty"`
	model     string  // the best model's merged folder
}

func demoLabel(method string, rank int) string {
	switch method {
	case demoLinear:
		return "linear probe"
	case demoLoRA:
		return fmt.Sprintf("LoRA (rank %d)", rank)
	case demoFixed:
		return fmt.Sprintf("GLoRA fixed (rank %d)", rank)
	case demoSearched:
		return "GLoRA searched"
	}
	return method
}

// runMNISTDemo adapts the shipped backbone to trainSet's train and val
// splits (o.Scheme) with each method, then, as its last step and only
// there, calls loadTest and evaluates every method's best model (by
// validation accuracy) on the test split. Progress goes to log. The
// stages are the pipeline's (finetune.Finetune, TrainSupernet, Search):
// the demo only picks the methods and their hyperparameters.
func runMNISTDemo(ctx context.Context, o demoOptions, dataName string, trainSet *data.Dataset, loadTest func() (*data.Dataset, error), log io.Writer) ([]demoRow, error) {
	// The test split stays behind loadTest, read at the very end.
	t, err := pipeline.NewTask(backbones.Default, "shipped", trainSet, nil, dataName, o.Scheme, o.SplitSeed, o.Seed)
	if err != nil {
		return nil, err
	}
	t.Log = log
	out := o.OutDir
	if out == "" {
		if out, err = os.MkdirTemp("", "glora-demo-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(out)
	}
	fmt.Fprintf(log, "demo: the shipped backbone (%s) adapted to %s: %d train, %d validation images (--scheme %s); runs in %s\n",
		backbones.DefaultName, dataName, t.Train.Len(), t.Val.Len(), o.Scheme, out)
	var rows []demoRow
	for i, method := range o.Methods {
		t0 := time.Now()
		row := demoRow{Method: demoLabel(method, o.Rank)}
		fmt.Fprintf(log, "\n[%d/%d] %s\n", i+1, len(o.Methods), row.Method)
		if !slices.Contains(demoMethods, method) {
			return nil, fmt.Errorf("unknown demo method %q (want %s)", method, strings.Join(demoMethods, ", "))
		}
		res, err := pipeline.TrainMethod(ctx, method, t.Task, o.Recipe, pipeline.Options{Dir: out, Seed: o.Seed, Fresh: t.Fresh, Log: log})
		if err != nil {
			return nil, err
		}
		row.Note = res.Note
		row.Support, row.Head = res.Support, res.Head
		row.ValAcc, row.BestEpoch = res.Val.Accuracy, res.BestEpoch
		row.Seconds = time.Since(t0).Seconds()
		row.model = res.Merged
		fmt.Fprintf(log, "%s: validation accuracy %.4f (epoch %d), %d trainable parameters, %.0fs\n",
			row.Method, row.ValAcc, row.BestEpoch, row.Support+row.Head, row.Seconds)
		rows = append(rows, row)
	}
	if o.NoTest {
		return rows, nil
	}
	// The last step, and the only one that reads the test split.
	test, err := loadTest()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "\ntest: %d images, each method's best model by validation accuracy (merged into a plain ViT)\n", test.Len())
	for i := range rows {
		v, _, err := vit.Load(rows[i].model)
		if err != nil {
			return nil, err
		}
		mt, err := train.Evaluate(v, test, 256, tensor.F32)
		if err != nil {
			return nil, err
		}
		rows[i].TestAcc, rows[i].NTest = mt.Accuracy, mt.N
	}
	return rows, nil
}

// printDemoTable writes the demo's table.
func printDemoTable(w io.Writer, rows []demoRow, tested bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "method\ttrainable params\t(support + head)\tval acc\ttest acc\ttime")
	for _, r := range rows {
		test := "-"
		if tested {
			test = fmt.Sprintf("%.4f", r.TestAcc)
		}
		fmt.Fprintf(tw, "%s\t%d\t(%d + %d)\t%.4f\t%s\t%.0fs\n", r.Method, r.Support+r.Head, r.Support, r.Head, r.ValAcc, test, r.Seconds)
	}
	tw.Flush()
}
