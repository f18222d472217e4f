package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/textdata"
	"github.com/glora/glora/tokenizer"
)

// writeCorpus writes a small text corpus: paragraphs of a few repeated
// sentences, separated by blank lines.
func writeCorpus(t *testing.T) string {
	t.Helper()
	lines := []string{"the cat sat on the mat.", "a dog ran in the park!", "is the sun up? yes, it is.",
		"we like tea and cake.", "ça va très bien, merci.", "one two three four five."}
	var b strings.Builder
	for i := 0; i < 240; i++ {
		b.WriteString(lines[i%len(lines)] + " " + lines[(i/6)%len(lines)] + " " + lines[(i/36)%len(lines)] + "\n\n")
	}
	p := filepath.Join(t.TempDir(), "corpus.txt")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLanguageModelCommands: pretrain-lm trains a model and a tokenizer on
// a text file, resumes, and its model generates (greedy twice the same),
// evaluates and converts to llama2.c and back with the same perplexity.
func TestLanguageModelCommands(t *testing.T) {
	corpus := "text:" + writeCorpus(t)
	out := filepath.Join(t.TempDir(), "run")
	common := []string{"pretrain-lm", "--data", corpus, "--out", out, "--vocab", "300", "--dim", "32", "--layers", "1",
		"--heads", "2", "--kv-heads", "1", "--seq-len", "32", "--steps", "40", "--batch", "4", "--warmup", "4", "--eval-every", "10"}
	if code, _, errs := runCLI(append(common, "--stop-after", "20")...); code != 0 {
		t.Fatalf("pretrain-lm: %d %s", code, errs)
	}
	if code, _, errs := runCLI(append(common, "--stop-after", "20")...); code == 0 || !strings.Contains(errs, "--resume") {
		t.Fatalf("a second run in the same folder: %d %s", code, errs)
	}
	code, stdout, errs := runCLI("pretrain-lm", "--out", out, "--resume", "--json")
	if code != 0 {
		t.Fatalf("pretrain-lm --resume: %d %s", code, errs)
	}
	var sum struct {
		BestValPPL float64 `json:"best_val_ppl"`
		History    []struct{ Step int }
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || len(sum.History) != 4 || sum.BestValPPL <= 1 || sum.BestValPPL > 300 {
		t.Fatalf("summary %s (%v)", stdout, err)
	}
	best := filepath.Join(out, "best")
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		if !exists(filepath.Join(best, f)) {
			t.Fatalf("best/ has no %s", f)
		}
	}
	gen := []string{"generate", "--model", best, "--prompt", "the cat", "--temperature", "0", "--max-tokens", "20"}
	code, a, errs := runCLI(gen...)
	if code != 0 || !strings.HasPrefix(a, "the cat") {
		t.Fatalf("generate: %d %q %s", code, a, errs)
	}
	if _, b, _ := runCLI(gen...); a != b {
		t.Fatalf("greedy generation differs between runs: %q vs %q", a, b)
	}
	code, j, errs := runCLI(append(gen, "--json")...)
	var g struct {
		Tokens []int
		Text   string
	}
	if code != 0 || json.Unmarshal([]byte(j), &g) != nil || len(g.Tokens) == 0 || !strings.HasPrefix(a, "the cat"+g.Text) && a != "the cat"+g.Text+"\n" {
		t.Fatalf("generate --json: %d %s %s (streamed %q)", code, j, errs, a)
	}
	ppl := func(model string, extra ...string) float64 {
		code, out, errs := runCLI(append([]string{"eval-lm", "--model", model, "--data", corpus, "--json"}, extra...)...)
		var r struct{ Perplexity float64 }
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("eval-lm %s: %d %s %s", model, code, out, errs)
		}
		return r.Perplexity
	}
	p0 := ppl(best)
	bin := filepath.Join(t.TempDir(), "model.bin")
	if code, _, errs := runCLI("convert", "--model", best, "--out", bin, "--format", "llama2c"); code != 0 {
		t.Fatalf("convert to llama2c: %s", errs)
	}
	if p1 := ppl(bin, "--tokenizer", filepath.Join(best, "tokenizer.json")); p1 != p0 {
		t.Fatalf("perplexity %v from the llama2.c file, %v from the folder", p1, p0)
	}
	// convert carried the tokenizer over: tokenizer.bin beside the file,
	// which eval-lm finds there, and tokenizer.json in a folder
	if p1 := ppl(bin); p1 != p0 {
		t.Fatalf("perplexity %v from the llama2.c file and the tokenizer.bin convert wrote, %v from the folder", p1, p0)
	}
	back := filepath.Join(t.TempDir(), "back")
	if code, stdout, errs := runCLI("convert", "--model", bin, "--out", back); code != 0 || !strings.Contains(stdout, "tokenizer: "+filepath.Join(back, "tokenizer.json")) {
		t.Fatalf("convert back: %s %s", stdout, errs)
	}
	if p2 := ppl(back); p2 != p0 {
		t.Fatalf("perplexity %v from the folder converted back, %v from the first", p2, p0)
	}
	// a tokenizer.bin already beside the output is left as it was
	if code, stdout, errs := runCLI("convert", "--model", best, "--out", bin, "--format", "llama2c"); code != 0 || !strings.Contains(stdout, "exists and was left as it was") {
		t.Fatalf("convert over a tokenizer.bin: %d %s %s", code, stdout, errs)
	}
	// adapt the model with LoRA and with SSF (which tunes biases): a merged
	// folder (with the tokenizer) and a PEFT adapter
	for _, method := range []string{"lora", "ssf"} {
		ft := filepath.Join(t.TempDir(), "ft")
		cmd, model := "finetune-lm", "--model"
		if method == "ssf" { // finetune hands a language model to finetune-lm
			cmd, model = "finetune", "--base"
		}
		code, stdout, errs = runCLI(cmd, model, best, "--data", corpus, "--out", ft, "--method", method, "--rank", "2",
			"--steps", "10", "--batch", "4", "--seq-len", "16", "--json")
		var fsum struct {
			Trainable int `json:"trainable_params"`
			Params    int
		}
		if code != 0 || json.Unmarshal([]byte(stdout), &fsum) != nil || fsum.Trainable == 0 || fsum.Trainable >= fsum.Params {
			t.Fatalf("finetune-lm --method %s: %d %s %s", method, code, stdout, errs)
		}
		if method == "lora" { // --test: the best model's test perplexity, as eval-lm reads it
			if code, _, errs := runCLI("finetune-lm", "--model", best, "--data", corpus, "--out", ft, "--overwrite", "--method", method, "--rank", "2",
				"--steps", "10", "--batch", "4", "--seq-len", "16", "--test", "--stop-after", "5"); code != 0 {
				t.Fatalf("finetune-lm --test --stop-after 5: %s", errs)
			}
			code, stdout, errs = runCLI("finetune-lm", "--out", ft, "--resume", "--json") // --test is kept
			var ts struct{ Test struct{ PPL float64 } }
			want := ppl(filepath.Join(ft, "best", "merged"), "--split", "test", "--seq-len", "16", "--batch", "4")
			if code != 0 || json.Unmarshal([]byte(stdout), &ts) != nil || math.Abs(ts.Test.PPL-want) > 1e-9*want {
				t.Fatalf("finetune-lm --test: %d %s %s (eval-lm: %v)", code, stdout, errs, want)
			}
		}
		for _, f := range []string{"merged/config.json", "merged/tokenizer.json", "adapter/adapter_model.safetensors"} {
			if !exists(filepath.Join(ft, "best", f)) {
				t.Fatalf("finetune-lm --method %s wrote no best/%s", method, f)
			}
		}
		// glora merge folds the adapter into its recorded base: the same model as best/merged
		mm := filepath.Join(t.TempDir(), "mm")
		if code, _, errs := runCLI("merge", "--adapter", filepath.Join(ft, "best", "adapter"), "--out", mm); code != 0 {
			t.Fatalf("merge (%s): %s", method, errs)
		}
		if a, b := ppl(mm), ppl(filepath.Join(ft, "best", "merged")); a != b {
			t.Fatalf("%s: glora merge's model scores %v, finetune-lm's merged %v", method, a, b)
		}
		cfg, err := os.ReadFile(filepath.Join(mm, "config.json"))
		if biased := strings.Contains(string(cfg), `"mlp_bias": true`); err != nil || biased != (method == "ssf") {
			t.Fatalf("%s: merged config.json has mlp_bias %v (%v)", method, biased, err)
		}
	}
	// searched GLoRA: supernet, search, retraining; a structure within LoRA's budget
	sr := filepath.Join(t.TempDir(), "sr")
	code, stdout, errs = runCLI("finetune-lm", "--model", best, "--data", corpus, "--out", sr, "--method", "searched", "--ranks", "1,2",
		"--steps", "10", "--batch", "4", "--seq-len", "16", "--population", "4", "--generations", "1", "--search-tokens", "200",
		"--rank-check", "3", "--rank-steps", "2", "--json")
	var ssum struct {
		Search struct {
			Params, Budget, Candidates int
			RankCheck                  struct{ Items []any } `json:"rank_check"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &ssum) != nil || ssum.Search.Candidates < 4 || ssum.Search.Params > ssum.Search.Budget ||
		len(ssum.Search.RankCheck.Items) != 3 ||
		!exists(filepath.Join(sr, "structure.json")) || !exists(filepath.Join(sr, "best", "merged", "model.safetensors")) {
		t.Fatalf("finetune-lm --method searched: %d %s %s", code, stdout, errs)
	}
	// the same chain in stages: glora supernet, glora search --run, glora finetune --method glora
	sn := filepath.Join(t.TempDir(), "sn")
	if code, _, errs := runCLI("supernet", "--base", best, "--data", corpus, "--out", sn, "--ranks", "1,2", "--steps", "10", "--batch", "4",
		"--seq-len", "16", "--population", "4", "--generations", "1", "--search-tokens", "200"); code != 0 || !exists(filepath.Join(sn, "supernet", "checkpoint")) {
		t.Fatalf("supernet on a language model: %d %s", code, errs)
	}
	if code, _, errs := runCLI("search", "--run", sn, "--population", "8"); code == 0 || !strings.Contains(errs, "give them to glora supernet") {
		t.Fatalf("search --run with a setting of its own: %d %s", code, errs)
	}
	for _, bad := range [][]string{{"--budget", "5000"}, {"--topk=3"}, {"-seed-named"}} {
		if code, _, errs := runCLI(append([]string{"search", "--run", sn}, bad...)...); code == 0 || !strings.Contains(errs, "language-model search") || strings.Contains(errs, "not defined") || strings.Contains(errs, "--topk") && strings.Contains(errs, "give them") {
			t.Fatalf("search --run %v on a language-model supernet: %d %s", bad, code, errs)
		}
	}
	code, stdout, errs = runCLI("search", "--run", sn, "--json")
	var found struct {
		Params int `json:"support_params"`
		Budget int
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &found) != nil || found.Params == 0 || found.Params > found.Budget || !exists(filepath.Join(sn, "structure.json")) {
		t.Fatalf("search --run on a language-model supernet: %d %s %s", code, stdout, errs)
	}
	if code, _, errs := runCLI("finetune", "--base", best, "--data", corpus, "--method", "glora", "--structure", filepath.Join(sn, "structure.json"),
		"--out", filepath.Join(t.TempDir(), "ft"), "--steps", "4", "--batch", "4", "--seq-len", "16"); code != 0 {
		t.Fatalf("finetune --method glora --structure on a language model: %d %s", code, errs)
	}
	if code, _, errs := runCLI("finetune-lm", "--model", best, "--data", corpus, "--out", filepath.Join(t.TempDir(), "x"), "--method", "dora"); code == 0 || !strings.Contains(errs, "dora") {
		t.Fatalf("finetune-lm --method dora: %d %s", code, errs)
	}
	// the llama2.c file alone in a folder (convert put a tokenizer.bin beside bin)
	lone := filepath.Join(t.TempDir(), "lone.bin")
	if data, err := os.ReadFile(bin); err != nil || os.WriteFile(lone, data, 0o644) != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI("generate", "--model", lone, "--prompt", "x"); code == 0 || !strings.Contains(errs, "--tokenizer") {
		t.Fatalf("generate without a tokenizer beside the file: %d %s", code, errs)
	}
}

// TestRouteLM: which invocations of the image commands are language-model
// runs.
func TestRouteLM(t *testing.T) {
	for _, c := range []struct {
		args []string
		lm   bool
	}{
		{[]string{"--data", "spam"}, true},
		{[]string{"--data=fortune:art,labels=files"}, true},
		{[]string{"-data", "text:notes.txt"}, true},
		{[]string{"--data", "man:1,8,labels=sections"}, true},
		{[]string{"--data=man"}, true},
		{[]string{"--data", "manual"}, false},
		{[]string{"--data", "mnist"}, false},
		{[]string{"--data", "folder:text"}, false},
		{[]string{"--base", "shipped", "--data", "spam"}, false},
		{[]string{"--base=shipped-lm", "--data", "mnist"}, true},
		{[]string{"--base", "../../testdata/ref/llama/trained"}, true},
		{[]string{"--base", "../../testdata/ref/llama/trained/model.bin"}, true},
		{[]string{"--base", "../../testdata/ref/llama/trained/model.safetensors"}, false},
		{[]string{"--base", "vit-tiny", "--data", "spam"}, false},
		{[]string{"--", "--data", "spam"}, false},
	} {
		if _, lm := lmBase(c.args); lm != c.lm {
			t.Errorf("%v: language model %v, want %v", c.args, lm, c.lm)
		}
	}
}

// TestTrainTokenizer: a folder gets tokenizer.json, tokenizer_config.json
// and tokenizer.bin, which encode alike; training is deterministic; a
// corpus too small for --vocab is a clear error.
func TestTrainTokenizer(t *testing.T) {
	corpus := "text:" + writeCorpus(t)
	out := filepath.Join(t.TempDir(), "tok")
	code, stdout, errs := runCLI("train-tokenizer", "--data", corpus, "--out", out, "--vocab", "300", "--json")
	var r struct {
		Vocab   int     `json:"vocab"`
		PerChar float64 `json:"tokens_per_character"`
		Files   []string
		ValDocs int `json:"val_documents"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil || r.Vocab != 300 || len(r.Files) != 3 || r.PerChar <= 0 || r.PerChar >= 1 || r.ValDocs == 0 {
		t.Fatalf("train-tokenizer: %d %s %s", code, stdout, errs)
	}
	for _, f := range r.Files {
		if !exists(f) {
			t.Fatalf("%s not written", f)
		}
	}
	tj, err := tokenizer.Load(filepath.Join(out, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := tokenizer.Load(filepath.Join(out, "tokenizer.bin"))
	if err != nil {
		t.Fatal(err)
	}
	text := "the cat sat in the park, très bien! 42"
	x, _ := tj.Encode(text, true, false)
	y, _ := tb.Encode(text, true, false)
	if fmt.Sprint(x) != fmt.Sprint(y) || len(x) < 3 {
		t.Fatalf("tokenizer.json encodes %v, tokenizer.bin %v", x, y)
	}
	single := filepath.Join(t.TempDir(), "tokenizer.bin")
	if code, _, errs := runCLI("train-tokenizer", "--data", corpus, "--out", single, "--vocab", "300"); code != 0 || !exists(single) {
		t.Fatalf("train-tokenizer --out FILE.bin: %s", errs)
	}
	a, _ := os.ReadFile(single)
	b, _ := os.ReadFile(filepath.Join(out, "tokenizer.bin"))
	if string(a) != string(b) {
		t.Fatal("the same corpus and flags trained two different tokenizers")
	}
	if code, _, errs := runCLI("train-tokenizer", "--data", corpus, "--out", filepath.Join(t.TempDir(), "t.json"), "--vocab", "50000"); code == 0 || !strings.Contains(errs, "too small") {
		t.Fatalf("a vocabulary the corpus cannot fill: %d %s", code, errs)
	}
}

// TestLanguageModelBadInput: bad flags and files are clear errors.
func TestLanguageModelBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("not a model"), 0o644)
	brokenLM := filepath.Join(dir, "broken-lm")
	os.Mkdir(brokenLM, 0o755)
	os.WriteFile(filepath.Join(brokenLM, "config.json"), []byte(`{"model_type": "llama"}`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--model", ""}, "--model is required"},
		{[]string{"generate", "--model", junk}, "junk.bin"},
		{[]string{"generate", "--model", "../../testdata/ref/llama/trained", "--top-p", "2"}, "--top-p"},
		{[]string{"generate", "--model", "../../testdata/ref/llama/trained", "--temperature", "-1"}, "--temperature"},
		// an image command given a language model names the commands that take one
		{[]string{"eval", "--model", "shipped-lm", "--data", "mnist"}, "shipped-lm is a language model (LLaMA-style), and this command takes an image model"},
		{[]string{"average", "--out", filepath.Join(dir, "avg"), "../../testdata/ref/llama/trained", "../../testdata/ref/llama/trained"}, "trained is a language model (LLaMA-style)"},
		{[]string{"eval-lm", "--plot", filepath.Join(dir, "c.png")}, "--plot draws a classifier's confusion matrix; --model shipped-lm is a language model"},
		// and the other way round
		{[]string{"generate", "--model", "shipped"}, "--model shipped is an image model (a ViT), and this command takes a language model"},
		{[]string{"eval-lm", "--model", "vit-micro", "--data", "fortune"}, "--model vit-micro is an image model"},
		// a broken Llama folder is not called an image model
		{[]string{"generate", "--model", brokenLM}, `no "vocab_size"`},
		// --max-tokens counts the prompt's positions too: none left to generate in
		{[]string{"generate", "--prompt", "The", "--max-tokens", "2"}, "--prompt is 2 tokens (BOS included), which leaves no position"},
		{[]string{"pretrain-lm", "--data", "fortune"}, "--out is required"},
		{[]string{"pretrain-lm", "--out", filepath.Join(dir, "o"), "--data", "nope"}, "nope"},
		{[]string{"pretrain-lm", "--out", filepath.Join(dir, "o"), "--kv-heads", "3", "--heads", "2"}, "kv-heads"},
		{[]string{"eval-lm", "--model", "../../testdata/ref/llama/trained", "--data", "fortune"}, "tokenizer"},
		{[]string{"convert", "--model", "../../testdata/ref/llama/trained", "--out", filepath.Join(dir, "c"), "--format", "gguf"}, "--format"},
		{[]string{"convert", "--model", "../../testdata/ref/llama/random-untied", "--out", filepath.Join(dir, "c.bin"), "--format", "llama2c"}, "rope_theta"},
		{[]string{"convert", "--model", "../../testdata/ref/llama/random-biased", "--out", filepath.Join(dir, "c.bin"), "--format", "llama2c"}, "no biases"},
		{[]string{"train-tokenizer", "--data", "fortune"}, "--out are required"},
		{[]string{"finetune-lm", "--data", "spam", "--method", "lora", "--retrain", "fresh", "--out", filepath.Join(dir, "f")}, "--retrain is for --method searched"},
		{[]string{"finetune-lm", "--data", "spam", "--method", "searched", "--retrain", "new", "--out", filepath.Join(dir, "f")}, "--retrain"},
		{[]string{"finetune-lm", "--data", "spam", "--method", "searched", "--rank-check", "1", "--out", filepath.Join(dir, "f")}, "--rank-check 1"},
		{[]string{"supernet", "--base", "shipped-lm", "--data", "spam", "--method", "lora", "--out", filepath.Join(dir, "s")}, "supernet takes no --method"},
		{[]string{"finetune-lm", "--data", "spam", "--stage", "supernet", "--out", filepath.Join(dir, "s")}, "--stage supernet is for --method searched"},
		{[]string{"finetune-lm", "--data", "spam", "--task", "classify", "--test", "--out", filepath.Join(dir, "s")}, "--test is for --task lm"},
		{[]string{"supernet", "--data", "spam", "--task", "classify", "--out", filepath.Join(dir, "s")}, "a classification chain (--method searched --task classify; glora run --task classify) runs in one piece"},
		{[]string{"finetune-lm", "--data", "spam", "--method", "searched", "--stage", "both", "--out", filepath.Join(dir, "s")}, "--stage"},
		{[]string{"finetune-lm", "--stage", "search", "--out", dir}, "no language-model supernet run"},
		{[]string{"run", "--data", "spam", "--method", "lora", "--out", filepath.Join(dir, "s")}, "takes no --method"},
		{[]string{"finetune", "--base", "shipped-lm", "--data", "spam", "--epochs", "3", "--out", filepath.Join(dir, "s")}, "-epochs"},
		{[]string{"train-tokenizer", "--data", "nope", "--out", filepath.Join(dir, "t.json")}, "nope"},
		{[]string{"train-tokenizer", "--data", "fortune", "--out", filepath.Join(dir, "t.json"), "--vocab", "100"}, "--vocab"},
		{[]string{"train-tokenizer", "--data", "fortune", "--out", filepath.Join(dir, "t.json"), "--character-coverage", "2"}, "--character-coverage"},
		{[]string{"train-tokenizer", "--data", "fortune", "--out", dir}, "exists"},
	} {
		code, _, errs := runCLI(c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Contains(errs, "panic") {
			t.Errorf("%v: exit %d, stderr %q (want it to mention %q)", c.args, code, errs, c.want)
		}
	}
}

// TestClassifyLM: finetune-lm --task classify learns the labels of a
// labelled text folder and reports validation and test accuracy; an
// unlabelled corpus is refused.
func TestClassifyLM(t *testing.T) {
	dir := t.TempDir()
	for c, word := range []string{"apple", "stone"} {
		sub := filepath.Join(dir, []string{"fruit", "rock"}[c])
		os.MkdirAll(sub, 0o755)
		for i := 0; i < 60; i++ {
			text := strings.Repeat("the "+word+" is here. ", 1+i%3) + strings.Repeat("x", i%7)
			os.WriteFile(filepath.Join(sub, fmt.Sprintf("%02d.txt", i)), []byte(text), 0o644)
		}
	}
	corpus := "text:" + writeCorpus(t)
	base := filepath.Join(t.TempDir(), "base")
	if code, _, errs := runCLI("pretrain-lm", "--data", corpus, "--out", base, "--vocab", "300", "--dim", "32", "--layers", "1",
		"--heads", "2", "--seq-len", "32", "--steps", "10", "--batch", "4"); code != 0 {
		t.Fatalf("pretrain-lm: %s", errs)
	}
	// --heads 2 without --kv-heads: the default 4 does not divide it, so one key/value head per head
	if cfg, err := os.ReadFile(filepath.Join(base, "best", "config.json")); err != nil || !strings.Contains(string(cfg), `"num_key_value_heads": 2`) {
		t.Fatalf("config.json %s (%v): want 2 key/value heads", cfg, err)
	}
	out := filepath.Join(t.TempDir(), "cls")
	code, stdout, errs := runCLI("finetune-lm", "--task", "classify", "--model", filepath.Join(base, "best"),
		"--data", "text:"+dir+",labels=folders", "--out", out, "--method", "lora", "--steps", "40", "--batch", "8", "--lr", "1e-2", "--json")
	clsOut := stdout
	if png, err := os.ReadFile(filepath.Join(out, "curves.png")); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("the classification run's curves.png: %v", err)
	}
	var s struct {
		BestValAcc   float64 `json:"best_val_accuracy"`
		TestAcc      float64 `json:"test_accuracy"`
		Classes      []string
		NTest        int `json:"n_test"`
		TestPerClass []struct {
			Class string
			N     int
		} `json:"test_per_class"`
		TestConfusion [][]int `json:"test_confusion"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &s) != nil || s.BestValAcc < 0.9 || s.NTest == 0 || len(s.Classes) != 2 {
		t.Fatalf("finetune-lm --task classify: %d %s %s", code, stdout, errs)
	}
	// the test reading by class: every test document counted once, under its class's name
	if len(s.TestPerClass) != 2 || len(s.TestConfusion) != 2 || s.TestPerClass[0].Class != s.Classes[0] || s.TestPerClass[0].N+s.TestPerClass[1].N != s.NTest {
		t.Fatalf("finetune-lm --task classify: the test split by class: %s", stdout)
	}
	// the classifier folder: eval-lm reads the test split's accuracy again
	code, stdout, errs = runCLI("eval-lm", "--model", filepath.Join(out, "merged"), "--data", "text:"+dir+",labels=folders", "--json")
	var e struct {
		Accuracy  float64
		Documents int
		PerClass  []struct{ N, Correct int } `json:"per_class"`
		Confusion [][]int
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &e) != nil || e.Accuracy != s.TestAcc {
		t.Fatalf("eval-lm on the classifier: %d %s %s (finetune-lm's test accuracy %v)", code, stdout, errs, s.TestAcc)
	}
	// per class: the documents and the correct ones add up, and agree with
	// the confusion matrix's rows and diagonal
	n, correct := 0, 0
	for i, c := range e.PerClass {
		rowSum := 0
		for _, v := range e.Confusion[i] {
			rowSum += v
		}
		if rowSum != c.N || e.Confusion[i][i] != c.Correct {
			t.Fatalf("class %d: %+v against the confusion row %v", i, c, e.Confusion[i])
		}
		n, correct = n+c.N, correct+c.Correct
	}
	if len(e.PerClass) != 2 || n != e.Documents || float64(correct)/float64(n) != e.Accuracy {
		t.Fatalf("eval-lm per class: %s", stdout)
	}
	conf := filepath.Join(t.TempDir(), "confusion.png")
	if code, stdout, _ := runCLI("eval-lm", "--model", filepath.Join(out, "merged"), "--data", "text:"+dir+",labels=folders", "--plot", conf); code != 0 || !strings.Contains(stdout, "documents  correct  accuracy") {
		t.Fatalf("eval-lm's per-class table: %s", stdout)
	}
	if png, err := os.ReadFile(conf); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("eval-lm --plot: %v", err)
	}
	if code, _, errs := runCLI("eval-lm", "--model", filepath.Join(out, "merged"), "--data", corpus); code == 0 || !strings.Contains(errs, "no labels") {
		t.Fatalf("eval-lm of a classifier on unlabelled text: %d %s", code, errs)
	}
	// the classifier as --model: training starts from its head (at a
	// learning rate too small to move it, the first validation loss is the
	// classifier's at its best step again, where a fresh head's is not)
	type history struct {
		BestStep int `json:"best_step"`
		History  []struct {
			Step    int
			ValLoss float64 `json:"val_loss"`
		}
	}
	var first, again history
	json.Unmarshal([]byte(clsOut), &first)
	want := math.NaN()
	for _, h := range first.History {
		if h.Step == first.BestStep {
			want = h.ValLoss
		}
	}
	code, stdout, errs = runCLI("finetune-lm", "--task", "classify", "--model", filepath.Join(out, "merged"),
		"--data", "text:"+dir+",labels=folders", "--out", filepath.Join(t.TempDir(), "again"), "--method", "lora", "--steps", "1", "--lr", "1e-12", "--json")
	if code != 0 || json.Unmarshal([]byte(stdout), &again) != nil || len(again.History) != 1 || math.Abs(again.History[0].ValLoss-want) > 1e-4*max(1, want) ||
		!strings.Contains(errs, "training starts from its head") {
		t.Fatalf("finetune-lm from the classifier: %d %s %s (its validation loss at its best step %v)", code, stdout, errs, want)
	}
	// predict labels text files with the classifier: one line per .txt
	// file of the folder, most of them its folder's class
	code, stdout, errs = runCLI("predict", "--model", filepath.Join(out, "merged"), "--top", "1", "--json", dir)
	lines := jsonLines(t, "predict", stdout)
	files, _ := textdata.TextFiles(dir)
	right := 0
	for _, l := range lines {
		file, top := l["file"].(string), l["top"].([]any)
		label := top[0].(map[string]any)["label"].(string)
		if filepath.Base(filepath.Dir(file)) == label {
			right++
		}
	}
	if code != 0 || len(lines) != len(files) || len(files) == 0 || right < len(files)*3/4 {
		t.Fatalf("predict with the classifier: %d, %d lines for %d files, %d right: %s", code, len(lines), len(files), right, errs)
	}
	for _, model := range []string{filepath.Join(base, "best"), "shipped-lm"} {
		if code, _, errs := runCLI("predict", "--model", model, files[0]); code == 0 || !strings.Contains(errs, "without a classification head") {
			t.Fatalf("predict with the language model %s: %d %s", model, code, errs)
		}
	}
	png := filepath.Join(t.TempDir(), "a.png")
	os.WriteFile(png, []byte("\x89PNG"), 0o644)
	if code, _, errs := runCLI("predict", "--model", filepath.Join(out, "merged"), png); code == 0 || !strings.Contains(errs, "a.png is an image; --model") {
		t.Fatalf("predict of an image with a text classifier: %d %s", code, errs)
	}
	if code, _, errs := runCLI("predict", "--model", filepath.Join(out, "merged"), files[0]); code != 0 || !strings.Contains(errs, "1 text file, its first 32 tokens") {
		t.Fatalf("predict of one file: %d %s", code, errs)
	}
	// an empty file is said and skipped; the others are labelled, and the command fails at the end
	empty := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(empty, []byte(" \n"), 0o644)
	code, stdout, errs = runCLI("predict", "--model", filepath.Join(out, "merged"), files[0], empty, files[1])
	if code == 0 || strings.Count(stdout, "\n") != 2 || !strings.Contains(errs, "empty.txt is empty") || !strings.Contains(errs, "1 of 3 text files could not be read or were empty") {
		t.Fatalf("predict with an empty file: %d %q %s", code, stdout, errs)
	}
	// inspect names the head and the classes, in words and in JSON
	code, stdout, errs = runCLI("inspect", filepath.Join(out, "merged"))
	if want := "2 classes: " + strings.Join(s.Classes, ", "); code != 0 || !strings.Contains(stdout, want) || !strings.Contains(stdout, "score.weight (2, 32)") {
		t.Fatalf("inspect of the classifier: %d %s %s (want %q)", code, stdout, errs, want)
	}
	code, stdout, errs = runCLI("inspect", filepath.Join(out, "merged"), "--json")
	var ij struct {
		Classes int
		Labels  []string
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &ij) != nil || ij.Classes != 2 || !slices.Equal(ij.Labels, s.Classes) {
		t.Fatalf("inspect --json of the classifier: %d %s %s", code, stdout, errs)
	}
	if code, stdout, _ := runCLI("inspect", filepath.Join(base, "best")); code != 0 || strings.Contains(stdout, "classifier") {
		t.Fatalf("inspect of the language model: %d %s", code, stdout)
	}
	// searched GLoRA on the classification task, as glora run starts it
	// (finetune-lm --method searched; no --test, which classify refuses)
	sr := filepath.Join(t.TempDir(), "sr")
	code, stdout, errs = runCLI("run", "--task", "classify", "--base", filepath.Join(base, "best"),
		"--data", "text:"+dir+",labels=folders", "--out", sr, "--ranks", "1,2", "--steps", "30", "--batch", "8",
		"--lr", "1e-2", "--population", "4", "--generations", "1", "--json")
	var ss struct {
		TestAcc float64 `json:"test_accuracy"`
		Search  struct{ Params, Budget, Candidates int }
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &ss) != nil || ss.Search.Candidates < 4 || ss.Search.Params > ss.Search.Budget ||
		!exists(filepath.Join(sr, "structure.json")) || !exists(filepath.Join(sr, "merged", "model.safetensors")) {
		t.Fatalf("run --task classify (finetune-lm --task classify --method searched): %d %s %s", code, stdout, errs)
	}
	if code, _, errs := runCLI("finetune-lm", "--task", "classify", "--model", filepath.Join(base, "best"), "--data", corpus,
		"--out", filepath.Join(t.TempDir(), "x")); code == 0 || !strings.Contains(errs, "no labels") {
		t.Fatalf("classify on an unlabelled corpus: %d %s", code, errs)
	}
}
