package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// "shipped" names the shipped backbone in every command; the old preset
// name vit-fmnist is refused as ambiguous; "" still means shipped.
func TestShippedIsOneNameEverywhere(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"inspect", "shipped"}, {"inspect", ""}, {"inspect"}} {
		code, o, e := runCLI(args...)
		if code != 0 || !strings.HasPrefix(o, "the shipped backbone (vit-fmnist)") {
			t.Errorf("%q: exit %d\n%s%s", args, code, o, e)
		}
	}
	if code, _, e := runCLI("convert", "--model", "shipped", "--out", filepath.Join(dir, "s")); code != 0 {
		t.Fatalf("convert --model shipped: %s", e)
	}
	if code, o, e := runCLI("average", "--out", filepath.Join(dir, "avg"), "shipped", filepath.Join(dir, "s")); code != 0 {
		t.Fatalf("average shipped DIR: %s%s", o, e)
	}
	if code, _, e := runCLI("inspect", "vit-fmnist-arch"); code != 0 {
		t.Fatalf("inspect vit-fmnist-arch: %s", e)
	}
	for _, args := range [][]string{{"inspect", "vit-fmnist"}, {"eval", "--model", "vit-fmnist", "--data", "mnist"},
		{"pretrain", "--model", "vit-fmnist", "--out", filepath.Join(dir, "x")}} {
		code, _, e := runCLI(args...)
		if code != 1 || !strings.Contains(e, `"vit-fmnist" is ambiguous`) || !strings.Contains(e, "--model shipped") ||
			!strings.Contains(e, "vit-fmnist-arch") {
			t.Errorf("%q: exit %d, %s", args, code, e)
		}
	}
	// the shipped language model where an image model is wanted
	if code, _, e := runCLI("pretrain", "--model", "shipped-lm", "--data", "mnist", "--out", filepath.Join(dir, "y")); code != 1 || !strings.Contains(e, "shipped-lm is the shipped language model") {
		t.Errorf("pretrain --model shipped-lm: exit %d, %s", code, e)
	}
}

// A run's checkpoint/ folder (pretraining or fine-tuning), a run's folder,
// an adapter, a folder without config.json and a missing folder each get
// an error naming the folder and what to use.
func TestModelFolderErrors(t *testing.T) {
	dir := t.TempDir()
	writeClasses(t, filepath.Join(dir, "data"), classNames(2), 4, true)
	data := "folder:" + filepath.Join(dir, "data")
	run := filepath.Join(dir, "run")
	if code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", data, "--scheme", "full", "--epochs", "1",
		"--batch", "4", "--out", run); code != 0 {
		t.Fatalf("pretrain: %s%s", o, e)
	}
	ft := filepath.Join(dir, "ft")
	if code, o, e := runCLI("finetune", "--base", filepath.Join(run, "best"), "--data", data, "--scheme", "holdout", "--method", "lora",
		"--epochs", "1", "--batch", "4", "--out", ft); code != 0 {
		t.Fatalf("finetune: %s%s", o, e)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", filepath.Join(run, "checkpoint"), "--data", data},
			"is a training checkpoint (model and optimiser state, for resuming): use " + filepath.Join(run, "best") + " as a model, or continue the run with glora pretrain --resume --out " + run},
		{[]string{"eval", "--model", run, "--data", data}, "is a training run's folder: its model is " + filepath.Join(run, "best")},
		{[]string{"eval", "--model", filepath.Join(ft, "checkpoint"), "--data", data},
			"use " + filepath.Join(ft, "merged") + " as a model, or continue the run with glora finetune --resume --out " + ft},
		{[]string{"eval", "--model", ft, "--data", data}, "is a fine-tuning run's folder: its merged model is " + filepath.Join(ft, "merged")},
		{[]string{"eval", "--model", filepath.Join(ft, "adapter"), "--data", data}, "is an adapter, not a model"},
		{[]string{"eval", "--model", empty, "--data", data}, empty + " is not a checkpoint folder: it has no config.json"},
		{[]string{"average", "--out", filepath.Join(dir, "avg"), filepath.Join(run, "best"), missing}, missing + ": no such checkpoint folder"},
		{[]string{"average", "--out", filepath.Join(dir, "avg"), filepath.Join(run, "best"), empty}, empty + " is not a checkpoint folder"},
		{[]string{"convert", "--model", filepath.Join(run, "checkpoint"), "--out", filepath.Join(dir, "c")}, "is a training checkpoint"},
	} {
		code, o, e := runCLI(tc.args...)
		if code != 1 || !strings.Contains(e, tc.want) {
			t.Errorf("%q: exit %d, want %q:\n%s%s", tc.args, code, tc.want, o, e)
		}
	}
	if exists(filepath.Join(dir, "avg")) || exists(filepath.Join(dir, "c")) {
		t.Fatal("a failed command left its --out")
	}
	if code, o, e := runCLI("eval", "--model", filepath.Join(run, "best"), "--data", data); code != 0 {
		t.Fatalf("eval of best/: %s%s", o, e)
	}
}

// inspect's dtype column shows how each tensor is stored, and the config is
// printed once.
func TestInspectShowsStorageDTypes(t *testing.T) {
	dir := t.TempDir()
	if code, _, e := runCLI("convert", "--model", "vit-micro", "--out", dir+"/f16", "--dtype", "f16"); code != 0 {
		t.Fatal(e)
	}
	code, o, e := runCLI("inspect", dir+"/f16")
	if code != 0 {
		t.Fatal(e)
	}
	if !strings.Contains(o, "stored as F16") || strings.Count(o, "patch 4, dim 32") != 1 {
		t.Fatalf("inspect header:\n%s", o)
	}
	rows := 0
	for _, line := range strings.Split(o, "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && (f[4] == "trainable" || f[4] == "frozen") {
			rows++
			if f[2] != "F16" {
				t.Errorf("tensor row %q: dtype %s, want F16", line, f[2])
			}
		}
	}
	if rows == 0 {
		t.Fatalf("no tensor rows:\n%s", o)
	}
}

// convert into a folder that held another conversion leaves no stale file.
func TestConvertLeavesNoStaleFiles(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if code, _, e := runCLI("convert", "--model", "vit-micro", "--out", out, "--dialect", "transformers"); code != 0 {
		t.Fatal(e)
	}
	if !exists(filepath.Join(out, "preprocessor_config.json")) {
		t.Fatal("transformers conversion wrote no preprocessor_config.json")
	}
	if code, _, e := runCLI("convert", "--model", "vit-micro", "--out", out, "--dialect", "timm"); code != 0 {
		t.Fatal(e)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 2 || exists(filepath.Join(out, "preprocessor_config.json")) {
		t.Fatalf("after a timm conversion into the same folder: %v", ents)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary folders left: %v", ents)
	}
}
