package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/pipeline"
)

// stopAfterChecks is a context whose Err turns Canceled after n calls: the
// training loop asks once a step and the search once a candidate, so a
// command "killed" by it stops at a chosen point, saving what it has.
type stopAfterChecks struct {
	context.Context
	left atomic.Int64
}

func (c *stopAfterChecks) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func (c *stopAfterChecks) Done() <-chan struct{} { return nil }
func (c *stopAfterChecks) Deadline() (time.Time, bool) {
	return time.Time{}, false
}

// interruptAfter makes the next commands' Ctrl-C context stop after n checks.
func interruptAfter(t *testing.T, n int64) {
	t.Helper()
	old := notifyContext
	t.Cleanup(func() { notifyContext = old })
	notifyContext = func(parent context.Context, _ ...os.Signal) (context.Context, context.CancelFunc) {
		c := &stopAfterChecks{Context: parent}
		c.left.Store(n)
		return c, func() {}
	}
}

// pipelineData writes a 3-class image folder with train/ and test/.
func pipelineData(t *testing.T, dir string) string {
	writeClasses(t, dir, classNames(3), 12, true)
	return "folder:" + dir
}

func mustRun(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, o, e := runCLI(args...)
	if code != 0 {
		t.Fatalf("%v: exit %d\n%s%s", args, code, o, e)
	}
	return o, e
}

func mustInterrupt(t *testing.T, n int64, args ...string) {
	t.Helper()
	interruptAfter(t, n)
	code, o, e := runCLI(args...)
	notifyContext = signalNotifyContextForTests
	if code != 130 || !strings.Contains(e, "--resume") {
		t.Fatalf("%v interrupted after %d checks: exit %d, want 130 and how to resume\n%s%s", args, n, code, o, e)
	}
}

var signalNotifyContextForTests = notifyContext

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("%s and %s differ: the resumed run did not end as the uninterrupted one", a, b)
	}
}

// supernet, search and finetune, each killed and resumed, end exactly as
// uninterrupted runs; none of them reads the test split.
func TestPipelineCommandsResumeExactly(t *testing.T) {
	dir := t.TempDir()
	data := pipelineData(t, filepath.Join(dir, "data"))
	testReads.Lock()
	testReads.n = map[string]int{}
	testReads.Unlock()
	common := []string{"--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--seed", "3"}
	sn := func(out string) []string {
		return append([]string{"supernet", "--out", out, "--epochs", "3", "--batch", "8", "--checkpoint-every", "2"}, common...)
	}
	a, b := filepath.Join(dir, "sn-a"), filepath.Join(dir, "sn-b")
	mustRun(t, sn(a)...)
	mustInterrupt(t, 4, sn(b)...)
	if code, _, e := runCLI(sn(b)...); code != 1 || !strings.Contains(e, "holds a run of glora supernet") {
		t.Fatalf("a second supernet into a run folder: exit %d, %s", code, e)
	}
	mustRun(t, "supernet", "--resume", "--out", b)
	sameFile(t, filepath.Join(a, "supernet", "adapter_model.safetensors"), filepath.Join(b, "supernet", "adapter_model.safetensors"))

	search := []string{"--population", "6", "--topk", "3", "--generations", "3", "--mutations", "3", "--crossovers", "3", "--seed", "2"}
	o, _ := mustRun(t, append([]string{"search", "--run", a, "--json"}, search...)...)
	want := jsonLines(t, "search --json", o)[0]
	mustInterrupt(t, 5, append([]string{"search", "--run", b}, search...)...)
	if code, _, e := runCLI(append([]string{"search", "--run", b}, search...)...); code != 1 || !strings.Contains(e, "already holds a search") {
		t.Fatalf("a second search: exit %d, %s", code, e)
	}
	o, _ = mustRun(t, "search", "--resume", "--run", b, "--json")
	got := jsonLines(t, "search --resume --json", o)[0]
	if got["hash"] != want["hash"] || got["val_accuracy"] != want["val_accuracy"] || got["candidates"] != want["candidates"] {
		t.Fatalf("resumed search: %v, uninterrupted: %v", got, want)
	}
	sameFile(t, filepath.Join(a, "structure.json"), filepath.Join(b, "structure.json"))
	for _, f := range []string{"search.png", "searched/adapter_config.json", "search.jsonl"} {
		if !exists(filepath.Join(b, f)) {
			t.Fatalf("search wrote no %s", f)
		}
	}

	ft := func(out string) []string {
		return append([]string{"finetune", "--out", out, "--method", "glora", "--structure", filepath.Join(a, "structure.json"),
			"--init", "supernet:" + a, "--epochs", "3", "--batch", "8", "--checkpoint-every", "2"}, common...)
	}
	fa, fb := filepath.Join(dir, "ft-a"), filepath.Join(dir, "ft-b")
	o, _ = mustRun(t, append(ft(fa), "--json")...)
	res := jsonLines(t, "finetune --json", o)[0]
	if res["method"] != "glora" || res["trainable_params"].(float64) <= 0 {
		t.Fatalf("finetune --json: %v", res)
	}
	mustInterrupt(t, 3, ft(fb)...)
	mustRun(t, "finetune", "--resume", "--out", fb)
	// The resume kept the saved --checkpoint-every (2), not the flag's default.
	var fs finetuneSettings
	if err := readJSON(settingsFile(fb, "finetune"), &fs); err != nil || fs.CheckpointEvery != 2 {
		t.Fatalf("finetune --resume rewrote checkpoint_every: %d, %v", fs.CheckpointEvery, err)
	}
	sameFile(t, filepath.Join(fa, "adapter", "adapter_model.safetensors"), filepath.Join(fb, "adapter", "adapter_model.safetensors"))
	sameFile(t, filepath.Join(fa, "merged", "model.safetensors"), filepath.Join(fb, "merged", "model.safetensors"))

	// Every other method runs too; linear and full write no adapter.
	for _, m := range []string{"glora-fixed", "lora", "ssf", "ia3", "bitfit", "linear", "full"} {
		out := filepath.Join(dir, "m-"+m)
		mustRun(t, append([]string{"finetune", "--out", out, "--method", m, "--epochs", "1", "--batch", "8"}, common...)...)
		if hasAdapter := exists(filepath.Join(out, "adapter")); hasAdapter == (m == "linear" || m == "full") || !exists(filepath.Join(out, "merged", "config.json")) {
			t.Errorf("%s: adapter/ %v, merged/ %v", m, hasAdapter, exists(filepath.Join(out, "merged")))
		}
	}
	testReads.Lock()
	defer testReads.Unlock()
	if len(testReads.n) != 0 {
		t.Fatalf("supernet, search or finetune read the test split: %v", testReads.n)
	}
}

