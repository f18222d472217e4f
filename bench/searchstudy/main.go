// Command searchstudy is the experiment behind the default recipe's
// searched-GLoRA chain (docs/DESIGN.md §6, the README's section on the
// search): validation-only studies of the shipped backbone on the
// transfer suite's tasks. The test split is never read: the chain's
// variants are scored on development images, training-split images that
// neither the training nor the validation split drew.
//
//	go run ./bench/searchstudy -exp structs -names lora8,A8,A4B4 -out s.jsonl
//	    named structures trained alone (8 epochs at lr 5e-3): val accuracy
//	go run ./bench/searchstudy -exp tau -sn-epochs 30 -out t.jsonl
//	    how well a supernet ranks 15 structures (7 named, 8 random at the
//	    budget): Kendall's τ against their standalone val accuracy
//	go run ./bench/searchstudy -exp lora|pipe [-sn-epochs N -finalists K -lora-finalist …] -out p.jsonl
//	    LoRA, or searched GLoRA under a variant of the default recipe: val
//	    accuracy and accuracy on 1,000 development images
//
// Each run appends one JSON line per result to -out and prints a summary
// line to stderr; -tasks and -seeds choose the cells (VTAB-1k splits).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// row is one result line.
type row struct {
	Exp     string  `json:"exp"`
	Task    string  `json:"task"`
	Seed    uint64  `json:"seed"`
	Name    string  `json:"name"`
	Params  int     `json:"params"`
	Val     float64 `json:"val"`
	ValLoss float64 `json:"val_loss"`
	Dev     float64 `json:"dev,omitempty"`    // accuracy on the development images (pipe, lora)
	Shared  float64 `json:"shared,omitempty"` // tau-item: shared-weight val accuracy
	Secs    float64 `json:"secs"`
	Note    string  `json:"note,omitempty"`
}

