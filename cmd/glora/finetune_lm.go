package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/textdata"
	"github.com/glora/glora/tokenizer"
)

// finetuneLMSettings are finetune-lm's flags (declarative: see decl.go),
// saved as OUT/finetune-lm.settings.json.
type finetuneLMSettings struct {
	Data      string `flag:"data" json:"data" help:"{text-data}"`
	Model     string `flag:"model" json:"model" help:"{lm-model}"`
	Tokenizer string `flag:"tokenizer" json:"tokenizer" help:"tokenizer.json or tokenizer.bin; default: the model's (beside it)"`
	Method    string `flag:"method" json:"method" help:"full, lora, glora-fixed (A = B = lora_r; with --add-bias also C = lora_r, D = E = constant), ia3 (A = vector), ssf (A = D = E = vector), bitfit (E = vector), glora (a --structure, e.g. a search's structure.json), searched (GLoRA's chain: a supernet of --ranks, an evolutionary search at LoRA's budget scored by validation perplexity — with --task classify, by validation accuracy — the structure found retrained from the supernet's weights) or, with --task classify, linear (the head alone)"`
	AddBias   bool   `flag:"add-bias" json:"add_bias" help:"let GLoRA's C, D and E act on Llama's bias-less projections: each adapted projection gains a bias (zero at the start), and the merged model has attention_bias / mlp_bias (Hugging Face transformers ≥ 4.41 loads it; llama2.c's format cannot hold it); ssf and bitfit always do"`
	Rank      int    `flag:"rank" json:"rank" help:"lora rank of lora and glora-fixed"`
	Targets   string `flag:"targets" json:"targets" help:"projections to adapt, PEFT's target_modules rules, comma-separated (q_proj,v_proj, …); default all-linear: the seven projections of every layer"`
	Exclude   string `flag:"exclude" json:"exclude" help:"projections to leave alone (same rules)"`
	Structure string `flag:"structure" json:"structure" help:"method glora: the structure file"`
	Ranks     string `flag:"ranks" json:"ranks" help:"method searched: the supernet's lora ranks"`
	SnSteps   int    `flag:"supernet-steps" json:"supernet_steps" help:"method searched: the supernet's steps (0: twice --steps)"`
	Pop       int    `flag:"population" json:"population" help:"method searched: structures per generation (the default recipe's 16; top 4 kept, 6 mutations and 6 crossovers a generation)"`
	Gens      int    `flag:"generations" json:"generations" help:"method searched: generations"`
	Finalists int    `flag:"finalists" json:"finalists" help:"method searched, --task lm: the search's best structures (and, with --named-finalists, the named ones) each trained a quarter of --steps (as --retrain says: from the supernet's weights or the adapter's initialisation); the lowest validation loss is retrained (1 and no named finalists: the search's first)"`
	Retrain   string `flag:"retrain" json:"retrain" help:"method searched: train the finalists and retrain the structure chosen from the supernet's weights (inherit) or from the adapter's initialisation (fresh); auto: fresh with --task lm, inherit with --task classify (each chosen on validation, docs/DESIGN.md §8)"`
	NamedFin  bool   `flag:"named-finalists" json:"named_finalists" help:"method searched, --task lm: the named structures that seeded the search (lora, glora-fixed, … at the budget) join the finalists, judged by the same short runs"`
	RankCheck int    `flag:"rank-check" json:"rank_check" help:"method searched: after the search, train this many structures alone (the search's best half, the rest random at the budget; --rank-steps each, from the adapter's initialisation) and report Kendall's tau between their validation loss with the supernet's weights and trained alone: how well the supernet ranks structures (a diagnostic: its time is not the method's)"`
	RankSteps int    `flag:"rank-steps" json:"rank_steps" help:"method searched: steps of each --rank-check run (0: a quarter of --steps)"`
	Test      bool   `flag:"test" json:"test" help:"--task lm: after the run, read the test split once and report the best model's perplexity on it (glora run does; --task classify always reads it); a resumed run keeps it"`
	Stage     string `flag:"stage" json:"-" help:"method searched, --task lm: all (the chain), supernet (train the supernet in --out and stop: what glora supernet runs on a language model) or search (search the supernet trained in --out, with that run's settings, and write its structure.json: what glora search runs)"`
	MinParams int    `flag:"min-params" json:"min_params" help:"method searched: fewest support parameters a structure may read (0: no bound; the budget is LoRA's at the largest rank)"`
	SearchTok int    `flag:"search-tokens" json:"search_tokens" help:"method searched: validation tokens each candidate is scored on (by perplexity with the supernet's weights)"`
	Task      string `flag:"task" json:"task" help:"lm: adapt next-token prediction to the corpus (perplexity); classify: learn the labels of a labelled corpus (spam, text:…,labels=folders, man,labels=sections) with a fresh head on each document's last token (the first --seq-len tokens; a --model classifier of the same classes lends its head), scored by validation accuracy, then test accuracy read once; classify writes OUT/merged, a Hugging Face LlamaForSequenceClassification folder, summary.json (the test split by class too) and curves.png"`
	lmTrainFlags
}

