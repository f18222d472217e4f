package lmtrain

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/nn"
)

// TestGLoRAOnDecoder: GLoRA attaches to a LLaMA decoder through its
// Linear sites (PEFT's q_proj … down_proj; lm_head left alone), trains with
// the base frozen, lowers the loss, leaves the base untouched, resumes
// exactly, and merges into plain Linear weights that compute the same
// logits.
func TestGLoRAOnDecoder(t *testing.T) {
	pre, trainTok, valTok, _ := pretrained(t)
	newNet := func() (*llama.Model, *glora.Supernet) {
		m, err := pre.Clone()
		if err != nil {
			t.Fatal(err)
		}
		m.Store.SetTrainable(func(string, *ag.Var) bool { return false })
		net, err := glora.Attach(m, glora.Options{Space: glora.Space{Ranks: []int{4}}, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		// the paper's default structure on bias-less layers: A, B, C low-rank,
		// D, E off (no bias to scale or shift)
		st, err := glora.Named("lora", net.Targets(), 4, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := net.SetStructure(st); err != nil {
			t.Fatal(err)
		}
		active := map[*ag.Var]bool{}
		for _, p := range net.Active() {
			active[p] = true
		}
		for _, p := range net.Store().Params() {
			p.RequiresGrad = active[p]
		}
		return m, net
	}
	m, net := newNet()
	if n := len(net.Targets()); n != 7*m.Cfg.Layers {
		t.Fatalf("%d targets, want the 7 projections of each of %d layers", n, m.Cfg.Layers)
	}
	base := m.Store.Tensors()
	before := map[string][]float32{}
	for k, v := range base {
		before[k] = slices.Clone(v.Data)
	}
	o := opts(t.TempDir())
	o.Extra = net.Store().Params()
	o.SaveBest = func(string) error { return nil }
	s0, err := Evaluate(m, valTok, 24, 8, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := Train(m, llama.Checkpoint{}, trainTok, valTok, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("adapter: val loss %.3f → %.3f", s0.Loss, sa.BestValLoss)
	if sa.BestValLoss > s0.Loss-0.2 {
		t.Fatalf("val loss %.3f → %.3f: the adapter did not learn (%+v)", s0.Loss, sa.BestValLoss, sa.History)
	}
	for k, v := range m.Store.Tensors() {
		if !slices.Equal(v.Data, before[k]) {
			t.Fatalf("frozen base tensor %s changed", k)
		}
	}
	// resume: stop half-way, continue in a fresh process
	m2, net2 := newNet()
	o2 := o
	o2.OutDir, o2.StopAfter = t.TempDir(), 60
	o2.Extra = net2.Store().Params()
	if _, err := Train(m2, llama.Checkpoint{}, trainTok, valTok, o2); err != nil {
		t.Fatal(err)
	}
	m3, net3 := newNet()
	o2.StopAfter, o2.Resume, o2.Extra = 0, true, net3.Store().Params()
	if _, err := Train(m3, llama.Checkpoint{}, trainTok, valTok, o2); err != nil {
		t.Fatal(err)
	}
	for i, p := range net.Store().Params() {
		if !slices.Equal(p.Value.Data, net3.Store().Params()[i].Value.Data) {
			t.Fatalf("support tensor %s differs after resuming", p.Name)
		}
	}
	// merge: plain Linear weights with the same logits
	ids := []int{1, 5, 9, 5, 9, 5}
	want := logits(t, m, ids)
	if err := net.MergeAndDetach(); err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Linears() {
		if _, plain := s.Current().(*nn.Linear); !plain && !s.Head {
			t.Fatalf("%s is still wrapped after merging", s.Path)
		}
	}
	got := logits(t, m, ids)
	for i := range got {
		if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("merged logit %d: %v, adapter's %v", i, got[i], want[i])
		}
	}
}

func logits(t *testing.T, m *llama.Model, ids []int) []float32 {
	tp := ag.NewTape()
	tp.NoGrad = true
	y := m.Forward(tp, ids, 1, len(ids))
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(y.Value.Data)
}

// TestFinetuneMethods: every method lowers the validation loss of a
// briefly pretrained base, trains only its own tensors, and writes a
// merged folder that scores exactly what the adapted model scored (and,
// for the GLoRA methods, a PEFT causal-LM adapter folder). The methods
// that tune biases (ssf, bitfit, glora-fixed with AddBias) merge into a
// Llama with attention_bias and mlp_bias; the others keep the base's
// bias-less config.
func TestFinetuneMethods(t *testing.T) {
	pre, trainTok, valTok, loss0 := pretrained(t)
	counts := map[string]int{}
	for _, method := range []string{"lora", "glora-fixed", "ia3", "ssf", "bitfit", "glora-fixed+bias", "full"} {
		method, addBias := strings.CutSuffix(method, "+bias")
		name := method
		if addBias {
			name += "+bias"
		}
		m, err := pre.Clone()
		if err != nil {
			t.Fatal(err)
		}
		o := opts(t.TempDir())
		o.Steps, o.EvalEvery = 60, 60
		s, tuned, err := Finetune(m, llama.Checkpoint{}, trainTok, valTok, FinetuneOptions{Options: o, Method: method, Rank: 4, Base: "pre", AddBias: addBias})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		counts[name] = tuned.Trainable()
		t.Logf("%-16s %6d trainable: val loss %.3f → %.3f", name, tuned.Trainable(), loss0, s.BestValLoss)
		if s.BestValLoss >= loss0 {
			t.Errorf("%s did not lower the validation loss (%.3f → %.3f)", method, loss0, s.BestValLoss)
		}
		merged, _, err := llama.LoadHF(filepath.Join(s.BestDir, "merged"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		biased := addBias || method == "ssf" || method == "bitfit"
		if merged.Cfg.AttnBias != biased || merged.Cfg.MLPBias != biased {
			t.Errorf("%s: merged config has attention_bias %v, mlp_bias %v; want %v", name, merged.Cfg.AttnBias, merged.Cfg.MLPBias, biased)
		}
		ev, err := Evaluate(merged, valTok, 24, 8, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(ev.Loss-s.BestValLoss) > 1e-4 {
			t.Errorf("%s: the merged model scores %.6f, the adapted model %.6f", name, ev.Loss, s.BestValLoss)
		}
		hasAdapter := exists(filepath.Join(s.BestDir, "adapter", "adapter_config.json"))
		if hasAdapter != (method != "full") {
			t.Errorf("%s: adapter folder present: %v", name, hasAdapter)
		}
		if hasAdapter {
			cfg, _ := os.ReadFile(filepath.Join(s.BestDir, "adapter", "adapter_config.json"))
			if !strings.Contains(string(cfg), `"CAUSAL_LM"`) {
				t.Errorf("%s: adapter_config.json has no CAUSAL_LM task type", name)
			}
		}
	}
	if !(counts["bitfit"] == counts["ia3"] && counts["ia3"] < counts["ssf"] && counts["ssf"] < counts["lora"] &&
		counts["lora"] < counts["glora-fixed"] && counts["glora-fixed"] < counts["glora-fixed+bias"] && counts["glora-fixed+bias"] < counts["full"]) {
		t.Errorf("trainable parameters %v are not ordered bitfit = ia3 < ssf < lora < glora-fixed < glora-fixed+bias < full", counts)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