func main() {
	exp := flag.String("exp", "structs", "structs, tau, tau2 (tau with and without -anchor-lora, the structures trained alone once), lora or pipe")
	tasks := flag.String("tasks", "mnist,digits,emoji,synth:count,synth:position,synth:orientation", "data specs")
	seeds := flag.Int("seeds", 1, "seeds 0 … N-1 (each its own VTAB-1k split)")
	names := flag.String("names", "lora8,A8,A4B4,A4B4DEc", "structs: structures ("+strings.Join(slices.Sorted(mapsKeys(structures(nil))), ", ")+")")
	outPath := flag.String("out", "searchstudy.jsonl", "results, one JSON line each (appended)")
	tag := flag.String("tag", "", "the variant's name in the results")
	snEpochs := flag.Int("sn-epochs", 0, "pipe, tau: supernet epochs (0: the recipe's)")
	undrawn := flag.Bool("undrawn", false, "pipe, tau: undrawn paths keep their AdamW momentum")
	finalists := flag.Int("finalists", 0, "pipe: finalists (0: the recipe's)")
	loraFinalist := flag.String("lora-finalist", "", "pipe: true or false (empty: the recipe's)")
	loraFresh := flag.Bool("lora-fresh", false, "pipe: the LoRA finalist trains from fresh support tensors")
	inherit := flag.String("inherit", "", "pipe: true or false: finalists retrain from the supernet's weights (empty: the recipe's)")
	retrain := flag.Int("retrain-epochs", 0, "pipe: retraining epochs (0: the recipe's)")
	ranks := flag.String("ranks", "", "pipe, tau: the supernet's lora ranks, comma-separated (empty: the recipe's)")
	retrainLR := flag.Float64("retrain-lr", 0, "pipe: retraining peak learning rate (0: the recipe's)")
	seedNamed := flag.String("seed-named", "", "pipe: true or false (empty: the recipe's)")
	anchor := flag.Float64("anchor-lora", 0, "pipe, tau: fraction of supernet steps that train LoRA at the top rank on every layer")
	nRandom := flag.Int("random", 8, "tau: random structures")
	flag.Parse()
	out, err := os.OpenFile(*outPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	r := pipeline.MustNamed(pipeline.Default)
	if *snEpochs > 0 {
		setEpochs(&r, pipeline.SupernetRun, *snEpochs)
	}
	if *retrain > 0 {
		setEpochs(&r, pipeline.RetrainRun, *retrain)
	}
	if *ranks != "" {
		r.Search.Ranks = nil
		for _, f := range strings.Split(*ranks, ",") {
			k, err := strconv.Atoi(f)
			if err != nil {
				log.Fatalf("-ranks: %v", err)
			}
			r.Search.Ranks = append(r.Search.Ranks, k)
		}
	}
	if *retrainLR > 0 {
		s := r.Runs[pipeline.RetrainRun]
		s.LR = *retrainLR
		r.Runs[pipeline.RetrainRun] = s
	}
	if *finalists > 0 {
		r.Search.Finalists = *finalists
	}
	r.Search.UndrawnMomentum = *undrawn
	r.Search.AnchorLoRA = *anchor
	r.Search.LoRAFresh = *loraFresh
	for flagVal, dst := range map[*string]*bool{loraFinalist: &r.Search.LoRAFinalist, seedNamed: &r.Search.SeedNamed, inherit: &r.Search.Inherit} {
		if *flagVal != "" {
			if *dst, err = strconv.ParseBool(*flagVal); err != nil {
				log.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "searchstudy-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for _, spec := range strings.Split(*tasks, ",") {
		trainAll, _, err := data.ResolveWith(spec, data.ResolveOptions{H: 28, W: 28, Channels: 1, Interp: data.Bicubic})
		if err != nil {
			log.Fatal(err)
		}
		for seed := range uint64(*seeds) {
			t, err := pipeline.NewTask(backbones.Default, "shipped", trainAll, nil, spec, "vtab1k", seed, seed)
			if err != nil {
				log.Fatal(err)
			}
			c := cell{ctx: ctx, out: out, spec: spec, seed: seed, task: t, recipe: r, tmp: tmp, tag: *tag, dev: devSplit(trainAll, seed)}
			switch *exp {
			case "structs":
				c.structs(strings.Split(*names, ","))
			case "tau":
				c.tau(*nRandom)
			case "tau2":
				c.tau2(*nRandom)
			case "lora":
				c.lora()
			case "pipe":
				c.pipe()
			default:
				log.Fatalf("unknown -exp %q", *exp)
			}
		}
	}
}

func mapsKeys(m map[string]glora.Structure) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func setEpochs(r *pipeline.Recipe, run string, e int) {
	s := r.Runs[run]
	s.Epochs = e
	r.Runs[run] = s
}

type cell struct {
	ctx    context.Context
	out    io.Writer
	spec   string
	seed   uint64
	task   *pipeline.Task
	recipe pipeline.Recipe
	tmp    string
	tag    string
	dev    *data.Dataset
}

func (c *cell) emit(r row) {
	r.Task, r.Seed = c.spec, c.seed
	b, _ := json.Marshal(r)
	fmt.Fprintln(c.out, string(b))
	fmt.Fprintf(os.Stderr, "%s %s s%d %-14s params %6d val %.3f (loss %.3f) dev %.3f %.0fs %s\n",
		r.Exp, r.Task, r.Seed, r.Name, r.Params, r.Val, r.ValLoss, r.Dev, r.Secs, r.Note)
}

// devSplit is up to 1,000 training-split images that the VTAB-1k split of
// seed draws for neither training nor validation (nil when none is left).
func devSplit(trainAll *data.Dataset, seed uint64) *data.Dataset {
	used := map[int]bool{}
	for _, sp := range []string{"train", "val"} {
		idx, err := data.SplitIndices(trainAll, sp, "vtab1k", seed)
		if err != nil {
			log.Fatal(err)
		}
		for _, i := range idx {
			used[i] = true
		}
	}
	var rest []int
	for i := range trainAll.Len() {
		if !used[i] {
			rest = append(rest, i)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(99, seed))
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	rest = rest[:min(len(rest), 1000)]
	slices.Sort(rest)
	d, err := trainAll.Subset(rest)
	if err != nil {
		log.Fatal(err)
	}
	return d
}

func (c *cell) devAcc(merged string) float64 {
	if c.dev == nil {
		return 0
	}
	m, _, err := vit.Load(merged)
	if err != nil {
		log.Fatal(err)
	}
	mt, err := train.Evaluate(m, c.dev, 256, tensor.F32)
	if err != nil {
		log.Fatal(err)
	}
	return mt.Accuracy
}

func (c *cell) dir(name string) string {
	d := filepath.Join(c.tmp, name)
	if err := os.RemoveAll(d); err != nil {
		log.Fatal(err)
	}
	return d
}

// structures are the structures -exp structs and tau name, over targets.
func structures(targets []glora.Target) map[string]glora.Structure {
	l4, l8, v, k := glora.LoRAChoice(4), glora.LoRAChoice(8), glora.ChoiceVector, glora.ChoiceConstant
	u := func(lc glora.LayerChoice) glora.Structure { return glora.Uniform(targets, lc, false) }
	return map[string]glora.Structure{
		"lora8": u(glora.LayerChoice{glora.B: l8}), "A8": u(glora.LayerChoice{glora.A: l8}),
		"A4B4": u(glora.LayerChoice{glora.A: l4, glora.B: l4}), "A4B4DEc": u(glora.LayerChoice{glora.A: l4, glora.B: l4, glora.D: k, glora.E: k}),
		"A8DvEv": u(glora.LayerChoice{glora.A: l8, glora.D: v, glora.E: v}), "B8DvEv": u(glora.LayerChoice{glora.B: l8, glora.D: v, glora.E: v}),
		"fixed8": u(glora.LayerChoice{glora.A: l8, glora.B: l8, glora.C: l8, glora.D: k, glora.E: k}),
		"AvB8":   u(glora.LayerChoice{glora.A: v, glora.B: l8}), "B8C8": u(glora.LayerChoice{glora.B: l8, glora.C: l8}),
		"B8Cv": u(glora.LayerChoice{glora.B: l8, glora.C: v}), "A8B8": u(glora.LayerChoice{glora.A: l8, glora.B: l8}),
		"B8DEc": u(glora.LayerChoice{glora.B: l8, glora.D: k, glora.E: k}), "B4C4": u(glora.LayerChoice{glora.B: l4, glora.C: l4}),
		"B8Ev": u(glora.LayerChoice{glora.B: l8, glora.E: v}), "Cv": u(glora.LayerChoice{glora.C: v}), "Ev": u(glora.LayerChoice{glora.E: v}),
		"ssf": u(glora.LayerChoice{glora.A: v, glora.D: v, glora.E: v}),
	}
}

func (c *cell) targets() []glora.Target {
	v, err := c.task.Fresh()
	if err != nil {
		log.Fatal(err)
	}
	sites, err := glora.SelectTargets(v.Linears(), []string{glora.AllLinear}, nil)
	if err != nil {
		log.Fatal(err)
	}
	return glora.TargetsOf(sites)
}

// alone trains st alone (fresh support tensors) under the recipe's LoRA schedule.
func (c *cell) alone(st glora.Structure) (*finetune.Trained, float64) {
	v, err := c.task.Fresh()
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Now()
	tr, err := finetune.Finetune(c.ctx, v, c.task.Task, finetune.Setup{Method: finetune.GLoRA, Structure: st},
		c.recipe.Hyper(finetune.LoRA, c.task.Train.Len()), finetune.StageOptions{OutDir: c.dir("alone"), Seed: c.seed})
	if err != nil {
		log.Fatal(err)
	}
	return tr, time.Since(t0).Seconds()
}

func (c *cell) structs(names []string) {
	all := structures(c.targets())
	for _, name := range names {
		st, ok := all[name]
		if !ok {
			log.Fatalf("no structure %q", name)
		}
		tr, secs := c.alone(st)
		c.emit(row{Exp: "structs", Name: name, Params: tr.Support, Val: tr.Val.Accuracy, ValLoss: tr.Val.Loss, Secs: secs})
	}
}

// tau trains a supernet and measures its ranking of 7 named and n random
// structures against their standalone validation accuracy.
func (c *cell) tau(n int) []finetune.RankItem {
	targets := c.targets()
	budget := finetune.LoRABudget(targets, c.recipe.Rank)
	all := structures(targets)
	var items []finetune.RankItem
	for _, name := range []string{"lora8", "A8", "A4B4", "A4B4DEc", "ssf", "B8DEc", "B4C4"} {
		items = append(items, finetune.RankItem{Name: name, Structure: all[name]})
	}
	sp := glora.Space{Ranks: c.recipe.Search.Ranks}
	rng := rand.New(rand.NewPCG(1234, c.seed))
	for i := range n {
		items = append(items, finetune.RankItem{Name: fmt.Sprintf("random %d", i), Structure: search.Random(rng, sp, targets, budget)})
	}
	t0 := time.Now()
	sn := c.supernet(c.recipe.Search, "supernet")
	secs := time.Since(t0).Seconds()
	rc, err := finetune.CheckRanking(c.ctx, sn.Model, c.task.Fresh, c.task.Task, items, c.recipe.Hyper(finetune.LoRA, c.task.Train.Len()),
		finetune.StageOptions{OutDir: c.dir("rank"), Seed: c.seed}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range rc.Items {
		c.emit(row{Exp: "tau-item", Name: it.Name, Params: it.Params, Val: it.Standalone, ValLoss: it.Loss, Shared: it.Shared.Accuracy, Note: c.tag})
	}
	c.emit(row{Exp: "tau", Name: c.tag, Val: deref(rc.Tau), ValLoss: deref(rc.TauLoss), Secs: secs,
		Note: fmt.Sprintf("supernet val %.3f; tau %s, by loss %s", sn.Val.Accuracy, finetune.FormatTau(rc.Tau), finetune.FormatTau(rc.TauLoss))})
	return rc.Items
}

// supernet trains the recipe's supernet (s: its ranks, undrawn momentum
// and anchors) on the cell's task in the folder dir.
func (c *cell) supernet(s pipeline.SearchRecipe, dir string) *finetune.Trained {
	v, err := c.task.Fresh()
	if err != nil {
		log.Fatal(err)
	}
	sn, err := finetune.TrainSupernet(c.ctx, v, c.task.Task, finetune.Setup{Ranks: s.Ranks, UndrawnMomentum: s.UndrawnMomentum, AnchorLoRA: s.AnchorLoRA},
		c.recipe.Hyper(pipeline.SupernetRun, c.task.Train.Len()), finetune.StageOptions{OutDir: c.dir(dir), Seed: c.seed})
	if err != nil {
		log.Fatal(err)
	}
	return sn
}

// tau2 is tau for the recipe's supernet (with -anchor-lora) and again
// for the same supernet without anchors, sharing the structures'
// standalone runs.
func (c *cell) tau2(n int) {
	if c.recipe.Search.AnchorLoRA == 0 {
		log.Fatal("tau2 compares with and without -anchor-lora: give it")
	}
	items := c.tau(n)
	noAnchor := c.recipe.Search
	noAnchor.AnchorLoRA = 0
	sn := c.supernet(noAnchor, "supernet0")
	eval := sn.Model.Evaluator(c.task.Val, c.task.Pre, 256, 0)
	var shared, sharedLoss, alone []float64
	for _, it := range items {
		sc, err := eval(c.ctx, it.Structure)
		if err != nil {
			log.Fatal(err)
		}
		c.emit(row{Exp: "tau-item", Name: it.Name, Params: it.Params, Val: it.Standalone, ValLoss: it.Loss, Shared: sc.Accuracy, Note: "no anchor"})
		shared, sharedLoss, alone = append(shared, sc.Accuracy), append(sharedLoss, -sc.Loss), append(alone, it.Standalone)
	}
	tau, tauLoss := search.KendallTau(shared, alone), search.KendallTau(sharedLoss, alone)
	c.emit(row{Exp: "tau", Name: "no anchor", Val: tau, ValLoss: tauLoss,
		Note: fmt.Sprintf("supernet val %.3f; tau %.2f, by loss %.2f", sn.Val.Accuracy, tau, tauLoss)})
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func (c *cell) lora() {
	o, err := pipeline.TrainMethod(c.ctx, finetune.LoRA, c.task.Task, c.recipe, pipeline.Options{Dir: c.dir("lora"), Seed: c.seed, Fresh: c.task.Fresh})
	if err != nil {
		log.Fatal(err)
	}
	c.emit(row{Exp: "pipe", Name: "lora", Params: o.Support, Val: o.Val.Accuracy, ValLoss: o.Val.Loss, Dev: c.devAcc(o.Merged), Secs: o.Seconds})
}

func (c *cell) pipe() {
	o, err := pipeline.TrainMethod(c.ctx, pipeline.Searched, c.task.Task, c.recipe, pipeline.Options{Dir: c.dir("chain"), Seed: c.seed, Fresh: c.task.Fresh})
	if err != nil {
		log.Fatal(err)
	}
	s := o.Searched
	var rounds []string
	for _, r := range s.Finalists.Rounds {
		mark := ""
		if r.Winner {
			mark = "*"
		}
		rounds = append(rounds, fmt.Sprintf("%s%s:%d:%.3f", mark, r.Name, r.Epochs, r.Accuracy))
	}
	c.emit(row{Exp: "pipe", Name: c.tag, Params: o.Support, Val: o.Val.Accuracy, ValLoss: o.Val.Loss, Dev: c.devAcc(o.Merged), Secs: o.Seconds,
		Note: fmt.Sprintf("supernet %.0fs val %.3f; search %.0fs, %d candidates; finalists %.0fs: %s", s.StageSeconds[0], s.Supernet.Val.Accuracy,
			s.StageSeconds[1], len(s.Search.Candidates), s.StageSeconds[2], strings.Join(rounds, " "))})
}
