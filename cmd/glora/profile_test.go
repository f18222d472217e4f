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

// GLORA_GEMM_SHAPES=N lists any command's product shapes on stderr when
// it ends; a value that is not a count stops the command, naming it.
func TestEnvGEMMShapes(t *testing.T) {
	t.Setenv(shapesEnv, "2")
	code, out, errs := runCLI("demo", "--synthetic", "--steps", "2")
	if code != 0 || !strings.Contains(out, "held-out accuracy") || !strings.Contains(errs, "matrix products by shape") {
		t.Fatalf("demo --synthetic with %s=2: %d\n%s\n%s", shapesEnv, code, out, errs)
	}
	t.Setenv(shapesEnv, "all")
	if code, _, errs := runCLI("version"); code != 1 || !strings.Contains(errs, shapesEnv+"=all") {
		t.Fatalf("%s=all: %d %s", shapesEnv, code, errs)
	}
}

// GLORA_MEMPROFILE writes any command's allocation profile when it ends;
// a path it cannot write stops the command before it starts, naming the
// variable.
func TestEnvMemProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "mem.prof")
	t.Setenv(memProfileEnv, prof)
	if code, out, errs := runCLI("version"); code != 0 || !strings.HasPrefix(out, "glora ") {
		t.Fatalf("version with %s: %d %s %s", memProfileEnv, code, out, errs)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Fatalf("no profile written: %v", err)
	}
	t.Setenv(memProfileEnv, filepath.Join(t.TempDir(), "missing", "mem.prof"))
	if code, out, errs := runCLI("version"); code != 1 || out != "" || !strings.Contains(errs, memProfileEnv) {
		t.Fatalf("unwritable profile: %d %q %s", code, out, errs)
	}
}
