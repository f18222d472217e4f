package finetune

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/data"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/method/search"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

func TestRungs(t *testing.T) {
	for _, c := range []struct {
		n, epochs int
		want      []int
	}{
		{1, 8, []int{8}},
		{2, 8, []int{4, 8}},
		{3, 8, []int{2, 4, 8}},
		{4, 8, []int{2, 4, 8}},
		{6, 8, []int{1, 2, 4, 8}},
		{4, 1, []int{1}},
		{8, 3, []int{1, 3}},
	} {
		if got := Rungs(c.n, c.epochs); !slices.Equal(got, c.want) {
			t.Errorf("Rungs(%d, %d) = %v, want %v", c.n, c.epochs, got, c.want)
		}
	}
}

// Successive halving trains the better half further, finishes one entrant
// like Finetune does, and a rerank resumed over finished folders replays
// to the same winner with the same numbers.
func TestRerank(t *testing.T) {
	task := tinyTask(t)
	h := Hyper{Epochs: 4, Batch: 16, LR: 3e-3, MinLR: 1e-4, WarmupEpochs: 0.5, ClipNorm: 1}
	fresh := func() (*vit.Model, error) { return base(t), nil }
	entrants := []Entrant{{"bitfit", Setup{Method: BitFit}}, {"lora", Setup{Method: LoRA, Rank: 2}},
		{"ssf", Setup{Method: SSF}}, {"linear", Setup{Method: Linear}}}
	dir := t.TempDir()
	res, err := Rerank(context.Background(), fresh, task, entrants, h, StageOptions{OutDir: dir, Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	epochs := map[int]int{}
	for _, r := range res.Rounds {
		epochs[r.Epochs]++
	}
	// Rungs(4, 4) = 1, 2, 4: four entrants train 1 epoch, two reach 2, one 4.
	if epochs[1] != 2 || epochs[2] != 1 || epochs[4] != 1 || !res.Rounds[res.Index].Winner || res.Rounds[res.Index].Epochs != 4 {
		t.Fatalf("rounds %+v", res.Rounds)
	}
	for i, r := range res.Rounds {
		// Every entrant that stopped early ranks below one that went on.
		if r.Epochs == 1 {
			for j, o := range res.Rounds {
				if o.Epochs > 1 && (o.Accuracy < r.Accuracy || (o.Accuracy == r.Accuracy && o.Loss > r.Loss && j > i)) {
					t.Fatalf("entrant %d (%+v) was dropped below %d (%+v)", i, r, j, o)
				}
			}
		}
	}
	if res.Winner.Val.Accuracy != res.Rounds[res.Index].Accuracy {
		t.Fatalf("winner val %v, round %v", res.Winner.Val.Accuracy, res.Rounds[res.Index].Accuracy)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, MergedDir, "config.json")); err != nil {
		t.Fatal(err)
	}
	again, err := Rerank(context.Background(), fresh, task, entrants, h, StageOptions{OutDir: dir, Seed: 3, Resume: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Index != res.Index || again.Winner.Val.Accuracy != res.Winner.Val.Accuracy || again.Winner.Val.Loss != res.Winner.Val.Loss {
		t.Fatalf("resumed: winner %d %+v, first %d %+v", again.Index, again.Winner.Val, res.Index, res.Winner.Val)
	}
	for i := range res.Rounds {
		a, b := again.Rounds[i], res.Rounds[i]
		if a.Epochs != b.Epochs || a.Accuracy != b.Accuracy || a.Loss != b.Loss {
			t.Fatalf("resumed round %d: %+v, first %+v", i, a, b)
		}
	}
}

// A supernet step leaves the support tensors its draw does not read alone;
// with UndrawnMomentum they move on from their AdamW momentum, as under
// PyTorch 1.10's zero_grad().
func TestUndrawnMomentum(t *testing.T) {
	for _, keep := range []bool{false, true} {
		v := base(t)
		m, err := Attach(v, Setup{Method: Supernet, Ranks: []int{2}, Seed: 1, UndrawnMomentum: keep})
		if err != nil {
			t.Fatal(err)
		}
		pre := train.PreprocessFor(v.Cfg)
		ds := quadrants(t, 8, 1)
		idx := []int{0, 1, 2, 3, 4, 5, 6, 7}
		xs, err := data.Batch(ds, idx, pre, nil)
		if err != nil {
			t.Fatal(err)
		}
		xt, err := tensor.FromSlice(xs, len(idx), pre.Channels, pre.Height, pre.Width)
		if err != nil {
			t.Fatal(err)
		}
		labels := ds.Labels[:len(idx)]
		tr := train.NewTrainer(m, optim.NewAdamW(optim.DecayGroups(m.Params(), 0, nil), 1e-2, 0.9, 0.999, 1e-8))
		hook := m.SampleHook()
		// Step 0 draws a structure; step 1 draws another; a tensor read at
		// step 0 and not at step 1 shows what an undrawn step does.
		var read0 map[*ag.Var]bool
		snap, init := map[*ag.Var][]float32{}, map[*ag.Var][]float32{}
		for _, p := range m.Net.Store().Params() {
			init[p] = slices.Clone(p.Value.Data)
		}
		for step := range 2 {
			if err := hook(step, nil); err != nil {
				t.Fatal(err)
			}
			if step == 0 {
				read0 = map[*ag.Var]bool{}
				for _, p := range m.Net.Active() {
					read0[p] = true
				}
			} else {
				for _, p := range m.Net.Store().Params() {
					snap[p] = slices.Clone(p.Value.Data)
				}
			}
			tr.Hook = nil
			if _, err := tr.Step(step, ag.NewVar(xt, false), labels); err != nil {
				t.Fatal(err)
			}
		}
		active1 := map[*ag.Var]bool{}
		for _, p := range m.Net.Active() {
			active1[p] = true
		}
		checked := 0
		for p, before := range snap {
			// (a factor whose partner starts at zero, e.g. Bu beside Bd,
			// has no gradient and no momentum after step 0.)
			if !read0[p] || active1[p] || slices.Equal(init[p], before) {
				continue
			}
			checked++
			if moved := !slices.Equal(before, p.Value.Data); moved != keep {
				t.Errorf("UndrawnMomentum %v: %s, read at step 0 and not at step 1, moved at step 1: %v", keep, p.Name, moved)
			}
		}
		if checked == 0 {
			t.Fatalf("no tensor read at step 0 and not at step 1: pick other draws")
		}
	}
}

// A rank check scores each structure with the shared weights and alone,
// returns τ over them and writes its JSON and plot; a resumed check gives
// the same numbers.
func TestCheckRanking(t *testing.T) {
	task := tinyTask(t)
	h := Hyper{Epochs: 1, Batch: 16, LR: 3e-3, MinLR: 1e-4, ClipNorm: 1}
	sn, err := TrainSupernet(context.Background(), base(t), task, Setup{Ranks: []int{2}}, h, StageOptions{OutDir: t.TempDir(), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var items []RankItem
	for _, name := range []string{"lora", "ssf", "bitfit"} {
		st, err := glora.Named(name, sn.Model.Net.Targets(), 2, false)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, RankItem{Name: name, Structure: st})
	}
	fresh := func() (*vit.Model, error) { return base(t), nil }
	dir := t.TempDir()
	rc, err := CheckRanking(context.Background(), sn.Model, fresh, task, items, h, StageOptions{OutDir: dir, Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Items) != 3 || rc.Tau != nil && !(*rc.Tau >= -1 && *rc.Tau <= 1) {
		t.Fatalf("rank check: %+v", rc)
	}
	var x, y []float64
	for _, it := range rc.Items {
		if it.Params == 0 || it.Hash != it.Structure.Hash() || it.Standalone == 0 && it.Loss == 0 {
			t.Fatalf("item %+v", it)
		}
		x, y = append(x, it.Shared.Accuracy), append(y, it.Standalone)
	}
	if tau := search.KendallTau(x, y); !(rc.Tau != nil && tau == *rc.Tau || math.IsNaN(tau) && rc.Tau == nil) {
		t.Fatalf("τ %s, items give %v", FormatTau(rc.Tau), tau)
	}
	for _, f := range []string{RankCheckFile, RankCheckPlot} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	again, err := CheckRanking(context.Background(), sn.Model, fresh, task, items, h, StageOptions{OutDir: dir, Seed: 3, Resume: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rc.Items {
		if again.Items[i].Standalone != rc.Items[i].Standalone || again.Items[i].Shared != rc.Items[i].Shared {
			t.Fatalf("resumed item %d: %+v, first %+v", i, again.Items[i], rc.Items[i])
		}
	}
}
