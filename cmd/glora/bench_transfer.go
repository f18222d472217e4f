package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/transfer"
)

// runBenchTransfer is `glora bench transfer`: the transfer suite
// (package transfer) with its report in --out.
func runBenchTransfer(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench transfer", "bench transfer --out DIR [--quick] [--tasks …] [--methods …] [--seeds N] [flags]", stderr)
	out := fs.String("out", "", "the suite's folder: finished cells (cells/), results.md, results.csv, plots; run the same command again to continue a stopped suite (required)")
	tasks := fs.String("tasks", strings.Join(transfer.DefaultTasks, ","), "VTAB-1k tasks (data specs, comma-separated; none for no task)")
	few := fs.String("few-shot", strings.Join(transfer.DefaultFewShot, ","), "few-shot tasks (data specs; none for no few-shot)")
	shots := fs.String("shots", joinInts(transfer.DefaultShots), "few-shot training images per class (comma-separated)")
	shifts := fs.String("shifts", strings.Join(transfer.DefaultShifts, ","), "MNIST test shifts the mnist task's models are also tested on (none for no domain-shift test)")
	methods := fs.String("methods", strings.Join(pipeline.Methods, ","), "methods (comma-separated)")
	recipe := fs.String("recipe", pipeline.Default, "the training budget of every method: "+strings.Join(pipeline.Names, ", ")+" (--quick implies quick)")
	seeds := fs.Int("seeds", transfer.DefaultSeeds, "seeds per cell (0 … N-1): mean ± std over them")
	testLimit := fs.Int("test-limit", transfer.DefaultTestLimit, "cut a larger test split to a fixed stratified subset of this many images (0: no cut)")
	quick := fs.Bool("quick", false, "a tiny suite that tests the suite itself: synth:count (VTAB-1k and 2-shot), lora and glora-searched, one seed, --recipe quick (one epoch per run); its numbers mean nothing")
	keep := fs.Bool("keep-runs", false, "keep each cell's run folder (checkpoints, adapters, merged model) in OUT/runs")
	verbose := fs.Bool("verbose", false, "print every run's epochs and the search's progress (default: a line per cell)")
	reportOnly := fs.Bool("report", false, "only rewrite the report (results.md, results.csv, plots) from the finished cells in --out, running nothing")
	dry := fs.Bool("dry-run", false, "list the cells (and which are finished) and stop")
	shard := fs.String("shard", "", "I/N: run only the cells whose index in the plan is ≡ I mod N (0 ≤ I < N), for N processes or machines sharing --out; each writes its own cells, and the report covers every finished cell (deploy/ runs it as a Kubernetes Indexed Job)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("--out: the suite needs a folder (it keeps every finished cell there, so a stopped suite continues)")
	}
	set := explicitFlags(fs)
	if *quick && !set["recipe"] {
		*recipe = pipeline.Quick
	}
	r, err := pipeline.Named(*recipe)
	if err != nil {
		return fmt.Errorf("--recipe: %w", err)
	}
	c := transfer.Config{Out: *out, Seeds: *seeds, TestLimit: *testLimit, Recipe: r, KeepRuns: *keep, Verbose: *verbose, Log: stderr}
	if *testLimit == 0 {
		c.TestLimit = -1
	}
	if *shard != "" {
		if c.Shard, c.Shards, err = parseShard(*shard); err != nil {
			return err
		}
	}
	if c.Tasks, err = specList("tasks", *tasks); err != nil {
		return err
	}
	if c.FewShot, err = specList("few-shot", *few); err != nil {
		return err
	}
	if c.Shifts, err = specList("shifts", *shifts); err != nil {
		return err
	}
	if c.Methods, err = specList("methods", *methods); err != nil {
		return err
	}
	if c.Shots, err = intList("shots", *shots); err != nil {
		return err
	}
	if *quick {
		pick := func(name string, dst *[]string, v []string) {
			if !set[name] {
				*dst = v
			}
		}
		pick("tasks", &c.Tasks, []string{"synth:count"})
		pick("few-shot", &c.FewShot, []string{"synth:count"})
		pick("shifts", &c.Shifts, nil)
		pick("methods", &c.Methods, []string{"lora", pipeline.Searched})
		if !set["shots"] {
			c.Shots = []int{2}
		}
		if !set["seeds"] {
			c.Seeds = 1
		}
	}
	// The default task lists skip what is not installed; a task named on
	// the command line must load.
	c.SkipMissing = !set["tasks"] && !set["few-shot"]
	if len(c.Shifts) > 0 && !slices.Contains(c.Tasks, "mnist") && !set["shifts"] {
		c.Shifts = nil
	}
	if err := firstErr(checkInt("seeds", c.Seeds, 1, 100), checkInt("test-limit", *testLimit, 0, 1_000_000)); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return flagError(err)
	}
	if *dry {
		for i, cell := range c.Plan() {
			if !c.Mine(i) {
				continue
			}
			state := "to run"
			if _, err := os.Stat(transfer.CellPath(*out, cell)); err == nil {
				state = "finished"
			}
			fmt.Fprintf(stdout, "%-9s %-22s %-8s %-15s seed %d  %s\n", cell.Group, cell.Task, cell.Scheme, cell.Method, cell.Seed, state)
		}
		return nil
	}
	if *reportOnly {
		results, err := transfer.Report(c)
		if err != nil {
			return flagError(err)
		}
		fmt.Fprintf(stdout, "report of %d finished cells: %s\n", len(results), filepath.Join(*out, transfer.ResultsMD))
		return nil
	}
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0, cpu0 := time.Now(), cpuSeconds()
	results, err := transfer.Run(ctx, c)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return &exitError{code: interruptCode(ctx), err: fmt.Errorf("interrupted; finished cells are kept in %s: run the same command again to continue", *out)}
		}
		return err
	}
	fmt.Fprintf(stdout, "transfer suite: %d cells in %s; this call %.1f min wall, %.1f CPU-min\n",
		len(results), *out, time.Since(t0).Minutes(), (cpuSeconds()-cpu0)/60)
	fmt.Fprintf(stdout, "report: %s (table), %s (one row per cell), plots %s, %s, %s\n",
		filepath.Join(*out, transfer.ResultsMD), filepath.Join(*out, transfer.ResultsCSV),
		transfer.ParamsPlot, transfer.FewShotPlot, transfer.ShiftPlot)
	return nil
}

// parseShard reads --shard I/N.
func parseShard(v string) (shard, shards int, err error) {
	i, n, ok := strings.Cut(v, "/")
	shard, err1 := strconv.Atoi(strings.TrimSpace(i))
	shards, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil || shards < 1 || shard < 0 || shard >= shards {
		return 0, 0, fmt.Errorf("--shard %q: want I/N with whole numbers 0 ≤ I < N, e.g. 0/4 (Kubernetes: $JOB_COMPLETION_INDEX/N)", v)
	}
	return shard, shards, nil
}

// flagError turns the suite's validation error into a flag error.
func flagError(err error) error {
	s := strings.TrimPrefix(err.Error(), "transfer: ")
	return fmt.Errorf("bench transfer: %s", s)
}

// specList splits a comma-separated flag value; "none" (or "") is empty.
func specList(flag, v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "none" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, fmt.Errorf("--%s %q: an empty item", flag, v)
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("--%s %q: %s named twice", flag, v, s)
		}
		out = append(out, s)
	}
	return out, nil
}

func intList(flag, v string) ([]int, error) {
	items, err := specList(flag, v)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, s := range items {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--%s: %q is not a whole number ≥ 1", flag, s)
		}
		out = append(out, n)
	}
	return out, nil
}
