package train

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func savedOptions() Options {
	return Options{Epochs: 10, Batch: 32, LR: 1e-3, MinLR: 1e-5, WarmupEpochs: 1, WeightDecay: 0.05,
		LabelSmoothing: 0.1, ClipNorm: 1, Seed: 3, PadCrop: 2, HFlip: true, CheckpointEvery: 200,
		Data: "fashion-mnist", Scheme: "holdout", SplitSeed: 0, Model: "shipped", DropPath: -1}
}

func TestCheckResume(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(o *Options)
		epoch   int    // epochs already done
		refused string // the conflicting setting, "" = allowed
	}{
		{"same", func(o *Options) {}, 2, ""},
		{"more epochs", func(o *Options) { o.Epochs = 20 }, 2, ""},
		{"fewer epochs, not below done", func(o *Options) { o.Epochs = 3 }, 3, ""},
		{"epochs below done", func(o *Options) { o.Epochs = 2 }, 3, "epochs"},
		{"checkpoint interval", func(o *Options) { o.CheckpointEvery = 50 }, 2, ""},
		{"stop-after and output are not settings", func(o *Options) { o.StopAfter, o.OutDir, o.EvalBatch = 4, "x", 7 }, 2, ""},
		{"split seed", func(o *Options) { o.SplitSeed = 1 }, 2, "split_seed"},
		{"scheme", func(o *Options) { o.Scheme = "full" }, 2, "scheme"},
		{"data", func(o *Options) { o.Data = "mnist" }, 2, "data"},
		{"model", func(o *Options) { o.Model = "vit-micro" }, 2, "model"},
		{"new head", func(o *Options) { o.NewHead = true }, 2, "new_head"},
		{"drop-path", func(o *Options) { o.DropPath = 0.1 }, 2, "drop_path"},
		{"batch", func(o *Options) { o.Batch = 64 }, 2, "batch"},
		{"lr", func(o *Options) { o.LR = 2e-3 }, 2, "lr"},
		{"min lr", func(o *Options) { o.MinLR = 0 }, 2, "min_lr"},
		{"warm-up", func(o *Options) { o.WarmupEpochs = 2 }, 2, "warmup_epochs"},
		{"weight decay", func(o *Options) { o.WeightDecay = 0 }, 2, "weight_decay"},
		{"label smoothing", func(o *Options) { o.LabelSmoothing = 0 }, 2, "label_smoothing"},
		{"clip", func(o *Options) { o.ClipNorm = 0 }, 2, "clip_norm"},
		{"seed", func(o *Options) { o.Seed = 4 }, 2, "seed"},
		{"crop", func(o *Options) { o.PadCrop = 1 }, 2, "pad_crop"},
		{"flip", func(o *Options) { o.HFlip = false }, 2, "hflip"},
	} {
		o := savedOptions()
		tc.change(&o)
		err := CheckResume(State{Options: savedOptions(), Epoch: tc.epoch}, o)
		var re *ResumeError
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.refused != "" && !errors.As(err, &re):
			t.Errorf("%s: allowed (err %v), want %s refused", tc.name, err, tc.refused)
		case tc.refused != "" && (len(re.Conflicts) != 1 || re.Conflicts[0].Setting != tc.refused):
			t.Errorf("%s: conflicts %+v, want exactly %s", tc.name, re.Conflicts, tc.refused)
		}
	}
}

// A state.json from before the data was recorded has no scheme: the data
// settings cannot be compared, and are not refused.
func TestCheckResumeOldState(t *testing.T) {
	old := savedOptions()
	old.Data, old.Scheme, old.Model, old.DropPath = "", "", "", 0
	o := savedOptions()
	o.SplitSeed = 9
	if err := CheckResume(State{Options: old}, o); err != nil {
		t.Fatalf("old state refused: %v", err)
	}
	o.Batch = 1
	if err := CheckResume(State{Options: old}, o); err == nil {
		t.Fatal("a batch change on an old state was allowed")
	}
}

func TestMergeResume(t *testing.T) {
	saved := savedOptions()
	o := Options{Epochs: 99, Batch: 128, LR: 5, Scheme: "vtab1k", StopAfter: 2, OutDir: "run"}
	given := map[string]bool{"epochs": true}
	got := MergeResume(saved, o, func(k string) bool { return given[k] })
	want := saved
	want.Epochs, want.StopAfter, want.OutDir = 99, 2, "run"
	if got.Epochs != want.Epochs || got.Batch != want.Batch || got.LR != want.LR || got.Scheme != want.Scheme ||
		got.Data != want.Data || got.SplitSeed != want.SplitSeed || got.Model != want.Model || got.DropPath != want.DropPath ||
		got.StopAfter != 2 || got.OutDir != "run" || got.PadCrop != 2 || !got.HFlip {
		t.Fatalf("merged %+v\nwant %+v", got, want)
	}
	if err := CheckResume(State{Options: saved}, got); err != nil {
		t.Fatalf("a merged resume is refused: %v", err)
	}
}

func TestReadState(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadState(dir); err == nil || !strings.Contains(err.Error(), StateFile(dir)) {
		t.Fatalf("missing state: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "checkpoint"), 0o755)
	os.WriteFile(StateFile(dir), []byte(`{"options":{"epochs":3,"scheme":"full"},"epoch":2}`), 0o644)
	st, err := ReadState(dir)
	if err != nil || st.Options.Epochs != 3 || st.Options.Scheme != "full" || st.Epoch != 2 {
		t.Fatalf("ReadState: %+v, %v", st, err)
	}
	os.WriteFile(StateFile(dir), []byte(`{`), 0o644)
	if _, err := ReadState(dir); err == nil || !strings.Contains(err.Error(), "state.json") {
		t.Fatalf("bad state: %v", err)
	}
}