// run evaluates on the test split its --data names: a synth spec's test
// size and a domain shift are kept, not replaced by the training split's
// defaults.
func TestRunTestsOnTheDataSpecsTestSplit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	o, _ := mustRun(t, "run", "--base", "vit-micro", "--data", "synth:count:train=24,test=7", "--scheme", "holdout:0.25", "--out", out,
		"--supernet-epochs", "1", "--epochs", "1", "--population", "2", "--topk", "1", "--generations", "1", "--json")
	if got := jsonLines(t, "run --json", o)[0]["n_test"]; got != 7.0 {
		t.Fatalf("run tested on %v images, want the spec's 7", got)
	}
}

// run, killed in each stage and resumed, ends as an uninterrupted run; it
// reads the test split once, at the end.
func TestRunResumesExactly(t *testing.T) {
	dir := t.TempDir()
	data := pipelineData(t, filepath.Join(dir, "data"))
	args := func(out string) []string {
		return []string{"run", "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--out", out,
			"--supernet-epochs", "2", "--epochs", "2", "--population", "4", "--topk", "2", "--generations", "2",
			"--mutations", "2", "--crossovers", "2"}
	}
	testReads.Lock()
	testReads.n = map[string]int{}
	testReads.Unlock()
	a := filepath.Join(dir, "a")
	o, _ := mustRun(t, append(args(a), "--json")...)
	want := jsonLines(t, "run --json", o)[0]
	for _, k := range []string{"method", "val_accuracy", "test_accuracy", "trainable_params", "n_test", "seconds"} {
		if _, ok := want[k]; !ok {
			t.Errorf("run --json lacks %q: %v", k, want)
		}
	}
	testReads.Lock()
	if testReads.n["run"] != 1 || len(testReads.n) != 1 {
		t.Errorf("test split reads: %v, want run once", testReads.n)
	}
	testReads.Unlock()
	for _, f := range []string{"adapter/adapter_config.json", "merged/config.json", "report.md", "summary.json", "search.png", "supernet-curves.png", "structure.json"} {
		if !exists(filepath.Join(a, f)) {
			t.Errorf("run wrote no %s", f)
		}
	}
	// Killed during the supernet (after 3 steps), the search (its first
	// candidates) and the retraining, resumed each time.
	b := filepath.Join(dir, "b")
	stage := func(want string) {
		t.Helper()
		var at string
		switch {
		case !exists(finetune.SupernetDir(filepath.Join(b, pipeline.SupernetStage))):
			at = "supernet"
		case !exists(filepath.Join(b, pipeline.SearchStage, finetune.StructureFile)):
			at = "search"
		default:
			at = "retrain"
		}
		if at != want {
			t.Fatalf("interrupted in the %s stage, want %s", at, want)
		}
	}
	mustInterrupt(t, 1, args(b)...)
	stage("supernet")
	mustInterrupt(t, 51, "run", "--resume", "--out", b)
	stage("search")
	mustInterrupt(t, 12, "run", "--resume", "--out", b)
	stage("retrain")
	o, _ = mustRun(t, "run", "--resume", "--out", b, "--json")
	got := jsonLines(t, "run --resume --json", o)[0]
	for _, k := range []string{"val_accuracy", "test_accuracy", "trainable_params", "finalist", "search_val_accuracy", "search_candidates"} {
		if got[k] != want[k] {
			t.Errorf("%s: resumed %v, uninterrupted %v", k, got[k], want[k])
		}
	}
	sameFile(t, filepath.Join(a, "merged", "model.safetensors"), filepath.Join(b, "merged", "model.safetensors"))
	// Finished: a resume runs nothing and reads no test split again.
	testReads.Lock()
	testReads.n = map[string]int{}
	testReads.Unlock()
	o, _ = mustRun(t, "run", "--resume", "--out", b)
	if !strings.Contains(o, "run: finished before") {
		t.Fatalf("resume of a finished run:\n%s", o)
	}
	testReads.Lock()
	if len(testReads.n) != 0 {
		t.Errorf("a finished run, resumed, read the test split again: %v", testReads.n)
	}
	testReads.Unlock()
}

