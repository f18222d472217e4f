package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entries lists dir's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := WriteBytes(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(path, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("content %q, want %q", b, "two")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != Perm {
		t.Errorf("mode %v, want %v", fi.Mode().Perm(), os.FileMode(Perm))
	}
	if es := entries(t, dir); len(es) != 1 {
		t.Fatalf("folder holds %v, want only a.json", es)
	}
}

// A write that fails half-way leaves the previous file intact and no
// temporary file behind; the error names the file.
func TestWriteFileFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := WriteBytes(path, []byte("old content")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := WriteFile(path, func(w io.Writer) error {
		if _, err := w.Write([]byte("new cont")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("want the write's error naming %s, got %v", path, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old content" {
		t.Fatalf("previous file changed to %q", b)
	}
	if es := entries(t, dir); len(es) != 1 {
		t.Fatalf("temporary file left behind: %v", es)
	}
	// into a folder that does not exist: an error, nothing created
	if err := WriteBytes(filepath.Join(dir, "no", "such"), nil); err == nil {
		t.Fatal("want an error writing into a missing folder")
	}
}

func TestWriteDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "checkpoint")
	write := func(content string) error {
		return WriteDir(dir, func(tmp string) error {
			return WriteBytes(filepath.Join(tmp, "state.json"), []byte(content))
		})
	}
	for _, c := range []string{"first", "second"} {
		if err := write(c); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "state.json")); string(b) != c {
			t.Fatalf("state.json holds %q, want %q", b, c)
		}
		if es := entries(t, parent); len(es) != 1 {
			t.Fatalf("parent holds %v, want only checkpoint", es)
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
			t.Errorf("folder mode %v, want 0755", fi.Mode().Perm())
		}
	}
	// A failing build leaves the previous folder intact and nothing else.
	boom := errors.New("boom")
	err := WriteDir(dir, func(tmp string) error {
		if err := WriteBytes(filepath.Join(tmp, "state.json"), []byte("third")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("want the build's error naming %s, got %v", dir, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "state.json")); string(b) != "second" {
		t.Fatalf("previous folder changed: state.json holds %q", b)
	}
	if es := entries(t, parent); len(es) != 1 {
		t.Fatalf("parent holds %v after a failed build, want only checkpoint", es)
	}
}

func TestCheckReplace(t *testing.T) {
	dir := t.TempDir()
	missing, empty, full, file := filepath.Join(dir, "missing"), filepath.Join(dir, "empty"), filepath.Join(dir, "full"), filepath.Join(dir, "file")
	os.Mkdir(empty, 0o755)
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	os.WriteFile(file, nil, 0o644)
	refuse := func(string) error { return errors.New("refused") }
	for _, c := range []struct {
		dir     string
		replace func(string) error
		ok      bool
	}{{missing, refuse, true}, {empty, refuse, true}, {full, refuse, false}, {full, nil, false},
		{full, func(string) error { return nil }, true}, {file, nil, false}} {
		if err := CheckReplace(c.dir, c.replace); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.dir, err)
		}
	}
}
