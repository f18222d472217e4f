package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// GLORA_CPUPROFILE and GLORA_MEMPROFILE profile any command (the CPU
// profile of its run, its allocations when it ends); a path either cannot
// write stops the command before it starts, naming the variable.
func TestEnvProfile(t *testing.T) {
	for _, env := range []string{profileEnv, memProfileEnv} {
		prof := filepath.Join(t.TempDir(), "run.prof")
		t.Setenv(env, prof)
		if code, out, errs := runCLI("version"); code != 0 || !strings.HasPrefix(out, "glora ") {
			t.Fatalf("version with %s: %d %s %s", env, code, out, errs)
		}
		if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
			t.Fatalf("%s: no profile written: %v", env, err)
		}
		t.Setenv(env, filepath.Join(t.TempDir(), "missing", "run.prof"))
		if code, out, errs := runCLI("version"); code != 1 || out != "" || !strings.Contains(errs, env) {
			t.Fatalf("%s unwritable: %d %q %s", env, code, out, errs)
		}
		t.Setenv(env, "")
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
