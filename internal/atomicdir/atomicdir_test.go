package atomicdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteNewReplaceRefuseAndFailure(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	put := func(content string) func(string) error {
		return func(tmp string) error { return WriteFile(filepath.Join(tmp, "f.txt"), []byte(content)) }
	}
	read := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "f.txt"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := Write(dir, put("one"), nil); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "one" {
		t.Fatalf("got %q", got)
	}
	if err := Write(dir, put("two"), nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("existing folder without replace: %v", err)
	}
	allow := func(string) error { return nil }
	if err := Write(dir, put("two"), allow); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "two" {
		t.Fatalf("got %q", got)
	}
	boom := errors.New("boom")
	if err := Write(dir, func(tmp string) error { put("three")(tmp); return boom }, allow); !errors.Is(err, boom) {
		t.Fatalf("fill error: %v", err)
	}
	if got := read(); got != "two" {
		t.Fatalf("a failed write changed the folder: %q", got)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Fatalf("leftovers beside the folder: %v", ents)
	}
	empty := filepath.Join(root, "empty")
	os.Mkdir(empty, 0o755)
	if err := Write(empty, put("x"), nil); err != nil {
		t.Fatalf("an empty folder is filled: %v", err)
	}
}