func defaultFinetuneLM() finetuneLMSettings {
	return finetuneLMSettings{Model: "shipped-lm", Method: "lora", Rank: 8, Task: "lm", Ranks: "4,8", Retrain: "auto", NamedFin: true, Stage: "all", Pop: 16, Gens: 4, SearchTok: 20_000, Finalists: 3,
		lmTrainFlags: lmTrainFlags{SeqLen: 128, Steps: 300, Batch: 16, Warmup: 30 /* at most a tenth of --steps */, WD: 0, Clip: 1,
			EvalToks: 50_000, Precision: "f32"}}
}

// runFinetuneLM adapts a decoder to a text corpus with one method.
func runFinetuneLM(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune-lm", "finetune-lm --data SPEC --out DIR [--model shipped-lm|DIR|FILE] [--method full|lora|glora-fixed|ia3|ssf|bitfit|glora|searched] [--rank R] [--add-bias] [--targets …] [--steps N --batch B --lr LR …] [--resume] [--json]", stderr)
	s := defaultFinetuneLM()
	keys := bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	explicit := explicitFlags(fs)
	if err := s.check(explicit); err != nil {
		return err
	}
	r := &lmRun{cmd: "finetune-lm", stdout: stdout, stderr: stderr}
	stage := s.Stage
	if err := settleLM(r, &s, &s.lmTrainFlags, fs, keys); err != nil {
		return err
	}
	s.Stage = stage // not a saved setting
	if s.Data == "" {
		return fmt.Errorf("--data is required (the corpus to adapt to)")
	}
	if err := checkInt("rank", s.Rank, 1, glora.MaxRank); err != nil {
		return err
	}
	fo := lmtrain.FinetuneOptions{Method: s.Method, Rank: s.Rank, Targets: splitList(s.Targets), Exclude: splitList(s.Exclude), Base: s.Model, AddBias: s.AddBias}
	var so lmtrain.SearchOptions // method searched's; its FinetuneOptions are set once fo is complete
	if s.Method == "searched" {  // its flags, before anything is read or written
		var err error
		if so, err = searchOptions(s); err != nil {
			return err
		}
	}
	if err := readStructureFlag(s, &fo); err != nil {
		return err
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
	if s.Method != "full" && s.Method != "linear" { // before any file is written
		targets := fo.Targets
		if len(targets) == 0 {
			targets = []string{glora.AllLinear}
		}
		if _, err := glora.SelectTargets(m.Linears(), targets, fo.Exclude); err != nil {
			return fmt.Errorf("--targets: %w", err)
		}
	}
	tok, tokFrom, err := loadTokenizer(s.Tokenizer, s.Model, m.Cfg.VocabSize)
	if err != nil {
		return err
	}
	r.tok, r.tokFrom = tok, tokFrom
	if _, err := r.loadCorpus(s.Data, s.SplitSeed); err != nil {
		return err
	}
	if s.Task == "classify" {
		return classifyLM(r, s, fo, so, m, ck, tok)
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
	if s.Method == "searched" {
		so.FinetuneOptions = fo
		return searchedLM(r, s, so, m, ck)
	}
	sum, tuned, err := lmtrain.Finetune(m, ck, r.trainTok, r.valTok, fo)
	if err != nil {
		return r.failed(err, s.Out)
	}
	out := lmSummary{Summary: sum, Method: s.Method, Params: m.Cfg.Params(), Trainable: tuned.Trainable(), Tokenizer: tokFrom}
	if out.Test, err = r.maybeTest(s); err != nil {
		return err
	}
	return r.finish(out, s.lmTrainFlags, fmt.Sprintf("%d trainable parameters; merged model in %s/merged (glora generate --model %s/merged)",
		out.Trainable, sum.BestDir, sum.BestDir))
}

// check checks the flags given (explicit) against one another and fills
// the defaults that depend on them (warm-up, learning rates); --stage
// search first takes the supernet run's settings.
func (s *finetuneLMSettings) check(explicit map[string]bool) error {
	if s.Task != "lm" && s.Task != "classify" {
		return fmt.Errorf("--task %q: want lm or classify", s.Task)
	}
	if !slices.Contains(lmtrain.Methods, s.Method) && s.Method != "searched" {
		return fmt.Errorf("--method %q: want one of %s or searched", s.Method, strings.Join(lmtrain.Methods, ", "))
	}
	switch s.Stage {
	case "all", "supernet":
	case "search":
		if err := searchStageSettings(s, explicit); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--stage %q: want all, supernet or search", s.Stage)
	}
	if s.Test && (s.Task != "lm" || s.Stage != "all") {
		return fmt.Errorf("--test is for --task lm runs of the whole method (--task classify always reads the test split once)")
	}
	if s.Stage != "all" && (s.Method != "searched" || s.Task != "lm") {
		if s.Task == "classify" {
			return fmt.Errorf("--stage %s is for --task lm: a classification chain (--method searched --task classify; glora run --task classify) runs in one piece, its supernet kept in memory", s.Stage)
		}
		return fmt.Errorf("--stage %s is for --method searched --task lm", s.Stage)
	}
	for _, f := range []string{"ranks", "supernet-steps", "population", "generations", "finalists", "search-tokens", "min-params", "retrain", "named-finalists", "rank-check", "rank-steps"} {
		if explicit[f] && s.Method != "searched" {
			return fmt.Errorf("--%s is for --method searched, not %s", f, s.Method)
		}
	}
	for _, f := range []string{"finalists", "named-finalists", "search-tokens", "rank-check", "rank-steps"} {
		if explicit[f] && s.Task != "lm" {
			return fmt.Errorf("--%s is for --task lm (a classifier's search scores every validation document and keeps the search's first)", f)
		}
	}
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
	return nil
}

// readStructureFlag reads --structure into fo for --method glora (which
// needs it) and refuses it for the other methods.
func readStructureFlag(s finetuneLMSettings, fo *lmtrain.FinetuneOptions) error {
	if s.Method != "glora" {
		if s.Structure != "" {
			return fmt.Errorf("--structure is for --method glora")
		}
		return nil
	}
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
	return nil
}

// classifySummary is OUT/summary.json of finetune-lm --task classify.
type classifySummary struct {
	lmtrain.ClassifySummary
	Method    string   `json:"method"`
	Classes   []string `json:"classes"`
	Trainable int      `json:"trainable_params"`
	NTrain    int      `json:"n_train"`
	NVal      int      `json:"n_val"`
	NTest     int      `json:"n_test"`
	TestAcc   float64  `json:"test_accuracy"`
	// TestPerClass and TestConfusion are the test reading by class
	// (TestConfusion[t][p]: documents of class t predicted as p).
	TestPerClass  []classAccuracy `json:"test_per_class"`
	TestConfusion [][]int         `json:"test_confusion"`
	Seconds       float64         `json:"seconds"`
	// Search is method searched's record (the supernet's and the
	// retraining's histories, the structure found).
	Search *lmtrain.ClassifySearchResult `json:"search,omitempty"`
}

// classifyLM is finetune-lm --task classify: the labelled corpus's
// documents (their first --seq-len tokens) classified from the last
// token's hidden state; validation chooses the step, the test split is
// read once at the end.
func classifyLM(r *lmRun, s finetuneLMSettings, fo lmtrain.FinetuneOptions, so lmtrain.SearchOptions, m *llama.Model, ck llama.Checkpoint, tok *tokenizer.Tokenizer) error {
	if s.Resume {
		return fmt.Errorf("--task classify runs are minutes long and do not resume: start again with --overwrite")
	}
	if !r.trainC.Labelled() {
		return fmt.Errorf("--task classify: %s has no labels (spam has; text:…,labels=folders; fortune:…,labels=files; man,labels=sections)", s.Data)
	}
	corpus, testC := r.corpus, r.testC
	var sets [3]lmtrain.Labelled
	for i, c := range []*textdata.Corpus{r.trainC, r.valC, testC} {
		var err error
		if sets[i], err = lmtrain.EncodeLabelled(tok, c.Texts(), c.Labels(), s.SeqLen); err != nil {
			return err
		}
	}
	h := r.human(s.JSON)
	fmt.Fprintf(h, "%s: %d training, %d validation documents, classes %s (first %d tokens each); base %s; method %s\n",
		s.Data, r.trainC.Len(), r.valC.Len(), strings.Join(corpus.Classes, ", "), s.SeqLen, s.Model, s.Method)
	if ck.Score != nil { // --model is a classifier: its head, if its classes are the data's
		head, note, err := startHead(m, ck, s.Model, corpus.Classes)
		if err != nil {
			return err
		}
		fo.Head, so.Head = head, head
		fmt.Fprintln(h, note)
	}
	if err := startOut(s.Out, r.cmd, s.Overwrite, false, s, r.prec); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	o, stop := r.options(s.lmTrainFlags, s.Data, tok)
	defer stop()
	fo.Options = o
	var search *lmtrain.SearchOptions
	if s.Method == "searched" {
		so.FinetuneOptions = fo
		search = &so
	}
	merged := filepath.Join(s.Out, "merged")
	run, err := lmtrain.RunClassify(m, ck, corpus.Classes, sets[0], sets[1], sets[2], fo, search, merged)
	if err != nil {
		return r.failed(err, s.Out)
	}
	if run.Search != nil {
		if err := writeJSONAtomic(filepath.Join(s.Out, "structure.json"), run.Search.Structure); err != nil {
			return err
		}
	}
	if err := writeTokenizer(tok, merged); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	sum, acc := run.Summary, run.Test.Accuracy
	out := classifySummary{ClassifySummary: sum, Method: s.Method, Classes: corpus.Classes, Trainable: run.Trainable,
		NTrain: r.trainC.Len(), NVal: r.valC.Len(), NTest: testC.Len(), TestAcc: acc, Seconds: time.Since(r.t0).Seconds(), Search: run.Search,
		TestPerClass: perClassRows(run.Test, corpus.Classes), TestConfusion: run.Test.Confusion}
	if err := writeJSONAtomic(filepath.Join(s.Out, "summary.json"), out); err != nil {
		return err
	}
	if err := lmtrain.WriteClassifyCurves(filepath.Join(s.Out, "curves.png"), sum.History); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(h, "done in %s: best validation accuracy %.4f at step %d; test accuracy %.4f (%d documents, read once); %d trainable parameters (head included); the classifier in %s (LlamaForSequenceClassification; glora eval-lm --model %s --data %s scores it); curves in %s\n",
		time.Since(r.t0).Round(time.Second), sum.BestValAcc, sum.BestStep, acc, testC.Len(), out.Trainable, merged, merged, s.Data, filepath.Join(s.Out, "curves.png"))
	fmt.Fprintln(h, "test split by class:")
	printPerClass(h, out.TestPerClass, "documents")
	if s.JSON {
		fmt.Fprintln(r.stdout, jsonLine(out))
	}
	return nil
}

// startHead is the head a classification run starts from when --model
// (path) is a classifier folder: its score.weight, rows put in the order
// of the data's classes, when it has the same classes by name; nil (a
// fresh head) when not. note says which, for the log.
func startHead(m *llama.Model, ck llama.Checkpoint, path string, classes []string) (*tensor.Tensor, string, error) {
	c, labels, err := llama.AsClassifier(m, ck, path)
	if err != nil {
		return nil, "", fmt.Errorf("--model: %w", err)
	}
	row := make(map[string]int, len(labels))
	for i, l := range labels {
		row[l] = i
	}
	other := fmt.Sprintf("--model %s is a classifier of %s, not of the data's classes: its head is left out and a fresh one trained",
		path, strings.Join(labels, ", "))
	if len(labels) != len(classes) {
		return nil, other, nil
	}
	w := c.Score.W.Value
	d := w.Shape[1]
	head := tensor.New(len(classes), d)
	for i, name := range classes {
		j, ok := row[name]
		if !ok {
			return nil, other, nil
		}
		copy(head.Data[i*d:(i+1)*d], w.Data[j*d:(j+1)*d])
	}
	return head, fmt.Sprintf("--model %s is a classifier of these classes: training starts from its head", path), nil
}

// searchedLM is finetune-lm --method searched: GLoRA's chain on the decoder
// (lmtrain.SearchGLoRA), written like the other methods plus the search's
// record (structure.json; summary.json's search fields).
func searchedLM(r *lmRun, s finetuneLMSettings, so lmtrain.SearchOptions, m *llama.Model, ck llama.Checkpoint) error {
	switch s.Stage {
	case "supernet":
		return supernetStageLM(r, s, so, m, ck)
	case "search":
		return searchStageLM(r, s, so, m, ck)
	}
	res, tuned, err := lmtrain.SearchGLoRA(m, ck, r.trainTok, r.valTok, so)
	if err != nil {
		return r.failed(err, s.Out)
	}
	if err := writeJSONAtomic(filepath.Join(s.Out, "structure.json"), res.Structure); err != nil {
		return err
	}
	out := lmSummary{Summary: res.Retrain, Method: s.Method, Params: m.Cfg.Params(), Trainable: tuned.Trainable(),
		Tokenizer: r.tokFrom, Search: &res}
	if out.Test, err = r.maybeTest(s); err != nil {
		return err
	}
	if rc := res.RankCheck; rc != nil && rc.Tau != nil {
		fmt.Fprintf(r.human(s.JSON), "rank check: Kendall's tau %.2f between the supernet's ranking of %d structures and theirs trained alone for %d steps (%.0f s)\n",
			*rc.Tau, len(rc.Items), rc.Steps, rc.Seconds)
	}
	return r.finish(out, s.lmTrainFlags, fmt.Sprintf("%d candidates searched (stages %.0f s, %.0f s, %.0f s); structure of %d support parameters (budget %d) in %s/structure.json; merged model in %s/merged",
		res.Candidates, res.StageSeconds[0], res.StageSeconds[1], res.StageSeconds[2], res.Params, res.Budget, s.Out, res.Retrain.BestDir))
}

// searchOptions are method searched's settings: the supernet's ranks and
// steps, the search's size (top k, mutations and crossovers from the
// default recipe), its lower bound, tokens and finalists; the caller sets
// its FinetuneOptions (the retraining's) once they are complete.
func searchOptions(s finetuneLMSettings) (lmtrain.SearchOptions, error) {
	ranks, err := parseInts("ranks", s.Ranks)
	if err != nil {
		return lmtrain.SearchOptions{}, err
	}
	if err := firstErr(checkInt("supernet-steps", s.SnSteps, 0, maxSteps), checkInt("population", s.Pop, 4, 10_000),
		checkInt("generations", s.Gens, 1, 10_000), checkInt("search-tokens", s.SearchTok, 1, 1<<30),
		checkInt("finalists", s.Finalists, 1, 100), checkInt("min-params", s.MinParams, 0, 1<<40),
		checkInt("rank-check", s.RankCheck, 0, 1000), checkInt("rank-steps", s.RankSteps, 0, maxSteps)); err != nil {
		return lmtrain.SearchOptions{}, err
	}
	if s.RankCheck == 1 {
		return lmtrain.SearchOptions{}, fmt.Errorf("--rank-check 1: a ranking needs at least 2 structures (0: none)")
	}
	if s.Retrain != "auto" && s.Retrain != "inherit" && s.Retrain != "fresh" {
		return lmtrain.SearchOptions{}, fmt.Errorf("--retrain %q: want auto, inherit or fresh", s.Retrain)
	}
	fresh := s.Retrain == "fresh" || (s.Retrain == "auto" && s.Task == "lm")
	rec, err := pipeline.Named(pipeline.Default)
	if err != nil {
		return lmtrain.SearchOptions{}, err
	}
	rs := rec.Search
	cfg := search.Config{Population: s.Pop, TopK: rs.TopK, Generations: s.Gens, Mutations: rs.Mutations, Crossovers: rs.Crossovers, MutationProb: rs.MutationProb,
		MinParams: s.MinParams}
	return lmtrain.SearchOptions{Ranks: ranks, SupernetSteps: s.SnSteps, Search: cfg,
		SearchTokens: s.SearchTok, Finalists: s.Finalists, Fresh: fresh, NamedFinalists: s.NamedFin,
		RankCheck: s.RankCheck, RankSteps: s.RankSteps}, nil
}

// searchStageSettings makes s the settings of the supernet run in s.Out
// (finetune-lm --stage supernet's, which glora search --run reads), the
// flags that only shape this invocation aside; any other flag is refused,
// since the search must see the supernet as it was trained.
func searchStageSettings(s *finetuneLMSettings, explicit map[string]bool) error {
	if s.Out == "" {
		return fmt.Errorf("--stage search needs --out, the supernet run's folder")
	}
	for f := range explicit {
		switch f {
		case "stage", "out", "json", "precision":
		default:
			return fmt.Errorf("--%s: the search takes its settings from the supernet run in %s (%s); give them to glora supernet", f, s.Out, settingsFile(s.Out, "finetune-lm"))
		}
	}
	raw, err := os.ReadFile(settingsFile(s.Out, "finetune-lm"))
	if err != nil {
		return fmt.Errorf("--out %s holds no language-model supernet run (glora supernet --base MODEL --data TEXT --out DIR trains one): %w", s.Out, err)
	}
	saved := defaultFinetuneLM()
	if err := json.Unmarshal(raw, &saved); err != nil {
		return fmt.Errorf("%s: %w", settingsFile(s.Out, "finetune-lm"), err)
	}
	if saved.Method != "searched" || saved.Task != "lm" {
		return fmt.Errorf("--out %s holds a finetune-lm run of --method %s --task %s, not a supernet", s.Out, saved.Method, saved.Task)
	}
	if _, err := os.Stat(filepath.Join(s.Out, "supernet")); err != nil {
		return fmt.Errorf("--out %s has no supernet/ (its supernet run did not finish?): %w", s.Out, err)
	}
	saved.Stage, saved.Out, saved.Resume = "search", s.Out, true
	saved.JSON, saved.Precision = s.JSON, s.Precision
	*s = saved
	return nil
}

// supernetStageLM is --stage supernet (glora supernet on a language model):
// the supernet trained in OUT/supernet, which --stage search reads.
func supernetStageLM(r *lmRun, s finetuneLMSettings, so lmtrain.SearchOptions, m *llama.Model, ck llama.Checkpoint) error {
	sn, err := lmtrain.TrainSupernet(m, ck, r.trainTok, r.valTok, so)
	if err != nil {
		return r.failed(err, s.Out)
	}
	out := lmSummary{Summary: sn.Summary, Method: "supernet", Params: m.Cfg.Params(), Trainable: sn.Net.Store().Count(true),
		Tokenizer: r.tokFrom}
	return r.finish(out, s.lmTrainFlags, fmt.Sprintf("the supernet of %d projections in %s/supernet; next: glora search --run %s",
		len(sn.Net.Targets()), s.Out, s.Out))
}

// searchStageLM is --stage search (glora search --run on a language-model
// supernet): the supernet of OUT/supernet searched (finalists included)
// with the run's settings, the structure chosen written to
// OUT/structure.json and the search's record to OUT/search.json.
func searchStageLM(r *lmRun, s finetuneLMSettings, so lmtrain.SearchOptions, m *llama.Model, ck llama.Checkpoint) error {
	so.OutDir = "" // nothing of the search's short runs is kept
	sn, err := lmtrain.LoadSupernet(m, so, filepath.Join(s.Out, "supernet"))
	if err != nil {
		return err
	}
	res, err := sn.Search(m, ck, r.trainTok, r.valTok, so)
	if err != nil {
		return r.failed(err, s.Out)
	}
	if err := writeJSONAtomic(filepath.Join(s.Out, "structure.json"), res.Structure); err != nil {
		return err
	}
	if err := writeJSONAtomic(filepath.Join(s.Out, "search.json"), res); err != nil {
		return err
	}
	h := r.human(s.JSON)
	fmt.Fprintf(h, "done in %s: %d candidates searched; structure of %d support parameters (budget %d) in %s/structure.json\nnext: glora finetune --base %s --data %s --method glora --structure %s/structure.json --out DIR\n",
		time.Since(r.t0).Round(time.Second), res.Candidates, res.Params, res.Budget, s.Out, s.Model, s.Data, s.Out)
	if s.JSON {
		fmt.Fprintln(r.stdout, jsonLine(res))
	}
	return nil
}

// maybeTest is the test split's read (testEval) of the best model's merged
// folder when --test asks for it and the run finished; nil otherwise.
func (r *lmRun) maybeTest(s finetuneLMSettings) (*lmtrain.Eval, error) {
	if !s.Test || (s.StopAfter > 0 && s.StopAfter < s.Steps) {
		return nil, nil
	}
	ev, err := r.testEval(filepath.Join(s.Out, "best", "merged"), r.tok, s.SeqLen, s.Batch)
	if err != nil {
		return nil, fmt.Errorf("--test: %w", err)
	}
	return ev, nil
}
