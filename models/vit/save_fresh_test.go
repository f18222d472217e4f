package vit

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Saving timm over a transformers folder leaves no preprocessor_config.json;
// a folder's own files stay; nothing but dir is left in the parent.
func TestSaveFreshReplacesStaleFiles(t *testing.T) {
	m := microModel(t, 5)
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	hf := NewCheckpoint("vit-micro", m.Cfg)
	hf.Dialect, hf.Naming = Transformers, Transformers
	if err := SaveFresh(m, dir, hf, ""); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !slices.Contains(got, PreprocessorFile) {
		t.Fatalf("transformers save wrote %v", got)
	}
	// The preprocessor says how glora resizes: bicubic (PIL's 3).
	if b, err := os.ReadFile(filepath.Join(dir, PreprocessorFile)); err != nil || !strings.Contains(string(b), `"resample": 3`) {
		t.Fatalf("preprocessor_config.json: %s, %v", b, err)
	}
	if err := SaveFresh(m, dir, NewCheckpoint("vit-micro", m.Cfg), ""); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{ConfigFile, WeightsFile}) {
		t.Fatalf("timm save over a transformers folder left %v", got)
	}
	if _, _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	// A folder with files of its own keeps them.
	if err := SaveFresh(m, dir, hf, ""); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("mine"), 0o644)
	if err := SaveFresh(m, dir, NewCheckpoint("vit-micro", m.Cfg), ""); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"README.md", ConfigFile, WeightsFile}) {
		t.Fatalf("save over a folder with a README left %v", got)
	}
	if got := listDir(t, parent); !slices.Equal(got, []string{"out"}) {
		t.Fatalf("temporary folders left behind: %v", got)
	}
	// A failed save creates nothing.
	bad := NewCheckpoint("vit-micro", m.Cfg)
	bad.Dialect = "onnx"
	if err := SaveFresh(m, filepath.Join(parent, "a", "b", "new"), bad, ""); err == nil {
		t.Fatal("bad dialect saved")
	}
	if got := listDir(t, parent); !slices.Equal(got, []string{"out"}) {
		t.Fatalf("a failed save left %v", got)
	}
}
