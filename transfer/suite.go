// Package transfer is glora's transfer benchmark: the shipped backbone
// adapted by every fine-tuning method to several tasks under one budget
// (a pipeline.Recipe), and tested once per run on a held-out split.
//
//	vtab1k    the VTAB-1k protocol per task: 800 training and 200
//	          validation images drawn (seeded, stratified) from the task's
//	          training split; the search and every choice (best epoch,
//	          retrain) on validation; test on the held-out split
//	few-shot  K ∈ Shots training images per class and K validation images
//	          per class, the same budget in optimiser steps
//	shift     the mnist task's models tested on shifted MNIST test sets
//	          (mnist:rotate30, …), a domain-shift test
//
// A suite is a list of cells (group, task, method, seed); each finished
// cell is a JSON file in OUT/cells, so a killed suite resumes without
// redoing finished cells (a cell cut short starts over). The report
// (results.md, results.csv, plots) is written from the cells after each
// one.
package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// Groups of cells.
const (
	GroupVTAB    = "vtab1k"
	GroupFewShot = "few-shot"
)

// Defaults of a full suite.
var (
	DefaultTasks   = []string{"mnist", "digits", "emoji", "synth:count", "synth:position", "synth:orientation"}
	DefaultFewShot = []string{"mnist", "digits", "emoji"}
	DefaultShots   = []int{1, 2, 4, 8, 16}
	DefaultShifts  = data.Shifts
)

// DefaultSeeds is the number of seeds of a full suite (mean ± std).
const DefaultSeeds = 3

// DefaultTestLimit caps a test split: a larger one is cut to a fixed
// stratified subset of this many images (the same for every method and
// seed), which keeps MNIST's 10,000 test images from costing more than
// the training.
const DefaultTestLimit = 2000

// Config is a suite.
type Config struct {
	Out     string   // the suite's folder (cells, runs, report)
	Tasks   []string // vtab1k tasks (data specs)
	FewShot []string // few-shot tasks (data specs)
	Shots   []int    // shots per class of the few-shot tasks
	Shifts  []string // MNIST test shifts the vtab1k mnist models are tested on (needs "mnist" in Tasks)
	Methods []string // of pipeline.Methods
	Seeds   int      // seeds 0 … Seeds-1: each draws its own split and trains its own runs
	// TestLimit caps every test split (0: DefaultTestLimit; -1: no cap).
	TestLimit int
	Recipe    pipeline.Recipe
	// SkipMissing leaves out, with a message, tasks whose data is not
	// installed (the default task lists); otherwise a missing dataset is
	// an error.
	SkipMissing bool
	KeepRuns    bool      // keep each cell's run folder (checkpoints, merged model) in OUT/runs
	Log         io.Writer // progress: a line per cell started and finished
	Verbose     bool      // also every run's epochs and the search's progress (in Log)
	// Backbone loads the model every run starts from (nil: the shipped
	// backbone), and BaseRef names it in adapters.
	Backbone func() (*vit.Model, vit.Checkpoint, error)
	BaseRef  string
	// Shard and Shards split the plan over processes (machines sharing
	// Out): this one runs the cells whose index in Plan is ≡ Shard mod
	// Shards (Shards 0 or 1: every cell). Each finished cell is its own
	// file, and the report is made from every finished cell in Out, so the
	// shards' reports converge on the unsharded one.
	Shard, Shards int
}

// Mine reports whether the cell at index i of the plan is this shard's.
func (c Config) Mine(i int) bool { return c.Shards <= 1 || i%c.Shards == c.Shard }

// Cell is one run of one method on one task with one seed.
type Cell struct {
	Group  string `json:"group"`
	Task   string `json:"task"`
	Scheme string `json:"scheme"` // vtab1k or Kshot
	Shots  int    `json:"shots,omitempty"`
	Method string `json:"method"`
	Seed   uint64 `json:"seed"`
}

