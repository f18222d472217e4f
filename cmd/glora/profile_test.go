package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// GLORA_CPUPROFILE profiles any command; a path it cannot write stops the
// command before it starts, naming the variable.
func TestEnvProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	t.Setenv(profileEnv, prof)
	if code, out, errs := runCLI("version"); code != 0 || !strings.HasPrefix(out, "glora ") {
		t.Fatalf("version with %s: %d %s %s", profileEnv, code, out, errs)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Fatalf("no profile written: %v", err)
	}
	t.Setenv(profileEnv, filepath.Join(t.TempDir(), "missing", "cpu.prof"))
	if code, out, errs := runCLI("version"); code != 1 || out != "" || !strings.Contains(errs, profileEnv) {
		t.Fatalf("unwritable profile: %d %q %s", code, out, errs)
	}
}
