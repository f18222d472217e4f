package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/tensor"
)

// --precision bf16 runs eval with bfloat16 matrix products and says so;
// an unknown precision is refused naming the flag.
func TestEvalPrecisionFlag(t *testing.T) {
	spec := "synth:count:train=20,test=64" // 6 classes
	model := filepath.Join(t.TempDir(), "m")
	saveTinyModel(t, model, "vit-micro", []string{"count 1", "count 2", "count 3", "count 4", "count 5", "count 6"})
	runCLI := func(args ...string) (int, string, string) { return runCLI(append(args, "--model", model)...) }
	code, o, e := runCLI("eval", "--data", spec, "--json", "--precision", "bf16")
	lines := jsonLines(t, "eval --precision bf16", o)
	if code != 0 || lines[0]["precision"] != "bf16" || !strings.Contains(e, "precision bf16: bfloat16 operands") {
		t.Fatalf("eval --precision bf16: exit %d\n%s%s", code, o, e)
	}
	code, o, _ = runCLI("eval", "--data", spec, "--json")
	f32 := jsonLines(t, "eval", o)
	if code != 0 || f32[0]["precision"] != "f32" {
		t.Fatalf("eval: exit %d, %s", code, o)
	}
	// The precision reaches the products (it is passed with the work, not
	// set process-wide): bfloat16 operands move the loss.
	if lines[0]["loss"] == f32[0]["loss"] {
		t.Fatalf("eval's loss is the same in bf16 and f32 (%v): the precision did not reach the matrix products", f32[0]["loss"])
	}
	if code, _, e := runCLI("eval", "--data", spec, "--precision", "fp8"); code == 0 || !strings.Contains(e, `--precision: unknown precision "fp8"`) {
		t.Fatalf("--precision fp8: exit %d, %s", code, e)
	}
	// GLORA_BF16_KERNEL picks the kernel; an unknown one is refused by name.
	saved := strings.Fields(tensor.BF16Kernel())[0] // "emulated" or a native kernel's name
	t.Cleanup(func() { _ = tensor.UseBF16Kernel(saved) })
	t.Setenv("GLORA_BF16_KERNEL", "emulated")
	if code, _, e := runCLI("eval", "--data", spec, "--precision", "bf16"); code != 0 || !strings.Contains(e, "emulated (") {
		t.Fatalf("GLORA_BF16_KERNEL=emulated: exit %d, %s", code, e)
	}
	t.Setenv("GLORA_BF16_KERNEL", "gpu")
	if code, _, e := runCLI("eval", "--data", spec, "--precision", "bf16"); code == 0 || !strings.Contains(e, `GLORA_BF16_KERNEL: tensor: no bf16 kernel "gpu"`) {
		t.Fatalf("GLORA_BF16_KERNEL=gpu: exit %d, %s", code, e)
	}
}

// The GLoRA commands take --precision too: the run records it and trains
// with it (the same run in f32 ends elsewhere), a bad value is refused
// before the run folder is made.
func TestPipelinePrecisionFlag(t *testing.T) {
	dir := t.TempDir()
	data := pipelineData(t, filepath.Join(dir, "data"))
	sn := filepath.Join(dir, "sn")
	o, e := mustRun(t, "supernet", "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--epochs", "1", "--batch", "8",
		"--out", sn, "--precision", "bf16", "--json")
	if lines := jsonLines(t, "supernet --precision bf16", o); lines[0]["precision"] != "bf16" || !strings.Contains(e, "precision bf16") {
		t.Fatalf("supernet --precision bf16: %s\n%s", o, e)
	}
	if b, err := os.ReadFile(filepath.Join(sn, "supernet.json")); err != nil || !strings.Contains(string(b), `"precision": "bf16"`) {
		t.Fatalf("supernet.json does not record bf16 (%v): %.300s", err, b)
	}
	o32, _ := mustRun(t, "supernet", "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--epochs", "1", "--batch", "8",
		"--out", filepath.Join(dir, "sn32"), "--json")
	if a, b := jsonLines(t, "supernet bf16", o)[0]["val_loss"], jsonLines(t, "supernet f32", o32)[0]["val_loss"]; a == b {
		t.Fatalf("supernet's val loss is %v in bf16 and in f32: the precision did not reach training", a)
	}
	o, _ = mustRun(t, "search", "--run", sn, "--population", "4", "--generations", "1", "--topk", "2", "--json")
	if lines := jsonLines(t, "search", o); lines[0]["precision"] != "f32" {
		t.Fatalf("search without --precision: %s", o)
	}
	out := filepath.Join(dir, "ft")
	code, _, e := runCLI("finetune", "--method", "lora", "--base", "vit-micro", "--data", data, "--out", out, "--precision", "fp16")
	if code == 0 || !strings.Contains(e, `--precision: unknown precision "fp16"`) {
		t.Fatalf("finetune --precision fp16: exit %d, %s", code, e)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatalf("finetune made %s although its flags were refused", out)
	}
}

