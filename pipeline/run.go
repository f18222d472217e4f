package pipeline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/plot"
	"github.com/glora/glora/tensor"
)

// Files Run writes at the top of its folder, besides Publish's and the
// stage folders.
const (
	ReportFile    = "report.md"
	ConfusionFile = "confusion.png"
)

// RunMethod is RunResult.Method.
const RunMethod = "glora (searched structure)"

// RunResult is what Run did: the kept model, its validation and test
// scores, and each stage's (`glora run`'s summary.json, with its settings).
type RunResult struct {
	Method          string  `json:"method"`
	Finalist        string  `json:"finalist"` // the finalist kept on validation
	ValAccuracy     float64 `json:"val_accuracy"`
	TestAccuracy    float64 `json:"test_accuracy"`
	TestLoss        float64 `json:"test_loss"`
	TrainableParams int     `json:"trainable_params"`
	SupportParams   int     `json:"support_params"`
	HeadParams      int     `json:"head_params"`
	Budget          int     `json:"budget"`
	NTrain          int     `json:"n_train"`
	NVal            int     `json:"n_val"`
	NTest           int     `json:"n_test"`
	Seconds         float64 `json:"seconds"`   // training and search, all stages, over all resumes
	Precision       string  `json:"precision"` // of the matrix products (Options.Precision)
	Structure       string  `json:"structure"`
	Adapter         string  `json:"adapter"`
	Merged          string  `json:"merged"`
	Report          string  `json:"report"`
	// the stages
	SupernetValAcc float64          `json:"supernet_val_accuracy"`
	SearchValAcc   float64          `json:"search_val_accuracy"`
	Candidates     int              `json:"search_candidates"`
	Finalists      []finetune.Round `json:"finalists"`
	RankCheckTau   *float64         `json:"rank_check_tau,omitempty"`
	StageSeconds   [4]float64       `json:"stage_seconds"` // supernet, search, finalists, rank check
}

