package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/method/glora"
)

// finetuneLMSettings are finetune-lm's flags (declarative: see decl.go),
// saved as OUT/finetune-lm.settings.json.
type finetuneLMSettings struct {
	Data      string `flag:"data" json:"data" help:"{text-data}"`
	Model     string `flag:"model" json:"model" help:"{lm-model}"`
	Tokenizer string `flag:"tokenizer" json:"tokenizer" help:"tokenizer.json or tokenizer.bin; default: the model's (beside it)"`
	Method    string `flag:"method" json:"method" help:"full, lora, glora-fixed (A = B = lora_r: GLoRA's C, D, E need a bias, which Llama's projections lack), ia3 (A = vector) or glora (a --structure, e.g. a search's structure.json)"`
	Rank      int    `flag:"rank" json:"rank" help:"lora rank of lora and glora-fixed"`
	Targets   string `flag:"targets" json:"targets" help:"projections to adapt, PEFT's target_modules rules, comma-separated (q_proj,v_proj, …); default all-linear: the seven projections of every layer"`
	Exclude   string `flag:"exclude" json:"exclude" help:"projections to leave alone (same rules)"`
	Structure string `flag:"structure" json:"structure" help:"method glora: the structure file"`
	lmTrainFlags
}

func defaultFinetuneLM() finetuneLMSettings {
	return finetuneLMSettings{Model: "shipped-lm", Method: "lora", Rank: 8,
		lmTrainFlags: lmTrainFlags{SeqLen: 128, Steps: 300, Batch: 16, Warmup: 30 /* at most a tenth of --steps */, WD: 0, Clip: 1,
			EvalToks: 50_000, Precision: "f32"}}
}

// runFinetuneLM adapts a decoder to a text corpus with one method.
func runFinetuneLM(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune-lm", "finetune-lm --data SPEC --out DIR [--model shipped-lm|DIR|FILE] [--method full|lora|glora-fixed|ia3|glora] [--rank R] [--targets …] [--steps N --batch B --lr LR …] [--resume] [--json]", stderr)
	s := defaultFinetuneLM()
	keys := bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if !slices.Contains(lmtrain.Methods, s.Method) {
		return fmt.Errorf("--method %q: want one of %s", s.Method, strings.Join(lmtrain.Methods, ", "))
	}
	explicit := explicitFlags(fs)
	if !explicit["warmup"] {
		s.Warmup = min(s.Warmup, s.Steps/10)
	}
	if s.LR == 0 { // the method's default, recorded as given
		s.LR = 2e-3
		if s.Method == "full" {
			s.LR = 3e-4
		}
	}
	if s.MinLR == 0 {
		s.MinLR = s.LR / 10
	}
	r := &lmRun{cmd: "finetune-lm", stdout: stdout, stderr: stderr}
	if err := settleLM(r, &s, &s.lmTrainFlags, fs, keys); err != nil {
		return err
	}
	if s.Data == "" {
		return fmt.Errorf("--data is required (the corpus to adapt to)")
	}
	if err := checkInt("rank", s.Rank, 1, glora.MaxRank); err != nil {
		return err
	}
	fo := lmtrain.FinetuneOptions{Method: s.Method, Rank: s.Rank, Targets: splitList(s.Targets), Exclude: splitList(s.Exclude), Base: s.Model}
	if s.Method == "glora" {
		if s.Structure == "" {
			return fmt.Errorf("--method glora needs --structure FILE")
		}
		raw, err := os.ReadFile(s.Structure)
		if err != nil {
			return fmt.Errorf("--structure: %w", err)
		}
		if err := json.Unmarshal(raw, &fo.Structure); err != nil {
			return fmt.Errorf("--structure %s: %w", s.Structure, err)
		}
	} else if s.Structure != "" {
		return fmt.Errorf("--structure is for --method glora")
	}
	m, ck, err := loadLM(s.Model)
	if err != nil {
		return err
	}
	if !explicit["seq-len"] && !s.Resume {
		s.SeqLen = min(s.SeqLen, m.Cfg.MaxSeq)
	}
	if s.SeqLen > m.Cfg.MaxSeq {
		return fmt.Errorf("--seq-len %d exceeds the model's max_position_embeddings %d", s.SeqLen, m.Cfg.MaxSeq)
	}
	tok, tokFrom, err := loadTokenizer(s.Tokenizer, s.Model, m.Cfg.VocabSize)
	if err != nil {
		return err
	}
	if _, err := r.loadCorpus(s.Data, s.SplitSeed); err != nil {
		return err
	}
	if err := r.tokenize(tok); err != nil {
		return err
	}
	fmt.Fprintf(r.human(s.JSON), "%s; base %s (%.2fM parameters); method %s\n",
		r.describe(s.Data), s.Model, float64(m.Cfg.Params())/1e6, s.Method)
	if err := r.start(s, s.lmTrainFlags, tok); err != nil {
		return err
	}
	o, stop := r.options(s.lmTrainFlags, s.Data, tok)
	defer stop()
	fo.Options = o
	sum, tuned, err := lmtrain.Finetune(m, ck, r.trainTok, r.valTok, fo)
	if err != nil {
		return r.failed(err, s.Out)
	}
	out := lmSummary{Summary: sum, Method: s.Method, Params: m.Cfg.Params(), Trainable: tuned.Trainable(), Tokenizer: tokFrom}
	return r.finish(out, s.lmTrainFlags, fmt.Sprintf("%d trainable parameters; merged model in %s/merged (glora generate --model %s/merged)",
		out.Trainable, sum.BestDir, sum.BestDir))
}
