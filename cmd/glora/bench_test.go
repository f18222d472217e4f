package main

import (
	"strings"
	"testing"
)

// The two benchmarks through the command line, with --json.
func TestBenchSearchCLI(t *testing.T) {
	for _, which := range []string{"search", "merged-forward"} {
		code, stdout, stderr := runCLI("bench", which, "--model", "vit-micro", "--json", "--val", "10", "--candidates", "2",
			"--steps", "1", "--rounds", "1", "--batch", "4")
		if code != 0 {
			t.Fatalf("%s: code %d: %s", which, code, stderr)
		}
		obj := jsonLines(t, "bench "+which, stdout)[0]
		if obj["bench"] != which {
			t.Fatalf("%s: %v", which, obj)
		}
	}
	if code, _, stderr := runCLI("bench", "search", "--candidates", "0"); code == 0 || !strings.Contains(stderr, "--candidates 0") {
		t.Fatalf("--candidates 0: code %d, %s", code, stderr)
	}
}
