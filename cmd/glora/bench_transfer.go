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
// transferSettings are `glora bench transfer`'s flags (declarative: see
// decl.go); config turns them into a transfer.Config.
type transferSettings struct {
	Out       string `flag:"out" json:"out" help:"the suite's folder: finished cells (cells/), results.md, results.csv, plots; run the same command again to continue a stopped suite (required)"`
	Tasks     string `flag:"tasks" json:"tasks" help:"VTAB-1k tasks (data specs, comma-separated; none for no task)"`
	FewShot   string `flag:"few-shot" json:"few_shot" help:"few-shot tasks (data specs; none for no few-shot)"`
	Shots     string `flag:"shots" json:"shots" help:"few-shot training images per class (comma-separated)"`
	Shifts    string `flag:"shifts" json:"shifts" help:"MNIST test shifts the mnist task's models are also tested on (none for no domain-shift test)"`
	Methods   string `flag:"methods" json:"methods" help:"methods (comma-separated)"`
	Recipe    string `flag:"recipe" json:"recipe" help:"the training budget of every method: {recipes} (--quick implies quick)"`
	Seeds     int    `flag:"seeds" json:"seeds" help:"seeds per cell (0 … N-1): mean ± std over them"`
	TestLimit int    `flag:"test-limit" json:"test_limit" help:"cut a larger test split to a fixed stratified subset of this many images (0: no cut)"`
	Quick     bool   `flag:"quick" json:"quick" help:"a tiny suite that tests the suite itself: synth:count (VTAB-1k and 2-shot), lora and glora-searched, one seed, --recipe quick (one epoch per run); its numbers mean nothing"`
	KeepRuns  bool   `flag:"keep-runs" json:"keep_runs" help:"keep each cell's run folder (checkpoints, adapters, merged model) in OUT/runs"`
	Verbose   bool   `flag:"verbose" json:"verbose" help:"print every run's epochs and the search's progress (default: a line per cell)"`
	Report    bool   `flag:"report" json:"report" help:"only rewrite the report (results.md, results.csv, plots) from the finished cells in --out, running nothing"`
	DryRun    bool   `flag:"dry-run" json:"dry_run" help:"list the cells (and which are finished) and stop"`
	Shard     string `flag:"shard" json:"shard" help:"I/N: run only the cells whose index in the plan is ≡ I mod N (0 ≤ I < N), for N processes or machines sharing --out; each writes its own cells, and the report covers every finished cell (deploy/ runs it as a Kubernetes Indexed Job)"`
}

func transferDefaults() transferSettings {
	return transferSettings{Tasks: strings.Join(transfer.DefaultTasks, ","), FewShot: strings.Join(transfer.DefaultFewShot, ","),
		Shots: joinInts(transfer.DefaultShots), Shifts: strings.Join(transfer.DefaultShifts, ","), Methods: strings.Join(pipeline.Methods, ","),
		Recipe: pipeline.Default, Seeds: transfer.DefaultSeeds, TestLimit: transfer.DefaultTestLimit}
}

func runBenchTransfer(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench transfer", "bench transfer --out DIR [--quick] [--tasks …] [--methods …] [--seeds N] [flags]", stderr)
	s := transferDefaults()
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if s.Out == "" {
		return fmt.Errorf("--out: the suite needs a folder (it keeps every finished cell there, so a stopped suite continues)")
	}
	c, err := s.config(explicitFlags(fs), stderr)
	if err != nil {
		return err
	}
	switch {
	case s.DryRun:
		printPlan(stdout, c)
		return nil
	case s.Report:
		results, err := transfer.Report(c)
		if err != nil {
			return flagError(err)
		}
		fmt.Fprintf(stdout, "report of %d finished cells: %s\n", len(results), filepath.Join(c.Out, transfer.ResultsMD))
		return nil
	}
	return runSuite(c, stdout)
}

// config is the suite the flags ask for (set: the flags given), checked.
func (s transferSettings) config(set map[string]bool, log io.Writer) (transfer.Config, error) {
	if s.Quick && !set["recipe"] {
		s.Recipe = pipeline.Quick
	}
	r, err := pipeline.Named(s.Recipe)
	if err != nil {
		return transfer.Config{}, fmt.Errorf("--recipe: %w", err)
	}
	c := transfer.Config{Out: s.Out, Seeds: s.Seeds, TestLimit: s.TestLimit, Recipe: r, KeepRuns: s.KeepRuns, Verbose: s.Verbose, Log: log}
	if s.TestLimit == 0 {
		c.TestLimit = -1
	}
	if s.Shard != "" {
		if c.Shard, c.Shards, err = parseShard(s.Shard); err != nil {
			return c, err
		}
	}
	for _, l := range []struct {
		flag, v string
		dst     *[]string
	}{{"tasks", s.Tasks, &c.Tasks}, {"few-shot", s.FewShot, &c.FewShot}, {"shifts", s.Shifts, &c.Shifts}, {"methods", s.Methods, &c.Methods}} {
		if *l.dst, err = specList(l.flag, l.v); err != nil {
			return c, err
		}
	}
	if c.Shots, err = intList("shots", s.Shots); err != nil {
		return c, err
	}
	if s.Quick {
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
	if err := firstErr(checkInt("seeds", c.Seeds, 1, 100), checkInt("test-limit", s.TestLimit, 0, 1_000_000)); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, flagError(err)
	}
	return c, nil
}

// printPlan lists this process's cells of the plan and which are finished.
func printPlan(w io.Writer, c transfer.Config) {
	for i, cell := range c.Plan() {
		if !c.Mine(i) {
			continue
		}
		state := "to run"
		if _, err := os.Stat(transfer.CellPath(c.Out, cell)); err == nil {
			state = "finished"
		}
		fmt.Fprintf(w, "%-9s %-22s %-8s %-15s seed %d  %s\n", cell.Group, cell.Task, cell.Scheme, cell.Method, cell.Seed, state)
	}
}

// runSuite runs the suite's cells (those not finished) and the report.
func runSuite(c transfer.Config, stdout io.Writer) error {
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0, cpu0 := time.Now(), cpuSeconds()
	results, err := transfer.Run(ctx, c)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return &exitError{code: interruptCode(ctx), err: fmt.Errorf("interrupted; finished cells are kept in %s: run the same command again to continue", c.Out)}
		}
		return err
	}
	fmt.Fprintf(stdout, "transfer suite: %d cells in %s; this call %.1f min wall, %.1f CPU-min\n",
		len(results), c.Out, time.Since(t0).Minutes(), (cpuSeconds()-cpu0)/60)
	fmt.Fprintf(stdout, "report: %s (table), %s (one row per cell), plots %s, %s, %s\n",
		filepath.Join(c.Out, transfer.ResultsMD), filepath.Join(c.Out, transfer.ResultsCSV),
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

// flagError is the suite's error without its package prefix (the command
// names itself), still wrapping it.
func flagError(err error) error { return suiteError{err} }

type suiteError struct{ error }

func (e suiteError) Error() string { return strings.TrimPrefix(e.error.Error(), "transfer: ") }
func (e suiteError) Unwrap() error { return e.error }

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
