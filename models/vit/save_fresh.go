package vit

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/glora/glora/safetensors"
)

// checkpointFiles are the files Save may write.
var checkpointFiles = map[string]bool{ConfigFile: true, WeightsFile: true, PreprocessorFile: true}

// SaveFresh is Save into a fresh temporary folder beside dir, which then
// replaces dir: a folder that held another checkpoint keeps no stale file
// (such as a transformers preprocessor_config.json after a conversion to
// timm), and a failed save leaves dir as it was and creates nothing. When
// dir also holds files of its own (a README, a script), those are kept:
// the new checkpoint's files are renamed into dir one by one and the old
// checkpoint files it does not have are removed.
func SaveFresh(m *Model, dir string, ck Checkpoint, dtype safetensors.DType) error {
	dir = filepath.Clean(dir)
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	st, statErr := os.Stat(dir)
	if statErr == nil && !st.IsDir() {
		return fmt.Errorf("vit: save: %s exists and is not a folder", dir)
	}
	created := missingAncestors(parent)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("vit: save: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".new*")
	if err != nil {
		return fmt.Errorf("vit: save: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after a rename; removes the rest after an error
	ok := false
	defer func() {
		if !ok { // a failed save leaves no folder it made
			os.RemoveAll(tmp)
			for _, d := range created {
				os.Remove(d) // only while empty
			}
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("vit: save: %w", err)
	}
	if err := Save(m, tmp, ck, dtype); err != nil {
		return err
	}
	ok = true           // from here dir is replaced or left as it was; nothing to undo
	if statErr != nil { // no dir yet
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("vit: save: %w", err)
		}
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("vit: save: %w", err)
	}
	own := false
	for _, e := range ents {
		own = own || !checkpointFiles[e.Name()]
	}
	if !own { // swap the folders
		old, err := os.MkdirTemp(parent, "."+base+".old*")
		if err != nil {
			return fmt.Errorf("vit: save: %w", err)
		}
		defer os.RemoveAll(old)
		if err := os.Rename(dir, filepath.Join(old, base)); err != nil {
			return fmt.Errorf("vit: save: %w", err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.Rename(filepath.Join(old, base), dir) // put the old one back
			return fmt.Errorf("vit: save: %w", err)
		}
		return nil
	}
	written, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("vit: save: %w", err)
	}
	fresh := map[string]bool{}
	for _, e := range written {
		fresh[e.Name()] = true
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("vit: save: %w", err)
		}
	}
	for _, e := range ents {
		if checkpointFiles[e.Name()] && !fresh[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("vit: save: removing the stale %w", err)
			}
		}
	}
	return nil
}

// missingAncestors lists dir and its parents that do not exist yet,
// deepest first.
func missingAncestors(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			return out
		}
		out = append(out, d)
		if filepath.Dir(d) == d {
			return out
		}
	}
}
