package main

import (
	"strings"
	"testing"

	"github.com/glora/glora/tensor"
)

// --precision bf16 runs eval with bfloat16 matrix products and says so;
// an unknown precision is refused naming the flag.
func TestEvalPrecisionFlag(t *testing.T) {
	spec := "synth:count:train=20,test=64"
	code, o, e := runCLI("eval", "--data", spec, "--json", "--precision", "bf16")
	lines := jsonLines(t, "eval --precision bf16", o)
	if code != 0 || lines[0]["precision"] != "bf16" || !strings.Contains(e, "precision bf16: bfloat16 operands") {
		t.Fatalf("eval --precision bf16: exit %d\n%s%s", code, o, e)
	}
	code, o, _ = runCLI("eval", "--data", spec, "--json")
	if lines := jsonLines(t, "eval", o); code != 0 || lines[0]["precision"] != "f32" {
		t.Fatalf("eval: exit %d, %s", code, o)
	}
	if code, _, e := runCLI("eval", "--data", spec, "--precision", "fp8"); code == 0 || !strings.Contains(e, `--precision: unknown precision "fp8"`) {
		t.Fatalf("--precision fp8: exit %d, %s", code, e)
	}
	if tensor.MatmulPrecision() != tensor.F32 {
		t.Fatal("eval left the process at bf16")
	}
}