// Run is searched GLoRA from start to finish on t, in o.Dir: the chain
// (SearchGLoRA, resumed where o.Resume says), the kept finalist published
// at the top of the folder (Publish), then its merged model tested once
// on t's test split, with ConfusionFile and ReportFile written beside it.
// o.Fresh defaults to t.Fresh.
func Run(ctx context.Context, t *Task, r Recipe, o Options) (*RunResult, error) {
	t0 := time.Now()
	if o.Fresh == nil {
		o.Fresh = t.Fresh
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	ch, err := SearchGLoRA(ctx, t.Task, r, o)
	if err != nil {
		return nil, err
	}
	res := &RunResult{Method: RunMethod, Finalist: ch.FinalistNames[ch.Finalists.Index],
		Precision: o.Precision.String(), NTrain: t.Train.Len(), NVal: t.Val.Len(),
		ValAccuracy: ch.Val.Accuracy, SupportParams: ch.Support, HeadParams: ch.Head, TrainableParams: ch.Support + ch.Head,
		Budget: ch.Budget, SupernetValAcc: ch.Supernet.Val.Accuracy, SearchValAcc: ch.Search.Best.Accuracy,
		Candidates: len(ch.Search.Candidates), Finalists: ch.Finalists.Rounds, StageSeconds: ch.StageSeconds}
	if ch.RankCheck != nil {
		res.RankCheckTau = ch.RankCheck.Tau
	}
	res.Seconds = ch.Supernet.Seconds
	for _, sec := range ch.StageSeconds[1:] {
		res.Seconds += sec
	}
	pub, err := ch.Publish(o.Dir)
	if err != nil {
		return nil, err
	}
	res.Adapter, res.Merged, res.Structure = pub.Adapter, pub.Merged, pub.Structure

	// The test split, once.
	fmt.Fprintf(o.Log, "test: the merged model of %s on the test split\n", res.Finalist)
	tm, err := t.Test(res.Merged, o.Precision)
	if err != nil {
		return nil, err
	}
	res.TestAccuracy, res.TestLoss, res.NTest = tm.Accuracy, tm.Loss, tm.N
	if err := plot.WriteConfusionPNG(filepath.Join(o.Dir, ConfusionFile), plot.Confusion{Title: "test split: " + res.Method,
		Labels: t.Classes, Counts: tm.Confusion}); err != nil {
		fmt.Fprintf(o.Log, "warning: %v\n", err)
	}
	res.Report = filepath.Join(o.Dir, ReportFile)
	if err := atomicfile.WriteBytes(res.Report, []byte(runReport(res, t, r, o.Seed, ch, time.Since(t0)))); err != nil {
		return nil, err
	}
	return res, nil
}

// runReport is ReportFile.
func runReport(r *RunResult, t *Task, rc Recipe, seed uint64, ch *SearchedOutcome, wall time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# glora run\n\n")
	fmt.Fprintf(&b, "Base %s, data %s (--scheme %s --split-seed %d): %d train / %d validation images, %d classes (%s); test split: %d images, read once, at the end.\n\n",
		t.From, t.Data, t.Scheme, t.SplitSeed, r.NTrain, r.NVal, len(t.Classes), data.ClassList(t.Classes), r.NTest)
	if r.Precision != tensor.F32.String() {
		fmt.Fprintf(&b, "Every matrix product (training, search, test) in %s: bfloat16 operands, float32 sums (`--precision %s`).\n\n", r.Precision, r.Precision)
	}
	fmt.Fprintf(&b, "## Result\n\n| method | trainable params (support + head) | val accuracy | test accuracy |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s: %s | %d (%d + %d) | %.4f | %.4f |\n\n", r.Method, r.Finalist, r.TrainableParams, r.SupportParams, r.HeadParams, r.ValAccuracy, r.TestAccuracy)
	fmt.Fprintf(&b, "The validation images chose the structure (one of %s) and its epoch, so the validation accuracy reads high; the test accuracy is the one to compare with other runs.\n\n",
		nOf(len(ch.FinalistNames), "finalist"))
	fmt.Fprintf(&b, "Adapter: `%s`; merged model (the base's shape and speed): `%s`; structure: `%s`.\n\n", r.Adapter, r.Merged, r.Structure)
	fmt.Fprintf(&b, "The structure, choices counted over the %d layers: %s.\n\n", len(ch.Structure), ch.Structure.Summary())
	sn, rt := rc.Hyper(SupernetRun, r.NTrain), rc.Hyper(RetrainRun, r.NTrain)
	fmt.Fprintf(&b, "## Stages\n\n| stage | what | seconds | validation accuracy |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| 1 supernet | ranks %v, %s, batch %d, lr %g (min %g, warm-up %s), wd %g, clip %g, seed %d; %d support + %d head parameters | %.0f | %.4f (lora rank %d on every layer) |\n",
		rc.Search.Ranks, nOf(sn.Epochs, "epoch"), sn.Batch, sn.LR, sn.MinLR, warmup(sn.WarmupEpochs), sn.WeightDecay, sn.ClipNorm, seed,
		ch.Supernet.Support, ch.Supernet.Head, r.StageSeconds[0], r.SupernetValAcc, slices.Max(rc.Search.Ranks))
	fmt.Fprintf(&b, "| 2 search | budget %d, population %d, top %d, %d generations, %d mutations + %d crossovers (p %.2g)%s; %d candidates scored with merged weights on the validation split | %.0f | %.4f (best with the supernet's weights: %s, %d params) |\n",
		r.Budget, rc.Search.Population, rc.Search.TopK, rc.Search.Generations, rc.Search.Mutations, rc.Search.Crossovers, rc.Search.MutationProb,
		map[bool]string{true: ", starting from the named structures that fit", false: ""}[rc.Search.SeedNamed],
		r.Candidates, r.StageSeconds[1], r.SearchValAcc, ch.Search.Best.Hash, ch.Search.Best.Params)
	from := map[bool]string{true: "the supernet's weights", false: "fresh support tensors"}[rc.Search.Inherit]
	fmt.Fprintf(&b, "| 3 finalists | the %d best structures retrained from %s, %s at lr %g, by successive halving (rungs %v) | %.0f | %.4f (%s) |\n",
		len(ch.FinalistNames), from, nOf(rt.Epochs, "epoch"), rt.LR, finetune.Rungs(len(ch.FinalistNames), rt.Epochs), r.StageSeconds[2], r.ValAccuracy, r.Finalist)
	if ch.RankCheck != nil {
		fmt.Fprintf(&b, "| rank check | %d structures trained alone, %s each | %.0f | Kendall's tau %s (by shared-weight loss %s) |\n",
			len(ch.RankCheck.Items), nOf(ch.RankCheck.Epochs, "epoch"), r.StageSeconds[3], finetune.FormatTau(ch.RankCheck.Tau), finetune.FormatTau(ch.RankCheck.TauLoss))
	}
	fmt.Fprintf(&b, "| 4 merge + test | %s, chosen on validation | | test %.4f (loss %.4f) |\n\n", r.Finalist, r.TestAccuracy, r.TestLoss)
	fmt.Fprintf(&b, "### Finalists\n\n| finalist | epochs trained | best val accuracy | val loss |\n|---|---|---|---|\n")
	for _, f := range r.Finalists {
		name := f.Name
		if f.Winner {
			name = "**" + name + "** (kept)"
		}
		fmt.Fprintf(&b, "| %s | %d | %.4f | %.4f |\n", name, f.Epochs, f.Accuracy, f.Loss)
	}
	fmt.Fprintf(&b, "\nTraining and search took %.0f s in all (this invocation: %.0f s wall).\n\n", r.Seconds, wall.Seconds())
	fmt.Fprintf(&b, "## Plots\n\n- `supernet-curves.png`: the supernet's loss and accuracy (validation with lora rank %d everywhere)\n- `search.png`: validation accuracy against parameters, by generation, the best highlighted\n- `retrain-curves.png`: the kept finalist's retraining\n- `confusion.png`: the test split's confusion matrix\n",
		slices.Max(rc.Search.Ranks))
	if ch.RankCheck != nil {
		b.WriteString("- `rank-check.png`: each structure's validation accuracy trained alone against its accuracy with the supernet's weights\n")
	}
	return b.String()
}

// warmup is a warm-up length in epochs, in words.
func warmup(epochs float64) string {
	if epochs == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%g epochs", epochs)
}
