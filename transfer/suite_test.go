package transfer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/pipeline"
)

func TestValidateRefusesBadSuites(t *testing.T) {
	ok := Config{Out: "x", Tasks: []string{"mnist"}, Methods: []string{"lora"}, Seeds: 1, Recipe: pipeline.MustNamed(pipeline.Default)}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]func(*Config){
		"no out":        func(c *Config) { c.Out = "" },
		"method":        func(c *Config) { c.Methods = []string{"lora", "adapterformer"} },
		"seeds":         func(c *Config) { c.Seeds = 0 },
		"shots":         func(c *Config) { c.FewShot, c.Shots = []string{"digits"}, []int{0} },
		"no shots":      func(c *Config) { c.FewShot = []string{"digits"} },
		"shift":         func(c *Config) { c.Shifts = []string{"sketch"} },
		"shift no task": func(c *Config) { c.Tasks, c.Shifts = []string{"digits"}, []string{"invert"} },
		"recipe":        func(c *Config) { c.Recipe.Runs = map[string]pipeline.Schedule{} },
		"no tasks":      func(c *Config) { c.Tasks = nil },
		"task spec":     func(c *Config) { c.Tasks = []string{"mnist", "nope"} },
		"few-shot spec": func(c *Config) { c.FewShot = []string{"synth:count:x=1"} },
	} {
		bad := ok
		c(&bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, bad)
		}
	}
}

func TestPlanKeysAreUnique(t *testing.T) {
	c := Config{Tasks: DefaultTasks, FewShot: DefaultFewShot, Shots: DefaultShots, Methods: pipeline.Methods, Seeds: 3}
	plan := c.Plan()
	if want := 3 * (len(DefaultTasks) + len(DefaultFewShot)*len(DefaultShots)) * len(pipeline.Methods); len(plan) != want {
		t.Fatalf("%d cells, want %d", len(plan), want)
	}
	seen := map[string]bool{}
	for _, cell := range plan {
		k := cell.Key()
		if seen[k] || strings.ContainsAny(k, "/:\\ ") {
			t.Fatalf("key %q repeated or not a file name", k)
		}
		seen[k] = true
	}
}

// tinyBackbone is a random vit-micro-sized model at 28×28 (fast): the
// suite's mechanics, not its numbers, are under test.
func tinyBackbone() (*vit.Model, vit.Checkpoint, error) {
	cfg, err := vit.Preset("vit-micro")
	if err != nil {
		return nil, vit.Checkpoint{}, err
	}
	cfg.ImageSize, cfg.PatchSize, cfg.NumClasses = 28, 7, 3
	m, err := vit.New(cfg, rand.New(rand.NewPCG(7, 7)))
	return m, vit.Checkpoint{Config: cfg}, err
}

func tinySuite(out string, log *bytes.Buffer) Config {
	r := pipeline.MustNamed(pipeline.Quick)
	r.Search.Population, r.Search.TopK, r.Search.Generations, r.Search.Mutations, r.Search.Crossovers = 3, 1, 1, 1, 1
	return Config{Out: out, Tasks: []string{"synth:orientation:train=1000,test=120"}, FewShot: []string{"synth:orientation:train=1000,test=120"},
		Shots: []int{1}, Methods: []string{pipeline.Searched, finetune.Linear}, Seeds: 1, Recipe: r,
		Log: log, Backbone: tinyBackbone, BaseRef: "tiny"}
}

// TestSuiteRunsResumesAndReports runs a tiny suite, then runs it again
// after deleting one finished cell: only that cell runs again, and gives
// the same numbers (seeded end to end). The report has every section and
// a changed recipe is refused in the same folder.
func TestSuiteRunsResumesAndReports(t *testing.T) {
	if testing.Short() {
		t.Skip("trains eight small runs")
	}
	out := t.TempDir()
	var log bytes.Buffer
	c := tinySuite(out, &log)
	first, err := Run(context.Background(), c)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(first) != 4 {
		t.Fatalf("%d results, want 4", len(first))
	}
	for _, r := range first {
		if r.NTest != 120 || r.TestAcc < 0 || r.TestAcc > 1 || r.Trainable() <= 0 {
			t.Fatalf("bad result %+v", r)
		}
		if r.Group == GroupVTAB && (r.NTrain != 800 || r.NVal != 200) {
			t.Fatalf("vtab1k cell trained on %d/%d images", r.NTrain, r.NVal)
		}
		if r.Group == GroupFewShot && (r.NTrain != 8 || r.NVal != 8) {
			t.Fatalf("1-shot cell of 8 classes trained on %d/%d images", r.NTrain, r.NVal)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, ResultsMD))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## VTAB-1k protocol", "## Few-shot", "## Targets", "## Recipe", "**mean**", "searched GLoRA ≥ linear"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	for _, f := range []string{ResultsCSV, ParamsPlot, FewShotPlot} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if csv, _ := os.ReadFile(filepath.Join(out, ResultsCSV)); bytes.Count(csv, []byte("\n")) != 5 {
		t.Errorf("results.csv has %d lines, want a header and 4 cells:\n%s", bytes.Count(csv, []byte("\n")), csv)
	}
	if entries, _ := os.ReadDir(filepath.Join(out, RunsDir)); len(entries) != 0 {
		t.Errorf("run folders left behind without KeepRuns: %d", len(entries))
	}

	// Resume: delete one finished cell; only it runs again.
	gone := first[1].Cell
	if err := os.Remove(CellPath(out, gone)); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	again, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "(3 finished before, 1 to run)") {
		t.Fatalf("resumed suite did not skip the finished cells:\n%s", log.String())
	}
	for i := range first {
		a, b := first[i], again[i]
		a.Seconds, b.Seconds = 0, 0
		if a.TestAcc != b.TestAcc || a.ValAcc != b.ValAcc || a.Support != b.Support || a.Note != b.Note {
			t.Errorf("cell %s: %+v, then %+v", a.Key(), a, b)
		}
	}

	// Another recipe in the same folder is refused.
	c.Recipe.Runs[finetune.Linear] = pipeline.Schedule{Epochs: 2, LR: 0.1}
	if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Fatalf("a changed recipe was accepted: %v", err)
	}
}

