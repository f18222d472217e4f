package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// With --json, stdout carries exactly one JSON object per line and nothing
// else; the human-readable text goes to stderr.
func TestJSONOutputIsOnlyJSON(t *testing.T) {
	dir := t.TempDir()
	writeClasses(t, filepath.Join(dir, "data"), classNames(2), 4, true)
	data := "folder:" + filepath.Join(dir, "data")
	m := filepath.Join(dir, "m")
	for _, tc := range []struct {
		args  []string
		lines int
		key   string // a key the first object has
		human string // text that must go to stderr ("" = none required)
	}{
		{[]string{"convert", "--model", "vit-micro", "--out", m, "--json"}, 1, "dialect", ""},
		{[]string{"pretrain", "--model", "vit-micro", "--data", data, "--scheme", "full", "--epochs", "1", "--out", filepath.Join(dir, "run"), "--json"},
			1, "history", "pretrain preset vit-micro"},
		{[]string{"eval", "--model", filepath.Join(dir, "run", "best"), "--data", data, "--json"}, 1, "accuracy", "top-1 accuracy"},
		{[]string{"inspect", m, "--json"}, 1, "tensors", ""},
		{[]string{"average", "--out", filepath.Join(dir, "avg"), m, m, "--json"}, 1, "out", ""},
		{[]string{"bench", "sgemm", "--n", "32", "--iters", "1", "--json"}, 1, "gflops", ""},
	} {
		code, o, e := runCLI(tc.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", tc.args, code, o, e)
		}
		objs := jsonLines(t, tc.args[0], o)
		if len(objs) != tc.lines {
			t.Errorf("%s --json: %d lines on stdout, want %d:\n%s", tc.args[0], len(objs), tc.lines, o)
		}
		if _, ok := objs[0][tc.key]; !ok {
			t.Errorf("%s --json: no %q in %v", tc.args[0], tc.key, objs[0])
		}
		if tc.human != "" && !strings.Contains(e, tc.human) {
			t.Errorf("%s --json: the human text %q is not on stderr:\n%s", tc.args[0], tc.human, e)
		}
	}
}
