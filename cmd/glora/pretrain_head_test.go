package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
)

// A fresh preset takes its class count from the data.
func TestPretrainPresetTakesTheDataClasses(t *testing.T) {
	dir := t.TempDir()
	writeClasses(t, filepath.Join(dir, "data"), classNames(3), 4, true)
	out := filepath.Join(dir, "run")
	code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", "folder:"+filepath.Join(dir, "data"),
		"--scheme", "full", "--epochs", "1", "--batch", "4", "--out", out)
	if code != 0 {
		t.Fatalf("pretrain: %s%s", o, e)
	}
	ck, err := vit.LoadConfig(filepath.Join(out, "best"))
	if err != nil || ck.Config.NumClasses != 3 {
		t.Fatalf("best/ has %d classes (%v), want 3", ck.Config.NumClasses, err)
	}
}

// An existing model whose head does not fit the data is refused before any
// work, saying how to replace the head; --new-head replaces it.
func TestPretrainRefusesAMismatchedHead(t *testing.T) {
	dir := t.TempDir()
	data := "folder:" + filepath.Join(dir, "data")
	writeClasses(t, filepath.Join(dir, "data"), classNames(12), 2, true)
	model := filepath.Join(dir, "m10")
	if code, _, e := runCLI("convert", "--model", "vit-micro", "--out", model); code != 0 {
		t.Fatal(e)
	}
	out := filepath.Join(dir, "run")
	code, o, e := runCLI("pretrain", "--model", model, "--data", data, "--scheme", "full", "--epochs", "1", "--batch", "4", "--out", out)
	if code != 1 || !strings.Contains(e, "has a 10-class head but --data") || !strings.Contains(e, "12 classes") ||
		!strings.Contains(e, "--new-head") {
		t.Fatalf("10-class model on 12 classes: exit %d\n%s%s", code, o, e)
	}
	if exists(out) {
		t.Fatalf("a refused run left %s", out)
	}
	code, o, e = runCLI("pretrain", "--model", model, "--new-head", "--data", data, "--scheme", "full", "--epochs", "1", "--batch", "4", "--out", out)
	if code != 0 {
		t.Fatalf("--new-head: %s%s", o, e)
	}
	if ck, err := vit.LoadConfig(filepath.Join(out, "best")); err != nil || ck.Config.NumClasses != 12 {
		t.Fatalf("best/ after --new-head: %d classes, %v", ck.Config.NumClasses, err)
	}
}

// Fine-tuning the shipped backbone (the default --model) with a new head on
// one's own folder is one command.
func TestPretrainShippedWithANewHead(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the shipped backbone for a step")
	}
	dir := t.TempDir()
	data := "folder:" + filepath.Join(dir, "data")
	writeClasses(t, filepath.Join(dir, "data"), classNames(3), 2, true)
	out := filepath.Join(dir, "run")
	code, o, e := runCLI("pretrain", "--data", data, "--out", out, "--epochs", "1")
	if code != 1 || !strings.Contains(e, "--model shipped has a 10-class head") {
		t.Fatalf("shipped on 3 classes without --new-head: exit %d\n%s%s", code, o, e)
	}
	code, o, e = runCLI("pretrain", "--data", data, "--out", out, "--epochs", "1", "--new-head")
	if code != 0 || !strings.Contains(o, "the shipped backbone") {
		t.Fatalf("pretrain --new-head: exit %d\n%s%s", code, o, e)
	}
	_, ck, err := vit.Load(filepath.Join(out, "best"))
	if err != nil || ck.Config.NumClasses != 3 || ck.Config.ImageSize != 28 {
		t.Fatalf("best/: %+v, %v", ck.Config, err)
	}
}

func TestSplitClassesMustAgree(t *testing.T) {
	mk := func(classes ...string) *data.Dataset {
		d, err := data.FromArrays("x", classes, 1, 1, 1, []uint8{0}, []int{0})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if err := checkSplitClasses("folder:x", mk("a", "b"), mk("a", "b")); err != nil {
		t.Fatal(err)
	}
	err := checkSplitClasses("folder:x", mk("a", "b", "c"), mk("a", "b"))
	if err == nil || !strings.Contains(err.Error(), "training split has 3 classes (a, b, c) but the test split has 2 (a, b)") ||
		!strings.Contains(err.Error(), "folder:x") {
		t.Fatalf("error %v", err)
	}
}

// The default --batch (128) on a 16-image folder is lowered with a notice;
// summary.json is written with metrics, timings and settings.
func TestPretrainClampsTheBatchAndWritesASummary(t *testing.T) {
	dir := t.TempDir()
	writeClasses(t, filepath.Join(dir, "data"), classNames(2), 10, true)
	out := filepath.Join(dir, "run")
	code, o, e := runCLI("pretrain", "--model", "vit-micro", "--data", "folder:"+filepath.Join(dir, "data"),
		"--epochs", "1", "--scheme", "holdout:0.2", "--out", out)
	if code != 0 {
		t.Fatalf("pretrain: %s%s", o, e)
	}
	if !strings.Contains(e, "--batch 128 is more than the 16 training images: using --batch 16") {
		t.Fatalf("no notice of the lowered batch:\n%s", e)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := jsonLines(t, "summary.json", strings.Join(strings.Fields(string(b)), "")+"\n")[0]
	for _, k := range []string{"best_val", "final_epoch", "history", "settings", "seconds", "train_seconds", "img_per_s", "classes"} {
		if _, ok := s[k]; !ok {
			t.Errorf("summary.json lacks %q", k)
		}
	}
	if set := s["settings"].(map[string]any); set["batch"] != 16.0 || set["scheme"] != "holdout:0.2" {
		t.Errorf("summary settings %v", set)
	}
}

func TestOutFolderCleanup(t *testing.T) {
	dir := t.TempDir()
	fresh := newOutFolder(filepath.Join(dir, "new"))
	os.Mkdir(filepath.Join(dir, "new"), 0o755)
	fresh.cleanup()
	if exists(filepath.Join(dir, "new")) {
		t.Fatal("an empty folder the command created was left")
	}
	old := newOutFolder(dir)
	old.cleanup()
	if !exists(dir) {
		t.Fatal("a folder that existed before was removed")
	}
	full := newOutFolder(filepath.Join(dir, "full"))
	os.MkdirAll(filepath.Join(dir, "full", "x"), 0o755)
	full.cleanup()
	if !exists(filepath.Join(dir, "full")) {
		t.Fatal("a folder with content was removed")
	}
}
