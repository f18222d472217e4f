package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestVersionAndHelp(t *testing.T) {
	if code, _, e := runCLI("version", "--bogus"); code == 0 || !strings.Contains(e, "-bogus") {
		t.Errorf("version --bogus: exit %d, %s", code, e)
	}
	if code, out, _ := runCLI("version"); code != 0 || !strings.HasPrefix(out, "glora ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
	code, out, _ := runCLI("help")
	if code != 0 {
		t.Fatalf("help: code %d", code)
	}
	for name := range commands {
		if !strings.Contains(out, name) {
			t.Errorf("help does not list %q", name)
		}
	}
	if code, out, _ := runCLI("help", "bench"); code != 0 || !strings.Contains(out, "-batch") {
		t.Fatalf("help bench: code %d, out %q", code, out)
	}
}

func TestBadInvocations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"` + "\n"},
		{[]string{"evl"}, `unknown command "evl" (did you mean eval?)`},
		{[]string{"fine-tune"}, `unknown command "fine-tune" (did you mean finetune?)`},
		{[]string{"bench", "--batch", "0", "sgemm"}, "--batch 0: want a whole number in [1, "},
		{[]string{"bench", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"bench", "warp-drive"}, `unknown benchmark "warp-drive"`},
		{[]string{"bench", "--model", "vit-giant", "sgemm"}, `unknown ViT preset "vit-giant"`},
		{[]string{"eval"}, "--data is required"},
		{[]string{"eval", "--model", "vit-micro", "--data", "no-such-set"}, `unknown dataset spec "no-such-set"`},
		{[]string{"eval", "--model", "vit-micro", "--data", "folder:/does/not/exist"}, "/does/not/exist"},
		{[]string{"pretrain", "--data", "fashion-mnist"}, "--out is required"},
		{[]string{"demo", "--steps", "0"}, "--steps 0: want a whole number in [1, "},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"inspect", "/does/not/exist"}, "model /does/not/exist: no such checkpoint folder"},
		{[]string{"inspect", "vit-nano"}, `model "vit-nano" is neither a checkpoint folder, nor "shipped"`},
	} {
		code, out, errOut := runCLI(tc.args...)
		if code == 0 {
			t.Errorf("%v: exit 0, want failure", tc.args)
		}
		if !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%v: output lacks %q:\n%s%s", tc.args, tc.want, out, errOut)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		if code, out, e := runCLI(arg); code != 0 || !strings.HasPrefix(out, "glora ") {
			t.Errorf("%s: exit %d, %q%s", arg, code, out, e)
		}
	}
}

func TestFlagsAfterPositionalArguments(t *testing.T) {
	code, out, e := runCLI("bench", "sgemm", "--n", "64", "--iters", "1", "--json")
	if code != 0 || !strings.Contains(out, `"bench":"sgemm"`) {
		t.Fatalf("bench sgemm --n 64 --json: code %d, %s%s", code, out, e)
	}
	if code, _, e := runCLI("bench", "sgemm", "--n", "0"); code == 0 || !strings.Contains(e, "--n 0: want a whole number") {
		t.Fatalf("a bad flag after the positional argument was not checked: code %d, %s", code, e)
	}
}

func TestDemoLossFalls(t *testing.T) {
	code, out, errOut := runCLI("demo", "--synthetic", "--steps", "40", "--batch", "8")
	if code != 0 {
		t.Fatalf("demo failed: %s", errOut)
	}
	if !strings.Contains(out, "held-out accuracy") || !strings.Contains(out, "step   40") {
		t.Fatalf("demo output:\n%s", out)
	}
}

