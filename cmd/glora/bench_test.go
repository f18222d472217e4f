package main

import (
	"math"
	"regexp"
	"slices"
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

// --gemm-shapes lists the timed steps' products (not the warm-up's) after
// each step benchmark, on stderr with --json; a negative count is refused.
func TestBenchGEMMShapes(t *testing.T) {
	code, stdout, stderr := runCLI("bench", "lora-train", "--model", "vit-micro", "--batch", "2", "--steps", "2", "--warmup", "1", "--gemm-shapes", "3", "--json")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	if obj := jsonLines(t, "bench lora-train", stdout); len(obj) != 1 || obj[0]["bench"] != "lora-train" {
		t.Fatalf("stdout: %s", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "matrix products by shape") })
	if i < 0 || len(lines) != i+2+3 || !strings.Contains(lines[i+2], "×") || !strings.HasSuffix(lines[i+2], "%") {
		t.Fatalf("stderr: %s", stderr)
	}
	// vit-micro, batch 2: 2 timed steps, 2 blocks, each with one qkv
	// forward product of 2·17 tokens: 4 calls, not the warm-up's 6.
	code, stdout, _ = runCLI("bench", "vit-train", "--model", "vit-micro", "--batch", "2", "--steps", "2", "--warmup", "1", "--gemm-shapes", "100")
	qkv := regexp.MustCompile(`(?m)^  34×96×32 +A·Bᵀ +\+b +(\d+) `).FindStringSubmatch(stdout)
	if code != 0 || qkv == nil || qkv[1] != "4" {
		t.Fatalf("code %d, qkv forward %q:\n%s", code, qkv, stdout)
	}
	if code, _, stderr := runCLI("bench", "vit-train", "--gemm-shapes", "-1"); code == 0 || !strings.Contains(stderr, "--gemm-shapes -1") {
		t.Errorf("--gemm-shapes -1: code %d: %s", code, stderr)
	}
}

// The lm benchmarks on the shipped LM's shape (full, LoRA and GLoRA
// supernet steps, decoding): --seq-len and --tokens default to what fits
// its 128 positions; other shapes and longer sequences are refused, naming
// the flag.
func TestBenchLMShapes(t *testing.T) {
	code, stdout, stderr := runCLI("bench", "lm-train", "--model", "shipped-lm", "--batch", "2", "--steps", "1", "--warmup", "0", "--json")
	if code != 0 {
		t.Fatalf("lm-train: code %d: %s", code, stderr)
	}
	if obj := jsonLines(t, "bench lm-train", stdout)[0]; obj["seq_len"] != 128.0 || obj["params"] != 1967808.0 {
		t.Fatalf("lm-train: %v", obj)
	}
	for _, which := range []string{"lm-lora-train", "lm-glora-train"} {
		code, stdout, stderr = runCLI("bench", which, "--model", "shipped-lm", "--batch", "2", "--steps", "2", "--warmup", "0", "--rank", "4", "--json")
		if code != 0 {
			t.Fatalf("%s: code %d: %s", which, code, stderr)
		}
		if obj := jsonLines(t, "bench "+which, stdout)[0]; obj["bench"] != which {
			t.Fatalf("%s: %v", which, obj)
		}
	}
	code, stdout, stderr = runCLI("bench", "lm-generate", "--model", "shipped-lm", "--json")
	if code != 0 {
		t.Fatalf("lm-generate: code %d: %s", code, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"lm-train", "--model", "vit-tiny"}, `--model "vit-tiny": the lm benchmarks take stories15m or shipped-lm`},
		{[]string{"lm-train", "--model", "shipped-lm", "--seq-len", "200"}, "--seq-len 200: shipped-lm has 128 positions"},
	} {
		if code, _, stderr := runCLI(append([]string{"bench"}, c.args...)...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, %q", c.args, code, stderr)
		}
	}
}

// peft-train times the three steps in one process: --steps × --rounds
// steps of each, rates that are positive and ratios that are their
// quotients, and a table line.
func TestBenchPEFTTrain(t *testing.T) {
	code, stdout, stderr := runCLI("bench", "peft-train", "--model", "vit-micro", "--batch", "2", "--steps", "2", "--rounds", "3", "--json")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	obj := jsonLines(t, "bench peft-train", stdout)
	if len(obj) != 1 || obj[0]["bench"] != "peft-train" || obj[0]["steps"] != 6.0 {
		t.Fatalf("stdout: %s", stdout)
	}
	r := obj[0]
	full, lora, sup := r["full_per_s"].(float64), r["lora_per_s"].(float64), r["glora_per_s"].(float64)
	if r["unit"] != "img/s" {
		t.Fatalf("unit %v", r["unit"])
	}
	if full <= 0 || lora <= 0 || sup <= 0 || math.Abs(r["lora_vs_full"].(float64)-lora/full) > 1e-9 || math.Abs(r["glora_vs_full"].(float64)-sup/full) > 1e-9 {
		t.Fatalf("rates and ratios do not agree: %v", r)
	}
	// the products' arithmetic: the LoRA step skips the frozen weights'
	// gradients, so it multiplies less than the full step
	gf, gl, gg := r["full_gflop_per_step"].(float64), r["lora_gflop_per_step"].(float64), r["glora_gflop_per_step"].(float64)
	if gl <= 0 || gg <= 0 || gl >= gf || math.Abs(r["lora_flop_bound"].(float64)-gf/gl) > 1e-9 || math.Abs(r["glora_flop_bound"].(float64)-gf/gg) > 1e-9 {
		t.Fatalf("GFLOP a step and bounds do not agree: %v", r)
	}
	code, stdout, _ = runCLI("bench", "peft-train", "--model", "vit-micro", "--batch", "2", "--steps", "1", "--rounds", "1")
	if code != 0 || !strings.Contains(stdout, "× full; products' arithmetic") {
		t.Fatalf("code %d, table: %s", code, stdout)
	}
	// the decoder's: tokens a second, the same arithmetic
	code, stdout, stderr = runCLI("bench", "lm-peft-train", "--model", "shipped-lm", "--batch", "2", "--seq-len", "16", "--steps", "1", "--rounds", "2", "--json")
	if code != 0 {
		t.Fatalf("lm-peft-train: code %d: %s", code, stderr)
	}
	obj = jsonLines(t, "bench lm-peft-train", stdout)
	if len(obj) != 1 || obj[0]["bench"] != "lm-peft-train" || obj[0]["unit"] != "tok/s" || obj[0]["steps"] != 2.0 || obj[0]["seq_len"] != 16.0 {
		t.Fatalf("stdout: %s", stdout)
	}
	r = obj[0]
	full, lora = r["full_per_s"].(float64), r["lora_per_s"].(float64)
	gf, gl = r["full_gflop_per_step"].(float64), r["lora_gflop_per_step"].(float64)
	if full <= 0 || lora <= 0 || gl <= 0 || gl >= gf || math.Abs(r["lora_vs_full"].(float64)-lora/full) > 1e-9 || math.Abs(r["lora_flop_bound"].(float64)-gf/gl) > 1e-9 {
		t.Fatalf("lm-peft-train: rates, GFLOP and ratios do not agree: %v", r)
	}
}
