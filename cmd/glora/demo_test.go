package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/data/datatest"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
)

// toyDigits: n 28×28 grey images, a bright square in one of four
// quadrants (the class).
func toyDigits(t *testing.T, n int, seed uint64) *data.Dataset {
	t.Helper()
	ds, err := datatest.QuadrantsAt(n, 28, seed)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// The demo runs every method on train and val only, reads the test split
// only as its last step (each kept model scored once), and reports what
// each method trains; with NoTest it never reads it. The second run, in
// bf16, trains other weights than the first.
func TestMNISTDemoReadsTestAtTheEnd(t *testing.T) {
	trainSet, test := toyDigits(t, 48, 1), toyDigits(t, 20, 2)
	o := defaultDemo()
	o.Scheme, o.Batch = "holdout:0.25", 12
	o.setRuns(func(string) int { return 1 })
	o.Search.Population, o.Search.TopK, o.Search.Generations, o.Search.Mutations, o.Search.Crossovers = 4, 2, 2, 2, 2
	o.Search.Finalists = 2
	var loraF32 []byte // the first run's LoRA weights
	for _, noTest := range []bool{false, true} {
		o.NoTest = noTest
		o.OutDir = t.TempDir()
		if noTest {
			o.Precision = tensor.BF16
		}
		var log bytes.Buffer
		task, err := pipeline.NewTask(backbones.Default, "shipped", trainSet, test, "toy", o.Scheme, o.SplitSeed, o.Seed)
		if err != nil {
			t.Fatal(err)
		}
		task.Log = &log
		reads := 0
		task.OnTest = func() {
			reads++
			// everything else is done by now
			if !strings.Contains(log.String(), pipeline.Searched+": validation accuracy") {
				t.Errorf("the test split was read before the last method finished:\n%s", log.String())
			}
		}
		rows, err := runMNISTDemo(context.Background(), o, task, &log)
		if err != nil {
			t.Fatal(err)
		}
		// each kept model scored once, after the last method
		if want := map[bool]int{false: len(rows), true: 0}[noTest]; reads != want {
			t.Fatalf("NoTest %v: the test split was read %d times, want %d", noTest, reads, want)
		}
		if len(rows) != 4 {
			t.Fatalf("%d rows", len(rows))
		}
		head := 4*128 + 4
		lora := rows[1].Support
		for i, r := range rows {
			if r.Head != head || r.ValAcc < 0 || r.ValAcc > 1 || r.Seconds <= 0 {
				t.Errorf("row %d: %+v", i, r)
			}
			if !noTest && (r.NTest != test.Len() || r.TestAcc < 0 || r.TestAcc > 1) {
				t.Errorf("row %d: test %v on %d images", i, r.TestAcc, r.NTest)
			}
		}
		// rank 8 on each block's qkv (128→384), proj (128→128), fc1 (128→256), fc2 (256→128)
		if rows[0].Support != 0 || lora != 6*8*(512+256+384+384) {
			t.Errorf("linear %d, lora %d support parameters", rows[0].Support, lora)
		}
		if rows[3].Support > lora || rows[3].Support <= 0 {
			t.Errorf("searched GLoRA reads %d support parameters, over LoRA's budget %d", rows[3].Support, lora)
		}
		// the stages are the pipeline's: each run keeps its merged model, the search its log
		for _, f := range []string{"linear/merged", "lora/merged", "glora-fixed/merged", "supernet/supernet",
			"search/" + finetune.SearchLogFile, "search/" + finetune.StructureFile, "finalists/entrant-1/checkpoint"} {
			if _, err := os.Stat(filepath.Join(o.OutDir, f)); err != nil {
				t.Errorf("the demo's --out lacks %s: %v", f, err)
			}
		}
		// searched GLoRA's kept model is its winning finalist's
		if dir := filepath.Dir(rows[3].model); filepath.Dir(dir) != filepath.Join(o.OutDir, "finalists") {
			t.Errorf("searched GLoRA's model %s is not a finalist's", rows[3].model)
		} else if _, err := os.Stat(filepath.Join(dir, finetune.AdapterDir)); err != nil {
			t.Error(err)
		}
		lw, err := os.ReadFile(filepath.Join(o.OutDir, "lora", "merged", "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if !noTest {
			loraF32 = lw
		} else if bytes.Equal(lw, loraF32) {
			t.Error("LoRA's weights are the same in bf16 and f32: the demo's precision did not reach training")
		}
		var table bytes.Buffer
		printDemoTable(&table, rows, !noTest)
		for _, w := range []string{"linear probe", "LoRA (rank 8)", "GLoRA fixed", "GLoRA searched", "val acc", "test acc"} {
			if !strings.Contains(table.String(), w) {
				t.Errorf("the table lacks %q:\n%s", w, table.String())
			}
		}
	}
}

// The demo's flags are checked before any work; --synthetic needs no data.
func TestDemoFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--epochs-lora", "0"}, "--epochs-lora 0"},
		{[]string{"demo", "--lr-supernet", "-1"}, "--lr-supernet -1"},
		{[]string{"demo", "--methods", "linear,nope"}, `unknown method "nope"`},
		{[]string{"demo", "--topk", "99"}, "--topk 99"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q", c.args, code, stderr)
		}
	}
	code, stdout, stderr := runCLI("demo", "--synthetic", "--steps", "5")
	if code != 0 || !strings.Contains(stdout, "held-out accuracy") {
		t.Fatalf("demo --synthetic: code %d\n%s%s", code, stdout, stderr)
	}
	// --json: one JSON object on stdout, the text on stderr.
	code, stdout, stderr = runCLI("demo", "--synthetic", "--steps", "5", "--json")
	if obj := jsonLines(t, "demo --synthetic --json", stdout); code != 0 || len(obj) != 1 || obj[0]["steps"] != 5.0 || !strings.Contains(stderr, "held-out accuracy") {
		t.Fatalf("demo --synthetic --json: code %d\n%s%s", code, stdout, stderr)
	}
}

// setRuns sets the epochs of every demo run to epochs; the learning rates stay.
func (o *demoOptions) setRuns(epochs func(run string) int) {
	runs := maps.Clone(o.Runs)
	for _, name := range demoRuns {
		s := runs[name]
		s.Epochs = epochs(name)
		runs[name] = s
	}
	o.Runs = runs
}
