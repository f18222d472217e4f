package vit

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The glora_training record survives save/load in both dialects and a
// conversion from one dialect to the other.
func TestTrainingInfoRoundTrips(t *testing.T) {
	m := microModel(t, 3)
	want := &TrainingInfo{Data: "folder:/x/y", Scheme: "holdout:0.05", SplitSeed: 18446744073709551615}
	ck := NewCheckpoint("vit-micro", m.Cfg)
	ck.Training = want
	dir := t.TempDir()
	prev := ck
	for i, d := range []Dialect{Timm, Transformers, Timm} {
		out := filepath.Join(dir, string(d)+string(rune('0'+i)))
		prev.Dialect, prev.Naming = d, d
		if err := Save(m, out, prev, ""); err != nil {
			t.Fatalf("save %s: %v", d, err)
		}
		raw, _ := os.ReadFile(filepath.Join(out, ConfigFile))
		if !strings.Contains(string(raw), `"glora_training"`) || !strings.Contains(string(raw), "18446744073709551615") {
			t.Fatalf("%s config.json lacks the record:\n%s", d, raw)
		}
		_, got, err := Load(out)
		if err != nil {
			t.Fatalf("load %s: %v", d, err)
		}
		if !reflect.DeepEqual(got.Training, want) {
			t.Fatalf("%s: training record %+v, want %+v", d, got.Training, want)
		}
		if _, ok := got.Extra[TrainingKey]; ok {
			t.Fatalf("%s: the record is also left in Extra", d)
		}
		prev = got
	}
}

func TestTrainingInfoErrors(t *testing.T) {
	for _, bad := range []string{`"x"`, `{"scheme":"full"}`, `{"data":"mnist","scheme":"full","split_seed":-1}`,
		`{"data":"mnist","scheme":"full","split_seed":"1"}`} {
		m := microModel(t, 1)
		dir := t.TempDir()
		if err := Save(m, dir, NewCheckpoint("vit-micro", m.Cfg), ""); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, ConfigFile)
		raw, _ := os.ReadFile(p)
		s := strings.Replace(string(raw), "{", `{"glora_training": `+bad+",", 1)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "glora_training") || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: error %v, want one naming glora_training and the folder", bad, err)
		}
	}
}

// A missing config.json is reported with the folder's name.
func TestLoadNamesTheFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nowhere")
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %v does not name %s", err, dir)
	}
}