// TestSuiteStopsCleanly: a cancelled suite returns an error and leaves no
// cell file, so the cell runs again next time.
func TestSuiteStopsCleanly(t *testing.T) {
	out := t.TempDir()
	var log bytes.Buffer
	c := tinySuite(out, &log)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, c); err == nil {
		t.Fatal("a cancelled suite reported success")
	}
	if entries, _ := os.ReadDir(filepath.Join(out, CellsDir)); len(entries) != 0 {
		t.Fatalf("%d cells written by a cancelled suite", len(entries))
	}
}

func TestMissingTaskIsSkippedOnlyWhenAsked(t *testing.T) {
	// No emoji package where the loader looks.
	t.Setenv("GLORA_EMOJI_DIR", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var log bytes.Buffer
	c := tinySuite(t.TempDir(), &log)
	c.Tasks, c.FewShot = []string{"emoji"}, nil
	if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "emoji") {
		t.Fatalf("a missing dataset named by the user: %v", err)
	}
	c.SkipMissing = true
	res, err := Run(context.Background(), c)
	if err != nil || len(res) != 0 {
		t.Fatalf("skipping: %v, %d results", err, len(res))
	}
	md, _ := os.ReadFile(filepath.Join(c.Out, ResultsMD))
	if !bytes.Contains(md, []byte("## Not run")) || !bytes.Contains(md, []byte("npm install")) {
		t.Fatalf("results.md does not say what was skipped:\n%s", md)
	}
}

// A task too small for its protocol is refused before anything is written.
func TestTooSmallTaskRefusedUpFront(t *testing.T) {
	var log bytes.Buffer
	c := tinySuite(filepath.Join(t.TempDir(), "suite"), &log)
	c.Tasks, c.FewShot = []string{"synth:count:train=500,test=100"}, nil
	_, err := Run(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "vtab1k needs 1000 training images") {
		t.Fatalf("a 500-image task: %v", err)
	}
	if _, err := os.Stat(c.Out); !os.IsNotExist(err) {
		t.Fatalf("the refused suite left %s behind", c.Out)
	}
}

// Report rewrites the report from finished cells without running any, and
// refuses a folder that holds no suite.
func TestReportOnly(t *testing.T) {
	out := t.TempDir()
	var log bytes.Buffer
	c := tinySuite(out, &log)
	if _, err := Report(c); err == nil {
		t.Fatal("a report of an empty folder was written")
	}
	c.Methods = []string{finetune.Linear}
	c.FewShot = nil
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(out, ResultsMD)); err != nil {
		t.Fatal(err)
	}
	c.Methods = []string{finetune.Linear, pipeline.Searched} // one finished cell, one not: nothing runs
	res, err := Report(c)
	if err != nil || len(res) != 1 {
		t.Fatalf("report: %d results, %v", len(res), err)
	}
	md, err := os.ReadFile(filepath.Join(out, ResultsMD))
	if err != nil || !bytes.Contains(md, []byte("Cells finished: 1.")) {
		t.Fatalf("results.md: %v\n%s", err, md)
	}
}

// Sharded processes sharing one folder make the unsharded suite's cells
// and report; two processes racing on the same shard leave whole cells.
func TestShardsMatchOneRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the tiny suite four times")
	}
	one := t.TempDir()
	var log bytes.Buffer
	if _, err := Run(context.Background(), tinySuite(one, &log)); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	run := func(out string, shards ...[2]int) {
		t.Helper()
		errs := make(chan error, len(shards))
		for _, sh := range shards {
			go func() {
				c := tinySuite(out, &bytes.Buffer{})
				c.Log = nil
				c.Shard, c.Shards = sh[0], sh[1]
				_, err := Run(context.Background(), c)
				errs <- err
			}()
		}
		for range shards {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	sharded, raced := t.TempDir(), t.TempDir()
	run(sharded, [2]int{0, 3}, [2]int{1, 3}, [2]int{2, 3})
	run(raced, [2]int{0, 2}, [2]int{0, 2}, [2]int{1, 2})
	// The report of whatever cells are there, as a finished shard leaves it.
	c := tinySuite(sharded, &bytes.Buffer{})
	if _, err := Report(c); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{sharded, raced} {
		for _, cell := range c.Plan() {
			want, err := readResult(one, cell)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readResult(out, cell)
			if err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			want.Seconds, got.Seconds = 0, 0
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("cell %s: sharded %+v, one run %+v", cell.Key(), got, want)
			}
		}
	}
	// results.md is the same but for the time row.
	noTimes := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, ResultsMD))
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "| time per task") {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "\n")
	}
	if a, b := noTimes(one), noTimes(sharded); a != b {
		t.Errorf("results.md of the shards differs from one run's:\n%s\n---\n%s", b, a)
	}
	if entries, _ := os.ReadDir(filepath.Join(raced, RunsDir)); len(entries) != 0 {
		t.Errorf("run folders left behind: %d", len(entries))
	}
	bad := tinySuite(t.TempDir(), &bytes.Buffer{})
	bad.Shard, bad.Shards = 2, 2
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "shard 2 of 2") {
		t.Errorf("shard 2 of 2: %v", err)
	}
}
