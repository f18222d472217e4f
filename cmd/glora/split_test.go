package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/models/vit"
)

// A trained model records its data, scheme and split seed; eval takes them
// as its defaults, and refuses a val split that holds the model's training
// images.
func TestEvalFollowsTheModelsTrainingRecord(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	writeClasses(t, dataDir, classNames(2), 10, false)
	data := "folder:" + dataDir
	out := filepath.Join(dir, "run")
	if code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", data, "--scheme", "holdout:0.25", "--split-seed", "3",
		"--epochs", "1", "--batch", "4", "--out", out); code != 0 {
		t.Fatalf("pretrain: %s%s", o, e)
	}
	best := filepath.Join(out, "best")
	ck, err := vit.LoadConfig(best)
	if err != nil || ck.Training == nil || *ck.Training != (vit.TrainingInfo{Data: "folder:" + dataDir, Scheme: "holdout:0.25", SplitSeed: 3}) {
		t.Fatalf("best/'s training record: %+v, %v", ck.Training, err)
	}
	code, o, e := runCLI("eval", "--model", best, "--data", data, "--split", "val")
	if code != 0 || !strings.Contains(o, "split val (--scheme holdout:0.25 --split-seed 3): 4 images") {
		t.Fatalf("eval --split val does not follow the record: exit %d\n%s%s", code, o, e)
	}
	for _, flags := range [][]string{{"--scheme", "vtab1k"}, {"--split-seed", "4"}, {"--scheme", "holdout"}} {
		code, o, e := runCLI(append([]string{"eval", "--model", best, "--data", data, "--split", "val"}, flags...)...)
		if code != 1 || !strings.Contains(e, "this validation split would hold its training images") {
			t.Errorf("eval --split val %v: exit %d\n%s%s", flags, code, o, e)
		}
	}
	// A misspelt scheme is named as such, not taken for another split.
	for _, bad := range []string{"bogus", "holdout:1.5", "holdout:NaN", "0shot"} {
		code, o, e := runCLI("eval", "--model", best, "--data", data, "--split", "val", "--scheme", bad)
		if code != 1 || !strings.Contains(e, "--scheme "+bad+": data: split:") {
			t.Errorf("eval --scheme %s: exit %d\n%s%s", bad, code, o, e)
		}
	}
	// Trained on the whole training split: no val.
	full := filepath.Join(dir, "full")
	if code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", data, "--scheme", "full",
		"--epochs", "1", "--batch", "4", "--out", full); code != 0 {
		t.Fatalf("pretrain: %s%s", o, e)
	}
	for _, flags := range [][]string{nil, {"--scheme", "holdout"}, {"--scheme", "vtab1k", "--split-seed", "5"}} {
		code, o, e := runCLI(append([]string{"eval", "--model", filepath.Join(full, "best"), "--data", data, "--split", "val"}, flags...)...)
		if code != 1 || !strings.Contains(e, "trained on the whole training split") {
			t.Errorf("eval --split val %v of a --scheme full model: exit %d\n%s%s", flags, code, o, e)
		}
	}
	// The shipped backbone saw all of Fashion-MNIST's training images.
	if code, _, e := runCLI("eval", "--data", "fashion-mnist", "--split", "val"); code != 1 || !strings.Contains(e, "whole training split of fashion-mnist") {
		t.Errorf("eval --split val on the shipped backbone: exit %d, %s", code, e)
	}
	// Continuing from best/ on the same data without --scheme keeps its split.
	code, o, e = runCLI("pretrain", "--model", best, "--data", data, "--epochs", "1", "--batch", "4", "--out", filepath.Join(dir, "more"))
	if code != 0 || !strings.Contains(e, "--scheme holdout:0.25 --split-seed 3, as recorded") {
		t.Fatalf("pretrain from a recorded model: exit %d\n%s%s", code, o, e)
	}
	// ... and with another split its record says it has seen everything.
	code, o, e = runCLI("pretrain", "--model", best, "--data", data, "--scheme", "holdout:0.5", "--epochs", "1", "--batch", "4", "--out", filepath.Join(dir, "mixed"))
	if code != 0 || !strings.Contains(e, "warning: the model was already trained on") {
		t.Fatalf("pretrain on another split: exit %d\n%s%s", code, o, e)
	}
	if ck, _ := vit.LoadConfig(filepath.Join(dir, "mixed", "best")); ck.Training == nil || ck.Training.Scheme != "full" {
		t.Fatalf("mixed splits recorded as %+v", ck.Training)
	}
}
