package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/glora/glora/train"
)

// A resume repeats no flag and continues with the saved settings; one that
// changes what the run means is refused naming the flag; --epochs may grow.
func TestResumeUsesAndChecksTheSavedSettings(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	writeClasses(t, dataDir, classNames(2), 10, false)
	other := filepath.Join(dir, "other")
	writeClasses(t, other, classNames(2), 10, false)
	out := filepath.Join(dir, "run")
	code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", "folder:"+dataDir, "--scheme", "holdout:0.25",
		"--split-seed", "1", "--epochs", "3", "--stop-after", "1", "--batch", "4", "--lr", "2e-3", "--out", out)
	if code != 0 {
		t.Fatalf("first stage: %s%s", o, e)
	}
	if !strings.Contains(o, "stopped after epoch 1 of 3, as --stop-after asked; continue with glora pretrain --resume --out "+out) {
		t.Fatalf("--stop-after does not say what happened:\n%s", o)
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--split-seed", "2"}, "--split-seed 2, but the run was saved with 1"},
		{[]string{"--scheme", "vtab1k"}, "--scheme vtab1k, but the run was saved with holdout:0.25"},
		{[]string{"--data", "folder:" + other}, "--data folder:" + other},
		{[]string{"--model", "vit-tiny"}, "--model vit-tiny"},
		{[]string{"--lr", "1e-3"}, "--lr 0.001, but the run was saved with 0.002"},
		{[]string{"--augment"}, "--augment crop padding 2, but the run was saved with 0"},
		{[]string{"--new-head"}, "--new-head true"},
		{[]string{"--epochs", "0"}, "--epochs 0: want"},
	} {
		code, o, e := runCLI(append([]string{"pretrain", "--resume", "--out", out}, tc.flags...)...)
		if code != 1 || !strings.Contains(e, tc.want) {
			t.Errorf("resume %v: exit %d, want a refusal containing %q:\n%s%s", tc.flags, code, tc.want, o, e)
		}
	}
	// Repeating a flag with its saved value is fine, and so is leaving every flag out.
	code, o, e = runCLI("pretrain", "--resume", "--out", out, "--split-seed", "1")
	if code != 0 {
		t.Fatalf("resume: %s%s", o, e)
	}
	st, err := train.ReadState(out)
	if err != nil || st.Epoch != 3 || st.Options.SplitSeed != 1 || st.Options.LR != 2e-3 || st.Options.Batch != 4 {
		t.Fatalf("after the resume: epoch %d, options %+v, %v", st.Epoch, st.Options, err)
	}
	code, o, e = runCLI("pretrain", "--resume", "--out", out)
	if code != 0 || !strings.Contains(o, "already finished its 3 epochs: nothing to train") {
		t.Fatalf("resume of a finished run: exit %d\n%s%s", code, o, e)
	}
	// With --json, a finished run prints its summary line (and only that) on stdout.
	code, o, e = runCLI("pretrain", "--resume", "--out", out, "--json")
	if lines := jsonLines(t, "finished resume --json", o); code != 0 || len(lines) != 1 || lines[0]["epochs_done"] != 3.0 ||
		!strings.Contains(e, "already finished") {
		t.Fatalf("resume --json of a finished run: exit %d\n%s%s", code, o, e)
	}
	code, o, e = runCLI("pretrain", "--resume", "--out", out, "--epochs", "4")
	if code != 0 || !strings.Contains(e, "--epochs 4 (the run was saved with 3): the cosine schedule is recomputed") {
		t.Fatalf("resume with more epochs: exit %d\n%s%s", code, o, e)
	}
	if st, _ := train.ReadState(out); st.Epoch != 4 {
		t.Fatalf("after --epochs 4: epoch %d", st.Epoch)
	}
	if code, _, e := runCLI("pretrain", "--resume", "--out", filepath.Join(dir, "nothing")); code != 1 ||
		!strings.Contains(e, "--resume: no run to continue in") || exists(filepath.Join(dir, "nothing")) {
		t.Fatalf("resume of nothing: exit %d, %s", code, e)
	}
}

