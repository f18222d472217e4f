package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

func tinyTask(t *testing.T) Task {
	return Task{Train: quadrants(t, 64, 1), Val: quadrants(t, 32, 2), Pre: train.PreprocessFor(base(t).Cfg),
		BaseRef: "test base", Data: "quadrants", Scheme: "test"}
}

// The stages chain: a supernet, a search over it (killed and resumed: the
// same best as an uninterrupted search), and the searched structure
// fine-tuned from the supernet's weights, with its outputs on disk.
func TestPipelineStages(t *testing.T) {
	task := tinyTask(t)
	dir := t.TempDir()
	h := Hyper{Epochs: 2, Batch: 16, LR: 3e-3, MinLR: 1e-4, WarmupEpochs: 0.5, ClipNorm: 1}
	sn, err := TrainSupernet(context.Background(), base(t), task, Setup{Ranks: []int{2, 4}}, h, StageOptions{OutDir: dir, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(sn.History) != 2 || !glora.IsAdapterFolder(SupernetDir(dir)) {
		t.Fatalf("supernet: %d epochs, folder %v", len(sn.History), glora.IsAdapterFolder(SupernetDir(dir)))
	}
	load := func() *Model {
		m, err := LoadSupernet(base(t), SupernetDir(dir), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := load()
	budget := LoRABudget(m.Net.Targets(), 2)
	cfg := search.Config{Population: 6, TopK: 3, Generations: 3, Mutations: 3, Crossovers: 3, MutationProb: 0.3, Budget: budget, Seed: 5}
	full, err := Search(context.Background(), m, task.Val, task.Pre, cfg, t.TempDir(), EvalOptions{Batch: 16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if full.Best.Params > budget {
		t.Fatalf("best over budget: %d > %d", full.Best.Params, budget)
	}
	// Killed after 5 candidates, the log cut mid-line, then resumed.
	sdir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	ev := load()
	cfgKill := cfg
	_, err = searchWithHook(ctx, ev, task, cfgKill, sdir, func() {
		if n++; n == 5 {
			cancel()
		}
	})
	if !errors.Is(err, search.ErrInterrupted) {
		t.Fatalf("interrupted search: %v", err)
	}
	f, _ := os.OpenFile(filepath.Join(sdir, SearchLogFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"hash":"0123`)
	f.Close()
	again, err := Search(context.Background(), load(), task.Val, task.Pre, cfg, sdir, EvalOptions{Batch: 16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Best.Hash != full.Best.Hash || again.Best.Accuracy != full.Best.Accuracy || len(again.Candidates) != len(full.Candidates) {
		t.Fatalf("resumed search: best %s %.4f (%d candidates), uninterrupted %s %.4f (%d)", again.Best.Hash, again.Best.Accuracy,
			len(again.Candidates), full.Best.Hash, full.Best.Accuracy, len(full.Candidates))
	}
	for _, f := range []string{StructureFile, SearchPlotFile, filepath.Join(SearchedAdapter, glora.AdapterConfigFile)} {
		if _, err := os.Stat(filepath.Join(sdir, f)); err != nil {
			t.Fatal(err)
		}
	}
	sup, err := glora.LoadSupernet(SupernetDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	fdir := t.TempDir()
	ft, err := Finetune(context.Background(), base(t), task, Setup{Method: GLoRA, Structure: full.Best.Structure, Init: sup}, h, StageOptions{OutDir: fdir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ft.Support != full.Best.Params || ft.Val.N != task.Val.Len() {
		t.Fatalf("finetune: %d support params (want %d), val n %d", ft.Support, full.Best.Params, ft.Val.N)
	}
	for _, f := range []string{filepath.Join(AdapterDir, glora.AdapterConfigFile), filepath.Join(MergedDir, "config.json")} {
		if _, err := os.Stat(filepath.Join(fdir, f)); err != nil {
			t.Fatal(err)
		}
	}
	// The kept epoch's accuracy is the best validation accuracy of the run.
	best := 0.0
	for _, r := range ft.History {
		best = max(best, r.ValAcc)
	}
	if ft.Val.Accuracy != best {
		t.Fatalf("kept val accuracy %.4f, best epoch's %.4f", ft.Val.Accuracy, best)
	}
	if err := CheckBudget(0); err == nil {
		t.Fatal("budget 0 accepted")
	}
}

// searchWithHook is Search with a callback after each recorded candidate.
func searchWithHook(ctx context.Context, m *Model, task Task, cfg search.Config, dir string, hook func()) (*SearchOutcome, error) {
	ev := m.Evaluator(task.Val, task.Pre, 16, tensor.F32)
	wrapped := func(ctx context.Context, st glora.Structure) (search.Score, error) {
		s, err := ev(ctx, st)
		hook()
		return s, err
	}
	return searchWith(ctx, m, task.Val, cfg, dir, nil, wrapped)
}

// A search log whose line was edited (a score or a structure changed) is
// refused, naming the line, instead of feeding a resumed search scores it
// never measured; a last line cut short by a kill is dropped.
func TestReadSearchLogRefusesEditedLines(t *testing.T) {
	st := glora.Structure{"blocks.0.attn.qkv": glora.LayerChoice{glora.B: glora.LoRAChoice(4)}}
	good := search.Candidate{Hash: st.Hash(), Params: 1536, Generation: 0, Score: search.Score{Accuracy: 0.5, Loss: 1.2}, Structure: st}
	line := func(c search.Candidate) string {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	path := filepath.Join(t.TempDir(), SearchLogFile)
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(line(good) + `{"hash":"01`)
	if cs, err := ReadSearchLog(path); err != nil || len(cs) != 1 || cs[0].Hash != good.Hash {
		t.Fatalf("good log with a cut last line: %v, %v", cs, err)
	}
	other := st.Clone()
	other["blocks.0.attn.qkv"] = glora.LayerChoice{glora.B: glora.LoRAChoice(8)}
	for name, edit := range map[string]func(*search.Candidate){
		"structure changed": func(c *search.Candidate) { c.Structure = other },
		"accuracy 5":        func(c *search.Candidate) { c.Accuracy = 5 },
		"loss -1":           func(c *search.Candidate) { c.Loss = -1 },
		"generation -1":     func(c *search.Candidate) { c.Generation = -1 },
	} {
		c := good
		edit(&c)
		write(line(good) + line(c))
		if _, err := ReadSearchLog(path); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