// Bad input is refused before any work, naming the flag or file.
func TestPipelineErrorsBeforeWork(t *testing.T) {
	dir := t.TempDir()
	data := pipelineData(t, filepath.Join(dir, "data"))
	mismatch := filepath.Join(dir, "mismatch")
	writeClasses(t, filepath.Join(mismatch, "train"), classNames(3), 4, false)
	writeClasses(t, filepath.Join(mismatch, "test"), classNames(4), 4, false)
	notEmpty := filepath.Join(dir, "notempty")
	os.MkdirAll(notEmpty, 0o755)
	os.WriteFile(filepath.Join(notEmpty, "x"), []byte("x"), 0o644)
	otherStructure := filepath.Join(dir, "other.json")
	os.WriteFile(otherStructure, []byte(`{"blocks.7.attn.qkv": {"A": "none", "B": "lora_4", "C": "none", "D": "none", "E": "none"}}`), 0o644)
	badRank := filepath.Join(dir, "badrank.json")
	os.WriteFile(badRank, []byte(`{"blocks.0.attn.qkv": {"A": "none", "B": "lora_4", "C": "lora_4", "D": "constant", "E": "vector"}, "blocks.0.mlp.fc1": {"A": "hello"}}`), 0o644)
	sn := filepath.Join(dir, "sn")
	mustRun(t, "supernet", "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--epochs", "1", "--batch", "8", "--out", sn)
	base := []string{"--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25"}
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"search", "--run", sn, "--budget", "0"}, "--budget: budget 0 is below the smallest structure: one constant"},
		{append([]string{"run", "--budget", "0", "--out", out}, base...), "--budget: budget 0 is below the smallest structure"},
		{append([]string{"finetune", "--method", "dora", "--out", out}, base...), `--method "dora" is not a method; want one of glora, glora-fixed`},
		{append([]string{"finetune", "--method", "glora", "--out", out}, base...), "--method glora needs --structure FILE"},
		{append([]string{"finetune", "--method", "glora", "--structure", otherStructure, "--out", out}, base...), "--structure " + otherStructure + ": it is not for this base"},
		{append([]string{"finetune", "--method", "glora", "--structure", badRank, "--out", out}, base...), "--structure " + badRank + ": not a structure file"},
		{[]string{"supernet", "--base", "vit-micro", "--data", "folder:" + filepath.Join(dir, "nothing"), "--out", out}, filepath.Join(dir, "nothing")},
		{[]string{"finetune", "--method", "lora", "--base", "vit-micro", "--data", "nosuchset", "--out", out}, `unknown dataset spec "nosuchset"`},
		{[]string{"supernet", "--base", "vit-micro", "--data", "folder:" + mismatch, "--out", out}, `class folder "c03" is not one of the classes [c00 c01 c02]`},
		{append([]string{"supernet", "--out", notEmpty}, base...), "is not empty and holds no run of glora supernet"},
		{append([]string{"run", "--out", otherStructure}, base...), "--out " + otherStructure + " is a file, not a folder"},
		{append([]string{"supernet", "--out", sn}, base...), "holds a run of glora supernet (supernet.settings.json): continue it with --resume, start it again with --overwrite"},
		{[]string{"supernet", "--resume", "--out", sn, "--lr", "0.5"}, "--lr 0.5, but the run was saved with 0.005"},
		{[]string{"search", "--run", out}, "is not a glora supernet run"},
		{append([]string{"finetune", "--method", "lora", "--init", "adapter:" + filepath.Join(sn, "supernet"), "--out", out}, base...), "holds a whole supernet"},
		{append([]string{"finetune", "--method", "lora", "--rank", "16", "--init", "supernet:" + sn, "--out", out}, base...), "stores rank 8, below the rank 16 this run trains"},
		{append([]string{"supernet", "--ranks", "8,4,8", "--out", out}, base...), "rank 8 given twice"},
		{append([]string{"supernet", "--epochs", "-1", "--out", out}, base...), "--epochs -1: want a whole number"},
		// 0 is not "the default": it is refused like any value out of range.
		{append([]string{"finetune", "--method", "lora", "--epochs", "0", "--out", out}, base...), "--epochs 0: want a whole number"},
		{append([]string{"supernet", "--batch", "0", "--out", out}, base...), "--batch 0: want a whole number"},
		{append([]string{"finetune", "--method", "lora", "--lr", "0", "--out", out}, base...), "--lr 0: want a number"},
		{append([]string{"finetune", "--method", "lora", "--rank", "0", "--out", out}, base...), "--rank 0: want a whole number"},
	} {
		code, o, e := runCLI(tc.args...)
		if code == 0 || !strings.Contains(o+e, tc.want) {
			t.Errorf("%v: exit %d, want an error containing %q:\n%s%s", tc.args, code, tc.want, o, e)
		}
		if exists(out) {
			t.Errorf("%v: created %s before refusing", tc.args, out)
			os.RemoveAll(out)
		}
	}
	// --overwrite starts again.
	mustRun(t, "supernet", "--overwrite", "--out", sn, "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--epochs", "1", "--batch", "8")
}