// Ctrl-C saves a checkpoint and exits with 130, saying how to continue.
func TestInterruptExits130(t *testing.T) {
	dir := t.TempDir()
	writeClasses(t, filepath.Join(dir, "data"), classNames(2), 8, true)
	defer func(f func(context.Context, ...os.Signal) (context.Context, context.CancelFunc)) { notifyContext = f }(notifyContext)
	notifyContext = func(parent context.Context, _ ...os.Signal) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(parent)
		cancel() // as if Ctrl-C came at once
		return ctx, cancel
	}
	out := filepath.Join(dir, "run")
	code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", "folder:"+filepath.Join(dir, "data"),
		"--scheme", "full", "--epochs", "2", "--batch", "4", "--out", out)
	if code != 130 || !strings.Contains(e, "glora pretrain --resume --out "+out) {
		t.Fatalf("interrupted run: exit %d, want 130\n%s%s", code, o, e)
	}
	if !exists(filepath.Join(out, "checkpoint", "state.json")) {
		t.Fatal("no checkpoint saved on interrupt")
	}
}

// Flags are checked against the resumed run's settings, not the defaults:
// --stop-after 12 is fine for a 15-epoch run resumed without --epochs.
func TestResumeChecksFlagsAgainstTheSavedRun(t *testing.T) {
	dir := t.TempDir()
	writeClasses(t, filepath.Join(dir, "data"), classNames(2), 4, true)
	out := filepath.Join(dir, "run")
	if code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", "folder:"+filepath.Join(dir, "data"), "--scheme", "full",
		"--epochs", "15", "--stop-after", "1", "--batch", "8", "--out", out); code != 0 {
		t.Fatalf("pretrain: %s%s", o, e)
	}
	code, o, e := runCLI("pretrain", "--resume", "--out", out, "--stop-after", "12")
	if code != 0 {
		t.Fatalf("resume --stop-after 12: exit %d\n%s%s", code, o, e)
	}
	if st, _ := train.ReadState(out); st.Epoch != 12 {
		t.Fatalf("resumed to epoch %d, want 12", st.Epoch)
	}
}

// A run resumed after its data changed is refused, naming both: another
// split drawn from other data could hold training images in validation.
func TestResumeRefusesChangedData(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeClasses(t, data, classNames(3), 10, false)
	out := filepath.Join(dir, "ft")
	args := []string{"finetune", "--base", "vit-micro", "--data", "folder:" + data, "--method", "lora", "--rank", "2", "--scheme", "holdout:0.3",
		"--epochs", "3", "--stop-after", "1", "--batch", "4", "--out", out}
	if code, o, e := runCLI(args...); code != 0 {
		t.Fatalf("finetune: %s%s", o, e)
	}
	if err := os.Remove(filepath.Join(data, classNames(3)[1], "3.png")); err != nil {
		t.Fatal(err)
	}
	code, o, e := runCLI("finetune", "--resume", "--out", out)
	if code == 0 || !strings.Contains(e, "the data changed since the run started") || strings.Count(e, " images of ") != 2 {
		t.Fatalf("resume on changed data: exit %d\n%s%s", code, o, e)
	}
}

// Every pretrain flag that a resume compares is found from its
// registration (pretrainKeys), none kept by hand: a flag bound to a
// variable outside train.Options would silently escape the comparison.
func TestPretrainKeysFromRegistration(t *testing.T) {
	var o train.Options
	c := registerPretrainFlags(&o, io.Discard)
	got := pretrainKeys(c.fs, &o)
	want := map[string][]string{"data": {"data"}, "scheme": {"scheme"}, "split-seed": {"split_seed"}, "model": {"model"},
		"new-head": {"new_head"}, "drop-path": {"drop_path"}, "epochs": {"epochs"}, "batch": {"batch"},
		"lr": {"lr"}, "min-lr": {"min_lr"}, "warmup": {"warmup_epochs"}, "wd": {"weight_decay"},
		"label-smoothing": {"label_smoothing"}, "clip": {"clip_norm"}, "seed": {"seed"},
		"augment": {"pad_crop", "hflip"}, "checkpoint-every": {"checkpoint_every"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pretrainKeys:\n got %v\nwant %v", got, want)
	}
}
