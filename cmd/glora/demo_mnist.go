package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/glora"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/search"
	"github.com/glora/glora/train"
)

// The demo's methods, in the table's order.
const (
	demoLinear   = "linear"
	demoLoRA     = "lora"
	demoFixed    = "glora-fixed"
	demoSearched = "glora-searched"
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
// rates kept, nothing looked at on test).
type demoOptions struct {
	Scheme    string // how train and val are carved from MNIST's training split
	SplitSeed uint64
	Seed      uint64
	Batch     int
	Methods   []string
	Rank      int // lora and glora-fixed; the search's budget is lora's

	LinearEpochs, LoRAEpochs, FixedEpochs, SupernetEpochs, RetrainEpochs int
	LinearLR, LoRALR, FixedLR, SupernetLR, RetrainLR                     float64
	WeightDecay                                                          float64

	Population, TopK, Generations, Mutations, Crossovers int
	Inherit                                              bool // retrain from the supernet's weights (else fresh support tensors)

	NoTest bool   // stop before the test split (for choosing settings on validation)
	OutDir string // where runs are kept ("" = a temporary folder, removed)
}

func defaultDemo() demoOptions {
	return demoOptions{Scheme: "vtab1k", Batch: 32, Rank: finetune.DefaultRank,
		Methods:      demoMethods,
		LinearEpochs: 3, LoRAEpochs: 4, FixedEpochs: 4, SupernetEpochs: 4, RetrainEpochs: 3,
		LinearLR: 1e-1, LoRALR: 5e-3, FixedLR: 5e-3, SupernetLR: 5e-3, RetrainLR: 5e-3, WeightDecay: 1e-4,
		Population: 12, TopK: 4, Generations: 3, Mutations: 6, Crossovers: 6, Inherit: true}
}

// fullDemo is the reference run's size (issue 9): supernet 100 epochs,
// the reference search (population 50, 20 generations), 50-epoch runs.
func fullDemo() demoOptions {
	o := defaultDemo()
	o.LinearEpochs, o.LoRAEpochs, o.FixedEpochs, o.SupernetEpochs, o.RetrainEpochs = 50, 50, 50, 100, 50
	c := search.Defaults()
	o.Population, o.TopK, o.Generations, o.Mutations, o.Crossovers = c.Population, c.TopK, c.Generations, c.Mutations, c.Crossovers
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
// validation accuracy) on the test split. Progress goes to log.
func runMNISTDemo(ctx context.Context, o demoOptions, dataName string, trainSet *data.Dataset, loadTest func() (*data.Dataset, error), log io.Writer) ([]demoRow, error) {
	tr, err := data.Split(trainSet, nil, "train", o.Scheme, o.SplitSeed)
	if err != nil {
		return nil, err
	}
	val, err := data.Split(trainSet, nil, "val", o.Scheme, o.SplitSeed)
	if err != nil {
		return nil, err
	}
	out := o.OutDir
	if out == "" {
		if out, err = os.MkdirTemp("", "glora-demo-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(out)
	}
	fmt.Fprintf(log, "demo: the shipped backbone (%s) adapted to %s: %d train, %d validation images (--scheme %s); runs in %s\n",
		backbones.DefaultName, dataName, tr.Len(), val.Len(), o.Scheme, out)
	classes := trainSet.Classes
	fresh := func() (*vit.Model, vit.Checkpoint, error) {
		v, ck, err := backbones.Default()
		if err != nil {
			return nil, ck, err
		}
		if err := v.ResetHead(len(classes), rand.New(rand.NewPCG(o.Seed, 0x68656164))); err != nil {
			return nil, ck, err
		}
		ck.Config = v.Cfg
		ck.Labels = classes
		ck.Training = &vit.TrainingInfo{Data: dataName, Scheme: o.Scheme, SplitSeed: o.SplitSeed}
		return v, ck, nil
	}
	fit := func(m *finetune.Model, ck vit.Checkpoint, name string, epochs int, lr float64, hook train.Hook) (train.Summary, error) {
		pre := train.PreprocessFor(m.ViT.Cfg)
		dir := filepath.Join(out, name)
		saveBest := func(d string) error { return m.SaveMerged(d, ck, safetensors.F32) }
		if hook != nil {
			saveBest = func(string) error { return nil } // the supernet is used as it ends, not saved
		}
		return train.Run(ctx, m, tr, val, train.Options{OutDir: dir, Epochs: epochs, Batch: o.Batch, LR: lr, MinLR: lr / 100,
			WarmupEpochs: min(1, float64(epochs)/10), WeightDecay: o.WeightDecay, ClipNorm: 1, Seed: o.Seed,
			CheckpointTrainableOnly: true, BaseRef: "shipped", Preprocess: &pre, SaveBest: saveBest, Hook: hook, Log: log,
			Data: dataName, Scheme: o.Scheme, SplitSeed: o.SplitSeed, Model: "shipped", NewHead: true, DropPath: -1})
	}
	var rows []demoRow
	for i, method := range o.Methods {
		t0 := time.Now()
		row := demoRow{Method: demoLabel(method, o.Rank)}
		fmt.Fprintf(log, "\n[%d/%d] %s\n", i+1, len(o.Methods), row.Method)
		v, ck, err := fresh()
		if err != nil {
			return nil, err
		}
		var m *finetune.Model
		var sum train.Summary
		switch method {
		case demoLinear, demoLoRA, demoFixed:
			epochs, lr := o.LinearEpochs, o.LinearLR
			if method == demoLoRA {
				epochs, lr = o.LoRAEpochs, o.LoRALR
			} else if method == demoFixed {
				epochs, lr = o.FixedEpochs, o.FixedLR
			}
			if m, err = finetune.Attach(v, finetune.Setup{Method: method, Rank: o.Rank, Seed: o.Seed}); err != nil {
				return nil, err
			}
			if sum, err = fit(m, ck, method, epochs, lr, nil); err != nil {
				return nil, err
			}
		case demoSearched:
			if m, sum, row.Note, err = demoSearch(ctx, o, v, ck, val, fresh, fit, log); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown demo method %q (want %s)", method, strings.Join(demoMethods, ", "))
		}
		row.Support, row.Head = m.Trainable()
		row.ValAcc, row.BestEpoch = sum.Best.Accuracy, sum.BestEpoch
		row.Seconds = time.Since(t0).Seconds()
		row.model = sum.BestDir
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
		mt, err := train.Evaluate(v, test, 256)
		if err != nil {
			return nil, err
		}
		rows[i].TestAcc, rows[i].NTest = mt.Accuracy, mt.N
	}
	return rows, nil
}

// demoSearch is searched GLoRA at LoRA's budget: a supernet (ranks 4 and
// the LoRA rank) trained on train, an evolutionary search scored on val
// with merged weights, and the chosen structure retrained (from the
// supernet's weights with o.Inherit).
func demoSearch(ctx context.Context, o demoOptions, v *vit.Model, ck vit.Checkpoint, val *data.Dataset,
	fresh func() (*vit.Model, vit.Checkpoint, error),
	fit func(*finetune.Model, vit.Checkpoint, string, int, float64, train.Hook) (train.Summary, error),
	log io.Writer) (*finetune.Model, train.Summary, string, error) {
	ranks := []int{4, o.Rank}
	if o.Rank <= 4 {
		ranks = []int{o.Rank}
	}
	sn, err := finetune.Attach(v, finetune.Setup{Method: finetune.Supernet, Ranks: ranks, Seed: o.Seed})
	if err != nil {
		return nil, train.Summary{}, "", err
	}
	lora, err := glora.Named("lora", sn.Net.Targets(), o.Rank, false)
	if err != nil {
		return nil, train.Summary{}, "", err
	}
	budget := glora.Params(lora, sn.Net.Targets())
	sn.EvalStructure = lora // the validation curve follows LoRA's structure
	fmt.Fprintf(log, "supernet (ranks %v), %d epochs; validation with the LoRA structure\n", ranks, o.SupernetEpochs)
	if _, err := fit(sn, ck, "supernet", o.SupernetEpochs, o.SupernetLR, sn.SampleHook()); err != nil {
		return nil, train.Summary{}, "", err
	}
	cfg := search.Config{Population: o.Population, TopK: o.TopK, Generations: o.Generations, Mutations: o.Mutations,
		Crossovers: o.Crossovers, MutationProb: 0.2, Budget: budget, Seed: o.Seed}
	n, t0 := 0, time.Now()
	best := search.Score{Accuracy: -1}
	cfg.Record = func(c search.Candidate) error {
		n++
		if c.Score.Better(best) {
			best = c.Score
		}
		if n%10 == 0 {
			fmt.Fprintf(log, "search: %d candidates (generation %d), best val accuracy %.4f, %.1f candidates/min\n",
				n, c.Generation+1, best.Accuracy, float64(n)/time.Since(t0).Minutes())
		}
		return nil
	}
	fmt.Fprintf(log, "search: budget %d parameters (LoRA rank %d's), population %d, %d generations, scored on validation\n",
		budget, o.Rank, o.Population, o.Generations)
	res, err := search.Run(ctx, cfg, sn.Net.Space(), sn.Net.Targets(), sn.Evaluator(val, train.PreprocessFor(sn.ViT.Cfg), 256))
	if err != nil {
		return nil, train.Summary{}, "", err
	}
	fmt.Fprintf(log, "search: %d candidates in %.0fs; best %s: val accuracy %.4f with the supernet's weights, %d parameters\n",
		res.Total, time.Since(t0).Seconds(), res.Best.Hash, res.Best.Accuracy, res.Best.Params)
	setup := finetune.Setup{Method: finetune.GLoRA, Structure: res.Best.Structure, Seed: o.Seed}
	how := "fresh support tensors"
	if o.Inherit {
		a, err := sn.Adapter("shipped")
		if err != nil {
			return nil, train.Summary{}, "", err
		}
		setup.Init, how = a, "the supernet's weights"
	}
	rv, rck, err := fresh()
	if err != nil {
		return nil, train.Summary{}, "", err
	}
	m, err := finetune.Attach(rv, setup)
	if err != nil {
		return nil, train.Summary{}, "", err
	}
	fmt.Fprintf(log, "retraining the chosen structure from %s, %d epochs\n", how, o.RetrainEpochs)
	sum, err := fit(m, rck, "retrain", o.RetrainEpochs, o.RetrainLR, nil)
	note := fmt.Sprintf("%d candidates searched (best %.3f with shared weights), retrained from %s", res.Total, res.Best.Accuracy, how)
	return m, sum, note, err
}

// printDemoTable writes the demo's table.
func printDemoTable(w io.Writer, rows []demoRow, tested bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "method\ttrainable params\t(support + head)\tval acc\ttest acc\ttime\t")
	for _, r := range rows {
		test := "-"
		if tested {
			test = fmt.Sprintf("%.4f", r.TestAcc)
		}
		fmt.Fprintf(tw, "%s\t%d\t(%d + %d)\t%.4f\t%s\t%.0fs\t\n", r.Method, r.Support+r.Head, r.Support, r.Head, r.ValAcc, test, r.Seconds)
	}
	tw.Flush()
}
