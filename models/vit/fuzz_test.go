package vit

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzLoadConfig: any config.json (and preprocessor_config.json) must give
// a Checkpoint or an error, never a panic, and an accepted config must be
// valid and buildable within bounds.
func FuzzLoadConfig(f *testing.F) {
	dirs, _ := filepath.Glob("testdata/*")
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, ConfigFile)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model_type":"vit","hidden_size":-3}`))
	f.Add([]byte(`{"architecture":"vit_tiny_patch16_224","model_args":{"depth":1e30}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := loadConfig(fstest.MapFS{ConfigFile: {Data: b}, PreprocessorFile: {Data: b}}, "fuzz")
		if err != nil {
			return
		}
		if err := ck.Config.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
	})
}
