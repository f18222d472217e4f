package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/plot"
	"github.com/glora/glora/train"
)

// evalSettings are eval's flags (declarative: see decl.go).
type evalSettings struct {
	Model     string `flag:"model" json:"model" help:"{model}"`
	Resize    string `flag:"resize" json:"resize" help:"{resize}"`
	Data      string `flag:"data" json:"data" help:"dataset: fashion-mnist, mnist, mnist:rotate30|invert|noise|blur, digits, emoji, emoji:all, synth:count|position|orientation|distance, folder:PATH, idx:IMAGES,LABELS[,TEST_IMAGES,TEST_LABELS] (see docs/CLI.md)"`
	Split     string `flag:"split" json:"split" help:"train, val or test (val is carved from the training split by --scheme; a model trained with --scheme full has no val)"`
	Scheme    string `flag:"scheme" json:"scheme" help:"{split-scheme}"`
	SplitSeed uint64 `flag:"split-seed" json:"split_seed" help:"seed of the split, as pretrain's --split-seed (default: the model's record, as --scheme)"`
	Seed      uint64 `flag:"seed" json:"-" help:"the same as --split-seed"`
	Batch     int    `flag:"batch" json:"batch" help:"images per forward pass"`
	JSON      bool   `flag:"json" json:"-" help:"print the result as one JSON line on stdout (accuracy, n, loss, per_class, confusion, …); everything else goes to stderr"`
	Plot      string `flag:"plot" json:"plot" help:"write the confusion matrix as a PNG to this file"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval [--model shipped|DIR] --data SPEC [--split test] [--plot FILE.png] [--json]", stderr)
	s := evalSettings{Model: shipped, Resize: "model", Split: "test", Batch: 256}
	bindFlags(fs, &s)
	precision := precisionFlag(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if s.Data == "" {
		return fmt.Errorf("--data is required (e.g. --data fashion-mnist)")
	}
	explicit := explicitFlags(fs)
	if explicit["seed"] {
		if explicit["split-seed"] && s.Seed != s.SplitSeed {
			return fmt.Errorf("--seed %d and --split-seed %d: --seed is another name for --split-seed; give one", s.Seed, s.SplitSeed)
		}
		s.SplitSeed = s.Seed
	}
	if err := firstErr(checkInt("batch", s.Batch, 1, maxBatch), checkPlotPath(s.Plot)); err != nil {
		return err
	}
	human := humanOut(s.JSON, stdout, stderr)
	prec, err := applyPrecision(*precision, stderr)
	if err != nil {
		return err
	}
	ev, err := loadEval(&s, explicit["split-seed"] || explicit["seed"], stderr)
	if err != nil {
		return err
	}
	t0 := time.Now()
	mt, err := train.Evaluate(ev.m, ev.ds, s.Batch, prec)
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	splitDesc := s.Split
	if s.Split != "test" {
		splitDesc = fmt.Sprintf("%s (--scheme %s --split-seed %d)", s.Split, s.Scheme, s.SplitSeed)
	}
	fmt.Fprintf(human, "model %s\ndata %s, split %s: %d images\ntop-1 accuracy %.4f (%d/%d), loss %.4f, %.1fs (%.0f img/s)\n",
		ev.from, s.Data, splitDesc, mt.N, mt.Accuracy, mt.Correct, mt.N, mt.Loss, secs, float64(mt.N)/secs)
	names := outputNames(ev.labels, ev.ds.Classes, len(mt.Confusion[0])) // rows are the first len(mt.Confusion) outputs
	perClass := perClassRows(mt, names)
	printPerClass(human, perClass, "images")
	if s.Plot != "" {
		if err := plotConfusion(s.Plot, ev.from, s.Data, s.Split, mt, names); err != nil {
			return err
		}
		notePlot(human, s.Plot, names)
	}
	if s.JSON {
		fmt.Fprintln(stdout, jsonLine(map[string]any{"accuracy": mt.Accuracy, "n": mt.N, "correct": mt.Correct, "loss": mt.Loss,
			"model": ev.from, "data": s.Data, "split": s.Split, "scheme": s.Scheme, "split_seed": s.SplitSeed, "seconds": secs, "precision": prec.String(),
			"per_class": perClass, "confusion": mt.Confusion}))
	}
	return nil
}

// evalJob is what eval scores: the model (and where it came from, its
// class names) and the split.
type evalJob struct {
	m      *vit.Model
	from   string
	labels []string
	ds     *data.Dataset
}

// loadEval loads the model and the data at the model's input, settles
// --scheme and --split-seed (the model's record for the same data when not
// given; seedGiven: either seed flag was), refuses a split that would hold
// the model's training images or classes the head does not have, and
// draws the split.
func loadEval(s *evalSettings, seedGiven bool, log io.Writer) (*evalJob, error) {
	m, ck, from, fresh, err := resolveModel(s.Model, s.SplitSeed, 0)
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	if err := applyResize(s.Resize, &m.Cfg, log); err != nil {
		return nil, err
	}
	if s.Scheme == "" {
		scheme, recSeed, fromRecord := splitDefaults(ck.Training, s.Data)
		s.Scheme = scheme
		if fromRecord && !seedGiven {
			s.SplitSeed = recSeed
		}
	}
	if err := data.CheckScheme(s.Scheme); err != nil {
		return nil, fmt.Errorf("--scheme %s: %w", s.Scheme, err)
	}
	if err := checkHeldOut(ck.Training, s.Data, s.Split, s.Scheme, s.SplitSeed); err != nil {
		return nil, err
	}
	trainSet, testSet, err := resolveFor(s.Data, m.Cfg, log)
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", s.Data, err)
	}
	if err := checkSplitClasses(s.Data, trainSet, testSet); err != nil {
		return nil, err
	}
	if fresh && m.Cfg.NumClasses != trainSet.NumClasses() {
		// a preset takes its class count from the data (as in pretrain)
		if err := m.ResetHead(trainSet.NumClasses(), vit.HeadRNG(s.SplitSeed)); err != nil {
			return nil, fmt.Errorf("--model: %w", err)
		}
	}
	if err := checkEvalClasses(s.Model, m.Cfg.NumClasses, ck.Labels, s.Data, trainSet.Classes, log); err != nil {
		return nil, err
	}
	ds, err := data.Split(trainSet, testSet, s.Split, s.Scheme, s.SplitSeed)
	if err != nil {
		return nil, fmt.Errorf("--split %s --scheme %s: %w", s.Split, s.Scheme, err)
	}
	return &evalJob{m: m, from: from, labels: ck.Labels, ds: ds}, nil
}

// checkEvalClasses refuses to score a model whose head has another number
// of outputs than the data has classes (output i is scored as the data's
// class i, so the accuracy would mean nothing), and warns when both name
// their classes and the names differ.
func checkEvalClasses(model string, outputs int, labels []string, spec string, classes []string, log io.Writer) error {
	if outputs == 0 {
		return fmt.Errorf("--model %s has no classification head: nothing to score (give it one for --data %s with glora pretrain --new-head or glora finetune)", model, spec)
	}
	named := "its class names unknown"
	if namesEvery(labels, outputs) {
		named = data.ClassList(labels)
	}
	if outputs != len(classes) {
		return fmt.Errorf("--model %s has a %d-class head (%s) but --data %s has %d classes (%s): output i would be scored as the data's class i; adapt the model to this data first (glora finetune, glora run) or evaluate it on the data it was trained for",
			model, outputs, named, spec, len(classes), data.ClassList(classes))
	}
	if otherClassNames(labels, classes) {
		fmt.Fprintf(log, "warning: --model %s names its classes %s, --data %s names them %s: output i is scored as the data's class i\n",
			model, data.ClassList(labels), spec, data.ClassList(classes))
	}
	return nil
}

// classAccuracy is one class's line of eval's per-class table.
type classAccuracy struct {
	Index    int      `json:"index"`
	Class    string   `json:"class"`
	N        int      `json:"n"`
	Correct  int      `json:"correct"`
	Accuracy *float64 `json:"accuracy"` // null for a class without images (documents)
}

// outputNames names a model's n outputs: the model's labels when it has
// one per output, else the data's class names, else indices.
func outputNames(model, data []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		switch {
		case len(model) == n && model[i] != "":
			out[i] = model[i]
		case i < len(data) && data[i] != "":
			out[i] = data[i]
		case i < len(model) && model[i] != "":
			out[i] = model[i]
		default:
			out[i] = fmt.Sprint(i)
		}
	}
	return out
}

// perClassRows is each class's accuracy from the confusion matrix.
func perClassRows(mt train.Metrics, names []string) []classAccuracy {
	acc := mt.PerClass()
	rows := make([]classAccuracy, len(mt.Confusion))
	for t, row := range mt.Confusion {
		r := classAccuracy{Index: t, Class: names[t], Correct: row[t]}
		for _, v := range row {
			r.N += v
		}
		if r.N > 0 {
			a := acc[t]
			r.Accuracy = &a
		}
		rows[t] = r
	}
	return rows
}

// printPerClass writes the per-class table, counting items (images,
// documents).
func printPerClass(w io.Writer, rows []classAccuracy, items string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "class\t%s\tcorrect\taccuracy\n", items)
	for _, r := range rows {
		a := "-"
		if r.Accuracy != nil {
			a = fmt.Sprintf("%.4f", *r.Accuracy)
		}
		fmt.Fprintf(tw, "%d %s\t%d\t%d\t%s\n", r.Index, r.Class, r.N, r.Correct, a)
	}
	tw.Flush()
}

// plotConfusion writes --plot: mt's confusion matrix of model on data's
// split, its classes named by names.
func plotConfusion(path, model, data, split string, mt train.Metrics, names []string) error {
	title := fmt.Sprintf("%s on %s (%s): accuracy %.4f", filepath.Base(model), data, split, mt.Accuracy)
	if err := plot.WriteConfusionPNG(path, plot.Confusion{Title: title, Labels: names, Counts: mt.Confusion}); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
}

// notePlot says where plotConfusion wrote and which characters of the
// names it could not draw.
func notePlot(w io.Writer, path string, names []string) {
	fmt.Fprintf(w, "confusion matrix: %s\n", path)
	noteGlyphs(w, names)
}

// checkPlotPath refuses, before any work, a --plot file whose folder does
// not exist or that is a folder.
func checkPlotPath(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("--plot %s is a folder; want a file name such as confusion.png", path)
	}
	if !strings.EqualFold(filepath.Ext(path), ".png") {
		return fmt.Errorf("--plot %s: the plot is a PNG image; name it FILE.png", path)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--plot %s: folder %s does not exist", path, dir)
	}
	return nil
}

// noteGlyphs says which characters of the class names the confusion
// plot's font (Go Mono: Latin, Greek, Cyrillic) cannot draw; they are drawn
// as '?' there, and the text outputs keep the names as they are.
func noteGlyphs(w io.Writer, names []string) {
	if m := plot.Unsupported(strings.Join(names, "")); len(m) > 0 {
		fmt.Fprintf(w, "note: the confusion plot's font has no glyph for %s; they are drawn as '?' (the names are kept as they are everywhere else)\n", strconv.Quote(string(m)))
	}
}