// A run keeps its precision: --resume continues a bf16 run in bf16 without
// the flag (the result is the uninterrupted run's, byte for byte), refuses
// a different --precision given again, and a settings file written before
// the precision was kept resumes at the flag's.
func TestResumeKeepsPrecision(t *testing.T) {
	dir := t.TempDir()
	data := pipelineData(t, filepath.Join(dir, "data"))
	args := func(out string, more ...string) []string {
		return append([]string{"finetune", "--method", "lora", "--base", "vit-micro", "--data", data, "--scheme", "holdout:0.25",
			"--epochs", "2", "--batch", "8", "--out", out, "--json"}, more...)
	}
	whole, cut := filepath.Join(dir, "whole"), filepath.Join(dir, "cut")
	mustRun(t, args(whole, "--precision", "bf16")...)
	mustRun(t, args(cut, "--precision", "bf16", "--stop-after", "1")...)
	code, _, e := runCLI("finetune", "--resume", "--out", cut, "--precision", "f32")
	if code == 0 || !strings.Contains(e, "--precision f32, but the run was started with bf16") {
		t.Fatalf("resume with another --precision: exit %d, %s", code, e)
	}
	o, e := mustRun(t, "finetune", "--resume", "--out", cut, "--json")
	if lines := jsonLines(t, "finetune --resume", o); lines[0]["precision"] != "bf16" || !strings.Contains(e, "precision bf16") {
		t.Fatalf("resume without --precision: %s\n%s", o, e)
	}
	a, errA := os.ReadFile(filepath.Join(whole, "merged", "model.safetensors"))
	b, errB := os.ReadFile(filepath.Join(cut, "merged", "model.safetensors"))
	if errA != nil || errB != nil || string(a) != string(b) {
		t.Fatalf("the resumed bf16 run's merged model differs from the uninterrupted one's (%v, %v)", errA, errB)
	}
	// An older settings file, without the key: the flag's precision.
	old := filepath.Join(dir, "old")
	mustRun(t, args(old, "--stop-after", "1")...)
	sf := filepath.Join(old, "finetune.settings.json")
	js, err := os.ReadFile(sf)
	if err != nil || !strings.Contains(string(js), `"precision": "f32",`) {
		t.Fatalf("%s: %v\n%s", sf, err, js)
	}
	if err := os.WriteFile(sf, []byte(strings.Replace(string(js), `"precision": "f32",`, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	o, _ = mustRun(t, "finetune", "--resume", "--out", old, "--precision", "bf16", "--json")
	if lines := jsonLines(t, "finetune --resume (old settings)", o); lines[0]["precision"] != "bf16" {
		t.Fatalf("resume of an old run with --precision bf16: %s", o)
	}
	// A damaged key is refused, naming the file.
	bad := filepath.Join(dir, "bad")
	mustRun(t, args(bad, "--stop-after", "1")...)
	sf = filepath.Join(bad, "finetune.settings.json")
	js, _ = os.ReadFile(sf)
	if err := os.WriteFile(sf, []byte(strings.Replace(string(js), `"precision": "f32"`, `"precision": "fp8"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, e := runCLI("finetune", "--resume", "--out", bad); code == 0 || !strings.Contains(e, sf+`: precision: unknown precision "fp8"`) {
		t.Fatalf("resume with a damaged precision: exit %d, %s", code, e)
	}
}