// The pipeline commands save their --recipe: a resume given another is
// refused (one given the same continues), and glora search takes the
// supernet run's recipe unless told.
func TestStageRecipeIsSaved(t *testing.T) {
	dir := t.TempDir()
	data := pipelineData(t, filepath.Join(dir, "data"))
	out := filepath.Join(dir, "sn")
	mustRun(t, "supernet", "--out", out, "--recipe", "quick", "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--batch", "8")
	if code, _, e := runCLI("supernet", "--resume", "--out", out, "--recipe", "default"); code != 1 || !strings.Contains(e, "--recipe default, but the run was saved with quick") {
		t.Fatalf("supernet --resume --recipe default: exit %d, %s", code, e)
	}
	mustRun(t, "search", "--run", out)
	var s searchSettings
	if err := readJSON(filepath.Join(out, "search.settings.json"), &s); err != nil || s.Recipe != "quick" || s.Population != pipeline.MustNamed(pipeline.Quick).Search.Population {
		t.Fatalf("search after a quick supernet: %+v, %v", s, err)
	}
	ft := filepath.Join(dir, "ft")
	mustRun(t, "finetune", "--out", ft, "--method", "lora", "--recipe", "quick", "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--batch", "8")
	if code, _, e := runCLI("finetune", "--resume", "--out", ft, "--recipe", "paper"); code != 1 || !strings.Contains(e, "--recipe paper, but the run was saved with quick") {
		t.Fatalf("finetune --resume --recipe paper: exit %d, %s", code, e)
	}
	run := filepath.Join(dir, "run")
	mustRun(t, "run", "--out", run, "--recipe", "quick", "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25")
	if code, _, e := runCLI("run", "--resume", "--out", run, "--recipe", "default"); code != 1 || !strings.Contains(e, "--recipe default, but the run was saved with quick") {
		t.Fatalf("run --resume --recipe default: exit %d, %s", code, e)
	}
	mustRun(t, "run", "--resume", "--out", run, "--recipe", "quick")
}
