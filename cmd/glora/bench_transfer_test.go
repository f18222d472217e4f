package main

import (
	"bytes"
	"strings"
	"testing"
)

// Bad flags of glora bench transfer are refused before any work, naming
// the flag; --dry-run lists the cells.
func TestBenchTransferFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "transfer"}, "--out"},
		{[]string{"bench", "transfer", "--out", "x", "--seeds", "0"}, "--seeds"},
		{[]string{"bench", "transfer", "--out", "x", "--methods", "lora,adapter"}, `unknown method "adapter"`},
		{[]string{"bench", "transfer", "--out", "x", "--methods", "lora,lora"}, "named twice"},
		{[]string{"bench", "transfer", "--out", "x", "--shots", "1,two"}, "--shots"},
		{[]string{"bench", "transfer", "--out", "x", "--tasks", "digits", "--shifts", "invert"}, "add mnist to the tasks"},
		{[]string{"bench", "transfer", "--out", "x", "--shifts", "sketch"}, `unknown domain shift "sketch"`},
		{[]string{"bench", "transfer", "--out", "x", "--test-limit", "-5"}, "--test-limit"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error naming %q", c.args, code, stderr.String(), c.want)
		}
	}
	var stdout, stderr bytes.Buffer
	dir := t.TempDir()
	if code := run([]string{"bench", "transfer", "--quick", "--out", dir, "--dry-run"}, &stdout, &stderr); code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr.String())
	}
	if n := strings.Count(stdout.String(), "to run"); n != 4 {
		t.Fatalf("--quick plans %d cells, want 4:\n%s", n, stdout.String())
	}
	// The default suite: 6 tasks and 3 few-shot tasks × 5 shot counts, 8 methods, 3 seeds.
	stdout.Reset()
	if code := run([]string{"bench", "transfer", "--out", dir, "--dry-run"}, &stdout, &stderr); code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 3*(6+15)*8 {
		t.Fatalf("the default suite plans %d cells, want %d", n, 3*(6+15)*8)
	}
}

// bench transfer's errors name the subcommand once ("glora bench:
// bench transfer: …" before).
func TestBenchTransferErrorsNameTheSubcommand(t *testing.T) {
	code, _, e := runCLI("bench", "transfer", "--out", t.TempDir(), "--methods", "nope", "--dry-run")
	if code == 0 || !strings.HasPrefix(e, `glora bench transfer: unknown method "nope"`) {
		t.Fatalf("exit %d: %q", code, e)
	}
	code, _, e = runCLI("bench", "nope")
	if code == 0 || !strings.HasPrefix(e, `glora bench: unknown benchmark "nope"`) {
		t.Fatalf("exit %d: %q", code, e)
	}
}
