package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every numeric flag is checked before any work: the error names the flag
// and its range, nothing panics and no output folder appears.
func TestNumericFlagsAreChecked(t *testing.T) {
	dir := t.TempDir()
	data := "folder:" + filepath.Join(dir, "data")
	writeClasses(t, filepath.Join(dir, "data"), classNames(2), 4, true)
	out := filepath.Join(dir, "run")
	pre := []string{"pretrain", "--model", "vit-micro", "--data", data, "--out", out}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(pre, "--batch", "0"), "--batch 0: want a whole number in [1, 65536]"},
		{append(pre, "--batch", "-3"), "--batch -3"},
		{append(pre, "--epochs", "0"), "--epochs 0: want a whole number in [1, "},
		{append(pre, "--lr", "0"), "--lr 0: want a number in (0, 10]"},
		{append(pre, "--lr", "NaN"), "--lr NaN"},
		{append(pre, "--min-lr", "0.1"), "--min-lr 0.1: want a number in [0, 0.001]"},
		{append(pre, "--warmup", "-1"), "--warmup -1"},
		{append(pre, "--warmup", "11"), "--warmup 11: want a number in [0, 10]"},
		{append(pre, "--wd", "-0.1"), "--wd -0.1"},
		{append(pre, "--label-smoothing", "1"), "--label-smoothing 1: want a number in [0, 1)"},
		{append(pre, "--clip", "-1"), "--clip -1"},
		{append(pre, "--clip", "+Inf"), "--clip +Inf"},
		{append(pre, "--checkpoint-every", "-1"), "--checkpoint-every -1"},
		{append(pre, "--stop-after", "11"), "--stop-after 11: want a whole number in [0, 10]"},
		{append(pre, "--drop-path", "1.5"), "--drop-path 1.5: want a number in [0, 1)"},
		{[]string{"eval", "--model", "vit-micro", "--data", data, "--batch", "0"}, "--batch 0: want a whole number"},
		{[]string{"bench", "--steps", "0", "vit-train"}, "--steps 0"},
		{[]string{"bench", "--warmup", "-1", "vit-train"}, "--warmup -1"},
		{[]string{"bench", "--iters", "0", "sgemm"}, "--iters 0"},
		{[]string{"bench", "--n", "100000", "sgemm"}, "--n 100000: want a whole number in [1, 16384]"},
		{[]string{"demo", "--batch", "0"}, "--batch 0"},
		{[]string{"average", "--out", out, "--dtype", "f8", "a", "b"}, `--dtype "f8"`},
		{[]string{"convert", "--out", out, "--dtype", "int4"}, `--dtype "int4"`},
		// lora ranks: at most glora.MaxRank, and at most a layer's min(in, out) (vit-micro's are 32)
		{[]string{"supernet", "--base", "vit-micro", "--data", data, "--out", out, "--ranks", "4,5000"}, `--ranks "4,5000": want whole numbers in [1, 4096]`},
		{[]string{"supernet", "--base", "vit-micro", "--data", data, "--out", out, "--ranks", "4,33"}, `layer "blocks.0.attn.qkv" (32→96): lora rank 33 is above min(in, out) = 32`},
		{[]string{"run", "--base", "vit-micro", "--data", data, "--out", out, "--ranks", "4,33"}, "lora rank 33 is above min(in, out) = 32"},
		{[]string{"run", "--base", "vit-micro", "--data", data, "--out", out, "--anchor-lora", "1.5"}, "--anchor-lora 1.5: want a number in [0, 1]"},
		{[]string{"supernet", "--base", "vit-micro", "--data", data, "--out", out, "--anchor-lora", "-0.1"}, "--anchor-lora -0.1: want a number in [0, 1]"},
		{[]string{"finetune", "--base", "vit-micro", "--data", data, "--out", out, "--method", "lora", "--rank", "33"}, "lora rank 33 is above min(in, out) = 32"},
		{[]string{"finetune", "--base", "vit-micro", "--data", data, "--out", out, "--method", "glora", "--structure", structure(t, dir, "lora_33")},
			`layer "blocks.0.attn.qkv" (32→96): lora rank 33 is above min(in, out) = 32`},
		{[]string{"finetune", "--base", "vit-micro", "--data", data, "--out", out, "--method", "glora", "--structure", structure(t, dir, "lora_100000")},
			`unknown choice "lora_100000" (want none, constant, vector or lora_<r> with 1 ≤ r ≤ 4096)`},
	} {
		code, o, e := runCLI(tc.args...)
		if code != 1 || !strings.Contains(e, tc.want) {
			t.Errorf("%v: exit %d, want 1 and an error containing %q:\n%s%s", tc.args[len(tc.args)-2:], code, tc.want, o, e)
		}
		if exists(out) {
			t.Fatalf("%v: left %s behind", tc.args, out)
		}
	}
}

// structure writes a structure file for vit-micro that puts choice on
// every layer's B and returns its path.
func structure(t *testing.T, dir, choice string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("{")
	for i, p := range []string{"blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.0.mlp.fc1", "blocks.0.mlp.fc2",
		"blocks.1.attn.qkv", "blocks.1.attn.proj", "blocks.1.mlp.fc1", "blocks.1.mlp.fc2"} {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q: {\"A\": \"none\", \"B\": %q, \"C\": \"none\", \"D\": \"none\", \"E\": \"none\"}", p, choice)
	}
	b.WriteString("}")
	path := filepath.Join(dir, choice+".json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// bindFlags registers each tagged field with its value as the default and
// its help, and maps the flag to the settings key.
func TestBindFlags(t *testing.T) {
	s := supernetSettings{baseSpec: baseSpec{Base: shipped, Scheme: autoScheme}, CheckpointEvery: 100, Ranks: []int{4, 8}}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	keys := bindFlags(fs, &s)
	for f, k := range map[string]string{"base": "base", "split-seed": "split_seed", "ranks": "ranks", "targets": "targets", "checkpoint-every": "checkpoint_every"} {
		if keys[f] != k {
			t.Errorf("--%s: key %q, want %q", f, keys[f], k)
		}
	}
	if d := fs.Lookup("ranks").DefValue; d != "4,8" {
		t.Errorf("--ranks default %q", d)
	}
	if err := fs.Parse([]string{"--ranks", "2,16", "--targets", "attn.qkv, mlp.fc1", "--split-seed", "7"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Ranks, []int{2, 16}) || !slices.Equal(s.Targets, []string{"attn.qkv", "mlp.fc1"}) || s.SplitSeed != 7 || s.Base != shipped {
		t.Errorf("parsed %+v", s)
	}
	if err := fs.Parse([]string{"--ranks", "8,4,8"}); err == nil || !strings.Contains(err.Error(), "rank 8 given twice") {
		t.Errorf("--ranks 8,4,8: %v", err)
	}
}