// Key names the cell's files: group_task_scheme_method_seed, with
// characters other than letters, digits, '-' and '.' as '_'.
func (c Cell) Key() string {
	s := fmt.Sprintf("%s_%s_%s_%s_s%d", c.Group, c.Task, c.Scheme, c.Method, c.Seed)
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// Result is a finished cell.
type Result struct {
	Cell
	NTrain    int     `json:"n_train"`
	NVal      int     `json:"n_val"`
	NTest     int     `json:"n_test"`
	Support   int     `json:"support_params"`
	Head      int     `json:"head_params"`
	ValAcc    float64 `json:"val_accuracy"`
	TestAcc   float64 `json:"test_accuracy"`
	BestEpoch int     `json:"best_epoch"`
	Epochs    int     `json:"epochs"` // of the (last) run, after scaling for small training sets
	Seconds   float64 `json:"seconds"`
	Note      string  `json:"note,omitempty"`
	// Shifted: test accuracy on each shifted MNIST test set (vtab1k mnist cells).
	Shifted map[string]float64 `json:"shifted,omitempty"`
}

// Trainable is the cell's trainable parameter count (support + head).
func (r Result) Trainable() int { return r.Support + r.Head }

// Plan lists the suite's cells: every vtab1k task, then every few-shot
// task and shot count, each with every method and seed.
func (c Config) Plan() []Cell {
	var out []Cell
	for seed := range uint64(max(c.Seeds, 1)) {
		for _, t := range c.Tasks {
			for _, m := range c.Methods {
				out = append(out, Cell{Group: GroupVTAB, Task: t, Scheme: "vtab1k", Method: m, Seed: seed})
			}
		}
		for _, t := range c.FewShot {
			for _, k := range c.Shots {
				for _, m := range c.Methods {
					out = append(out, Cell{Group: GroupFewShot, Task: t, Scheme: fmt.Sprintf("%dshot", k), Shots: k, Method: m, Seed: seed})
				}
			}
		}
	}
	return out
}

// withDefaults fills what c leaves unset: the test limit and the shipped
// backbone (named "shipped" in adapters).
func (c Config) withDefaults() Config {
	if c.TestLimit == 0 {
		c.TestLimit = DefaultTestLimit
	}
	if c.Backbone == nil {
		c.Backbone = backbones.Default
		if c.BaseRef == "" {
			c.BaseRef = "shipped"
		}
	}
	return c
}

// Validate checks the configuration before any work.
func (c Config) Validate() error {
	switch {
	case c.Out == "":
		return fmt.Errorf("transfer: no output folder")
	case len(c.Methods) == 0:
		return fmt.Errorf("transfer: no methods")
	case len(c.Tasks) == 0 && len(c.FewShot) == 0:
		return fmt.Errorf("transfer: no tasks")
	case c.Seeds < 1 || c.Seeds > 100:
		return fmt.Errorf("transfer: seeds %d, want 1 to 100", c.Seeds)
	case c.Shards < 0 || c.Shards > 0 && (c.Shard < 0 || c.Shard >= c.Shards):
		return fmt.Errorf("transfer: shard %d of %d: want 0 ≤ shard < shards", c.Shard, c.Shards)
	case len(c.FewShot) > 0 && len(c.Shots) == 0:
		return fmt.Errorf("transfer: few-shot tasks without shot counts")
	case len(c.Shifts) > 0 && !slices.Contains(c.Tasks, "mnist"):
		return fmt.Errorf("transfer: the domain-shift test (%s) evaluates the mnist task's models: add mnist to the tasks or drop the shifts",
			strings.Join(c.Shifts, ", "))
	}
	for _, k := range c.Shots {
		if k < 1 || k > 1000 {
			return fmt.Errorf("transfer: %d shots per class, want 1 to 1000", k)
		}
	}
	for _, m := range c.Methods {
		if !slices.Contains(pipeline.Methods, m) {
			return fmt.Errorf("transfer: unknown method %q (want %s)", m, strings.Join(pipeline.Methods, ", "))
		}
	}
	for _, t := range append(slices.Clone(c.Tasks), c.FewShot...) {
		if err := data.CheckSpec(t); err != nil {
			return fmt.Errorf("transfer: task %s: %w", t, err)
		}
	}
	for _, s := range c.Shifts {
		if !slices.Contains(data.Shifts, s) {
			return fmt.Errorf("transfer: unknown domain shift %q (want %s)", s, strings.Join(data.Shifts, ", "))
		}
	}
	return c.Recipe.Validate(c.Methods)
}

// Files in the suite's folder.
const (
	CellsDir   = "cells"
	RunsDir    = "runs"
	ResultsMD  = "results.md"
	ResultsCSV = "results.csv"
	ConfigFile = "suite.json"
)

// suiteRecord is what suite.json keeps: the settings the finished cells
// were made with, so that a resumed suite with another recipe is refused.
type suiteRecord struct {
	Recipe    pipeline.Recipe `json:"recipe"`
	TestLimit int             `json:"test_limit"`
	BaseRef   string          `json:"base"`
}

// task is a loaded dataset: its training split, its (capped) test split
// and shifted test sets.
type task struct {
	train, test *data.Dataset
	shifted     map[string]*data.Dataset
}

// Run runs every cell of the plan not already finished in c.Out, writing
// each result to OUT/cells/KEY.json as it finishes and the report after
// each one. It returns the results of the whole plan (those of skipped
// tasks left out).
func Run(ctx context.Context, c Config) ([]Result, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Log
	if log == nil {
		log = io.Discard
	}
	st, err := c.load(log)
	if err != nil {
		return nil, err
	}
	tasks, skipped, finished, todo := st.tasks, st.skipped, st.finished, st.todo
	plan := c.Plan()
	done := len(finished)
	shard := ""
	if c.Shards > 1 {
		shard = fmt.Sprintf(" (shard %d of %d: every %d-th cell from %d)", c.Shard, c.Shards, c.Shards, c.Shard)
	}
	fmt.Fprintf(log, "transfer suite%s: %d cells (%d finished before, %d to run), %d methods, %d seeds; in %s\n",
		shard, done+todo, done, todo, len(c.Methods), c.Seeds, c.Out)
	t0 := time.Now()
	ran := 0
	for i, cell := range plan {
		tk, ok := tasks[cell.Task]
		if !ok || !c.Mine(i) {
			continue
		}
		if _, ok := finished[cell]; ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		eta := ""
		if ran > 0 {
			per := time.Since(t0) / time.Duration(ran)
			left := per * time.Duration(todo-ran)
			if left > time.Minute {
				left = left.Round(time.Minute)
			}
			eta = fmt.Sprintf(", about %s left", left.Round(time.Second))
		}
		fmt.Fprintf(log, "[%d/%d%s] %s %s %s seed %d: ", ran+1, todo, eta, cell.Scheme, cell.Task, cell.Method, cell.Seed)
		if c.Verbose {
			fmt.Fprintln(log)
		}
		runLog := io.Discard
		if c.Verbose {
			runLog = log
		}
		r, err := runCell(ctx, c, cell, tk, runLog)
		if err != nil {
			return nil, fmt.Errorf("transfer: %s %s (%s, seed %d): %w", cell.Task, cell.Method, cell.Scheme, cell.Seed, err)
		}
		if err := writeResult(c.Out, r); err != nil {
			return nil, err
		}
		ran++
		if c.Verbose {
			fmt.Fprintf(log, "%s %s seed %d: ", cell.Task, cell.Method, cell.Seed)
		}
		fmt.Fprintf(log, "test accuracy %.4f (val %.4f), %d trainable parameters, %.0fs\n",
			r.TestAcc, r.ValAcc, r.Trainable(), r.Seconds)
		if _, err := reportFinished(c, tasks, skipped); err != nil {
			return nil, err
		}
	}
	return reportFinished(c, tasks, skipped)
}

// suiteState is what a suite run starts from: the loaded tasks, those
// skipped (with why), this shard's cells finished before and how many are
// left.
type suiteState struct {
	tasks    map[string]*task
	skipped  map[string]string
	finished map[Cell]Result
	todo     int
}

// load loads the plan's tasks (those that cannot load are skipped, with
// the reason), checks that every split the plan draws exists before the
// first cell trains, and reads the cells of this shard finished before;
// todo counts the others.
func (c Config) load(log io.Writer) (*suiteState, error) {
	v0, _, err := c.Backbone()
	if err != nil {
		return nil, fmt.Errorf("transfer: the backbone: %w", err)
	}
	st := &suiteState{finished: map[Cell]Result{}} // finished: read once, for the count and the loop
	st.tasks, st.skipped, err = loadTasks(c, v0.Cfg, log)
	if err != nil {
		return nil, err
	}
	plan := c.Plan()
	// Every split the plan draws must exist (enough images, enough of
	// each class) before the first cell trains.
	for _, cell := range plan {
		if tk, ok := st.tasks[cell.Task]; ok {
			if _, err := data.SplitIndices(tk.train, "train", cell.Scheme, cell.Seed); err != nil {
				return nil, fmt.Errorf("transfer: task %s: %w", cell.Task, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(c.Out, CellsDir), 0o755); err != nil {
		return nil, err
	}
	if err := checkRecord(c); err != nil {
		return nil, err
	}
	for i, cell := range plan {
		if _, ok := st.tasks[cell.Task]; !ok || !c.Mine(i) {
			continue
		}
		r, err := readResult(c.Out, cell)
		switch {
		case err == nil:
			st.finished[cell] = r
		case errors.Is(err, os.ErrNotExist):
			st.todo++
		default:
			return nil, err
		}
	}
	return st, nil
}

// reportFinished writes the report from every finished cell of the plan
// in c.Out (this shard's and the others') whose task loaded (tasks; nil:
// every task), and returns them.
func reportFinished(c Config, tasks map[string]*task, skipped map[string]string) ([]Result, error) {
	var results []Result
	for _, cell := range c.Plan() {
		if _, ok := tasks[cell.Task]; !ok && tasks != nil {
			continue
		}
		r, err := readResult(c.Out, cell)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, WriteReport(c.Out, c, results, skipped)
}

// Report rewrites the report (results.md, results.csv, the plots) from
// the plan's finished cells in c.Out, running nothing (e.g. after a suite
// was stopped, or with fewer seeds or tasks than it ran). It returns the
// results it found.
func Report(c Config) ([]Result, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.Out, ConfigFile)); err != nil {
		return nil, fmt.Errorf("transfer: %s holds no suite (%s): %w", c.Out, ConfigFile, err)
	}
	if err := checkRecord(c); err != nil {
		return nil, err
	}
	return reportFinished(c, nil, nil)
}

// checkRecord writes suite.json, or refuses a suite folder whose finished
// cells were made with other settings.
func checkRecord(c Config) error {
	rec := suiteRecord{Recipe: c.Recipe, TestLimit: c.TestLimit, BaseRef: c.BaseRef}
	want, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(c.Out, ConfigFile)
	have, err := os.ReadFile(path)
	if err == nil {
		if string(have) != string(want)+"\n" {
			return fmt.Errorf("transfer: %s holds cells made with other settings (recipe, test limit or base; see %s): use another folder",
				c.Out, path)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return atomicfile.WriteBytes(path, append(want, '\n'))
}

// CellPath is where a finished cell's result is kept in a suite folder.
func CellPath(out string, c Cell) string {
	return filepath.Join(out, CellsDir, c.Key()+".json")
}

func readResult(out string, c Cell) (Result, error) {
	b, err := os.ReadFile(CellPath(out, c))
	if err != nil {
		return Result{}, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("transfer: %s: %w (delete it to run the cell again)", CellPath(out, c), err)
	}
	if r.Cell != c {
		return Result{}, fmt.Errorf("transfer: %s holds cell %+v, want %+v (delete it to run the cell again)", CellPath(out, c), r.Cell, c)
	}
	return r, nil
}

func writeResult(out string, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(CellPath(out, r.Cell), append(b, '\n'))
}

// loadTasks loads every task's dataset at the model's input, its test
// split capped at c.TestLimit and, for mnist, the shifted test sets (the
// same images). With SkipMissing, a task whose data is absent is left out
// and reported in skipped (task → why).
func loadTasks(c Config, cfg vit.Config, log io.Writer) (map[string]*task, map[string]string, error) {
	pre := train.PreprocessFor(cfg)
	opt := data.ResolveOptions{H: pre.Height, W: pre.Width, Channels: pre.Channels, Interp: pre.Interp, CropPct: pre.CropPct}
	tasks := map[string]*task{}
	skipped := map[string]string{}
	for _, spec := range append(slices.Clone(c.Tasks), c.FewShot...) {
		if _, ok := tasks[spec]; ok || skipped[spec] != "" {
			continue
		}
		tr, te, err := data.ResolveWith(spec, opt)
		if err == nil && te == nil {
			err = fmt.Errorf("%s has no test split", spec)
		}
		if err != nil {
			if c.SkipMissing && isMissing(err) {
				skipped[spec] = err.Error()
				fmt.Fprintf(log, "transfer: skipping %s: %v\n", spec, err)
				continue
			}
			return nil, nil, fmt.Errorf("transfer: task %s: %w", spec, err)
		}
		idx, err := testSubset(te, c.TestLimit)
		if err != nil {
			return nil, nil, fmt.Errorf("transfer: task %s: %w", spec, err)
		}
		tk := &task{train: tr}
		if tk.test, err = te.Subset(idx); err != nil {
			return nil, nil, err
		}
		if spec == "mnist" && len(c.Shifts) > 0 {
			tk.shifted = map[string]*data.Dataset{}
			for _, s := range c.Shifts {
				_, st, err := data.ResolveWith("mnist:"+s, opt)
				if err != nil {
					return nil, nil, fmt.Errorf("transfer: shift %s: %w", s, err)
				}
				if tk.shifted[s], err = st.Subset(idx); err != nil {
					return nil, nil, err
				}
			}
		}
		tasks[spec] = tk
	}
	return tasks, skipped, nil
}

// isMissing tells a dataset that is not installed from a malformed one.
func isMissing(err error) bool {
	s := err.Error()
	return strings.Contains(s, "not found") || strings.Contains(s, "install") || errors.Is(err, os.ErrNotExist)
}

// testSubset is the indices of test kept under limit: all of them, or a
// fixed stratified subset of limit images (seed 0, the same for every
// cell).
func testSubset(test *data.Dataset, limit int) ([]int, error) {
	n := test.Len()
	if limit < 0 || n <= limit {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	frac := float64(limit) / float64(n)
	return data.SplitIndices(test, "val", fmt.Sprintf("holdout:%g", frac), 0)
}

// runCell trains the cell's method on its task and tests the kept model.
func runCell(ctx context.Context, c Config, cell Cell, tk *task, log io.Writer) (Result, error) {
	t, err := pipeline.NewTask(c.Backbone, c.BaseRef, tk.train, tk.test, cell.Task, cell.Scheme, cell.Seed, cell.Seed)
	if err != nil {
		return Result{}, err
	}
	t.Log = log
	// Each attempt trains in a folder of its own (a cell cut short starts
	// over; two shards given the same cell do not share one), kept as
	// runs/KEY with KeepRuns.
	if err := os.MkdirAll(filepath.Join(c.Out, RunsDir), 0o755); err != nil {
		return Result{}, err
	}
	dir, err := os.MkdirTemp(filepath.Join(c.Out, RunsDir), cell.Key()+".tmp-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // MkdirTemp's 0700 would stay on a kept run
		return Result{}, err
	}
	// The test split: read once per cell, by the kept model only, after it
	// was chosen (pipeline.Compare); the suite runs in float32.
	res, err := pipeline.Compare(ctx, t, c.Recipe, []string{cell.Method}, pipeline.Options{Dir: dir, Seed: cell.Seed, Log: log}, true)
	if err != nil {
		return Result{}, err
	}
	o := res[0]
	tr, val := t.Train, t.Val
	r := Result{Cell: cell, NTrain: tr.Len(), NVal: val.Len(), Support: o.Support, Head: o.Head,
		ValAcc: o.Val.Accuracy, BestEpoch: o.BestEpoch, Epochs: len(o.History), Seconds: o.Seconds, Note: o.Note,
		TestAcc: o.Test.Accuracy, NTest: o.Test.N}
	if cell.Group == GroupVTAB && len(tk.shifted) > 0 {
		m, _, err := vit.Load(o.Merged)
		if err != nil {
			return Result{}, err
		}
		r.Shifted = map[string]float64{}
		for _, s := range c.Shifts {
			mt, err := train.Evaluate(m, tk.shifted[s], 256, tensor.F32)
			if err != nil {
				return Result{}, err
			}
			r.Shifted[s] = mt.Accuracy
		}
	}
	if c.KeepRuns {
		keep := filepath.Join(c.Out, RunsDir, cell.Key())
		if err := os.RemoveAll(keep); err != nil {
			return Result{}, err
		}
		if err := os.Rename(dir, keep); err != nil {
			return Result{}, err
		}
	}
	return r, nil
}
