package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// writeJSONAtomic writes v as indented JSON to a temporary file beside path
// and renames it into place.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := firstErr(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// outFolder remembers whether a command's output folder existed before it
// started, so that a failure can remove a folder it created and left empty.
type outFolder struct {
	dir     string
	existed bool
}

func newOutFolder(dir string) outFolder {
	_, err := os.Stat(dir)
	return outFolder{dir: dir, existed: err == nil}
}

// cleanup removes the folder if this command created it and it is empty.
func (o outFolder) cleanup() {
	if o.existed {
		return
	}
	if ents, err := os.ReadDir(o.dir); err == nil && len(ents) == 0 {
		os.Remove(o.dir)
	}
}

// jsonLine writes v as one line of JSON.
func jsonLine(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return string(b)
}