func TestBenchJSONFields(t *testing.T) {
	code, out, errOut := runCLI("bench", "--json", "--model", "vit-micro", "--batch", "2", "--steps", "1", "--warmup", "0", "vit-train")
	if code != 0 {
		t.Fatalf("bench failed: %s", errOut)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	for _, k := range []string{"bench", "img_per_s", "peak_rss_bytes", "gflops"} {
		if _, ok := r[k]; !ok {
			t.Errorf("bench --json lacks %q: %v", k, r)
		}
	}
}

func TestInspectPreset(t *testing.T) {
	code, out, errOut := runCLI("inspect", "vit-micro")
	if code != 0 {
		t.Fatalf("inspect failed: %s", errOut)
	}
	if !strings.Contains(out, "blocks.0.attn.qkv.weight") {
		t.Fatalf("inspect output lacks the qkv tensor:\n%s", out)
	}
}

func TestConvertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if code, _, e := runCLI("convert", "--model", "vit-micro", "--out", dir+"/hf", "--dialect", "transformers", "--dtype", "bf16"); code != 0 {
		t.Fatalf("convert to transformers: %s", e)
	}
	code, out, e := runCLI("inspect", dir+"/hf")
	if code != 0 {
		t.Fatalf("inspect: %s", e)
	}
	if !strings.Contains(out, "transformers dialect, transformers tensor names, stored as BF16") {
		t.Fatalf("inspect of the converted folder:\n%s", out)
	}
	if code, _, e := runCLI("convert", "--model", dir+"/hf", "--out", dir+"/timm", "--dialect", "timm"); code != 0 {
		t.Fatalf("convert back to timm: %s", e)
	}
	if code, _, e := runCLI("convert", "--model", "vit-micro", "--out", dir+"/x", "--dtype", "f8"); code == 0 || !strings.Contains(e, `--dtype "f8"`) {
		t.Fatalf("bad dtype: code %d, %s", code, e)
	}
}

func TestAverageOfTwoCheckpoints(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"m1", "m2"} { // two checkpoints of one architecture
		if code, _, e := runCLI("convert", "--model", "vit-micro", "--out", dir+"/"+name); code != 0 {
			t.Fatalf("convert: %s", e)
		}
	}
	code, out, e := runCLI("average", "--out", dir+"/avg", dir+"/m1", dir+"/m2")
	if code != 0 || !strings.Contains(out, "average of 2 checkpoints") {
		t.Fatalf("average: code %d, %s%s", code, out, e)
	}
	if code, _, e := runCLI("average", "--out", dir+"/x", dir+"/m1"); code == 0 || !strings.Contains(e, "at least two") {
		t.Fatalf("average of one: code %d, %s", code, e)
	}
	if code, _, e := runCLI("convert", "--model", "vit-fmnist-arch", "--out", dir+"/other"); code != 0 {
		t.Fatalf("convert: %s", e)
	}
	if code, _, e := runCLI("average", "--out", dir+"/y", dir+"/m1", dir+"/other"); code == 0 || !strings.Contains(e, "is (") || !strings.Contains(e, "must share one architecture") {
		t.Fatalf("average of different architectures: code %d, %s", code, e)
	}
}

// A bad flag prints what is wrong and where the flags are listed, not the
// whole flag list; --help prints the list and exits 0.
func TestBadFlagPrintsAHintNotTheList(t *testing.T) {
	code, _, e := runCLI("pretrain", "--augment=spin")
	if code != 1 || !strings.HasPrefix(e, `glora pretrain: invalid value "spin" for flag -augment`) ||
		!strings.Contains(e, "(glora pretrain --help lists its flags)") || strings.Contains(e, "Usage:") {
		t.Errorf("bad flag: exit %d\n%s", code, e)
	}
	code, o, e := runCLI("bench", "transfer", "--bogus")
	if code != 1 || !strings.Contains(e, "glora bench transfer: flag provided but not defined: -bogus\n(glora bench transfer --help lists its flags)") {
		t.Errorf("bench transfer --bogus: exit %d\n%s%s", code, o, e)
	}
	code, o, e = runCLI("pretrain", "--help")
	if code != 0 || !strings.Contains(o+e, "Usage: glora pretrain") || !strings.Contains(o+e, "-augment") {
		t.Errorf("--help: exit %d\n%s%s", code, o, e)
	}
}
