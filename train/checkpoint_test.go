package train

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
)

// headOnly is tinyModel with everything frozen but the classification head:
// the shape of a GLoRA run (a frozen backbone, a few trainable tensors).
func headOnly(t *testing.T) *vit.Model {
	t.Helper()
	m := tinyModel(t)
	if _, err := m.Store.TrainOnly("head"); err != nil {
		t.Fatal(err)
	}
	return m
}

func headOpts(dir string) Options {
	o := opts(dir)
	o.CheckpointTrainableOnly, o.BaseRef = true, "vit-micro seed 3"
	return o
}

func fileKeys(t *testing.T, path string) []string {
	t.Helper()
	ts, _, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range ts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// A run with a frozen backbone checkpoints only the trainable head (and its
// optimiser state), records the base, and resumes bit-identically onto a
// model rebuilt from that base; the frozen backbone never changes.
func TestTrainableOnlyCheckpointResumesExactly(t *testing.T) {
	trainSet, val := quadrants(t, 80, 1), quadrants(t, 32, 2)
	ref := headOnly(t)
	if _, err := Run(context.Background(), ref, trainSet, val, headOpts(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := &stopAfter{Context: context.Background()}
	ctx.n.Store(7) // 5 steps an epoch: stop in epoch 2
	if _, err := Run(ctx, headOnly(t), trainSet, val, headOpts(dir)); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	ck := filepath.Join(dir, "checkpoint")
	if got := fileKeys(t, filepath.Join(ck, "model.safetensors")); strings.Join(got, ",") != "head.bias,head.weight" {
		t.Fatalf("checkpoint model tensors %v, want only the head", got)
	}
	for _, k := range fileKeys(t, filepath.Join(ck, "optim.safetensors")) {
		if k != "step" && !strings.HasPrefix(k, "head.") {
			t.Fatalf("optimiser state %q for a frozen tensor", k)
		}
	}
	js, err := os.ReadFile(filepath.Join(ck, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(js, &st); err != nil {
		t.Fatal(err)
	}
	if st.Options.BaseRef != "vit-micro seed 3" || !st.Options.CheckpointTrainableOnly || !strings.HasPrefix(st.BaseDigest, "sha256:") {
		t.Fatalf("state.json records base %q, trainable-only %v, digest %q", st.Options.BaseRef, st.Options.CheckpointTrainableOnly, st.BaseDigest)
	}
	m := headOnly(t)
	o := headOpts(dir)
	o.Resume = true
	if _, err := Run(context.Background(), m, trainSet, val, o); err != nil {
		t.Fatal(err)
	}
	sameParams(t, "resumed and uninterrupted head-only runs", m, ref)
	sameParams(t, "the frozen backbone before and after training", withHead(t, tinyModel(t), m), m)
}

// withHead copies src's head into m, so that sameParams compares backbones.
func withHead(t *testing.T, m, src *vit.Model) *vit.Model {
	t.Helper()
	copy(m.Head.W.Value.Data, src.Head.W.Value.Data)
	copy(m.Head.B.Value.Data, src.Head.B.Value.Data)
	return m
}

// Resuming a trainable-only checkpoint onto a model that is not its base is
// an error naming the base.
func TestTrainableOnlyResumeChecksTheBase(t *testing.T) {
	trainSet, val := quadrants(t, 48, 1), quadrants(t, 16, 2)
	dir := t.TempDir()
	o := headOpts(dir)
	o.Epochs = 1
	if _, err := Run(context.Background(), headOnly(t), trainSet, val, o); err != nil {
		t.Fatal(err)
	}
	o.Resume, o.Epochs = true, 2
	const base = `"vit-micro seed 3"`

	other := tinyModel(t) // another backbone: other weights
	other.Blocks[0].Norm1W.Value.Data[0] += 1
	other.Store.TrainOnly("head")
	if _, err := Run(context.Background(), other, trainSet, val, o); err == nil || !strings.Contains(err.Error(), base) || !strings.Contains(err.Error(), "frozen tensors") {
		t.Fatalf("other frozen weights: want an error naming the base, got %v", err)
	}

	cfg, _ := vit.Preset("vit-micro") // another head: 5 classes
	cfg.NumClasses, cfg.DropPath = 5, 0.1
	wide, err := vit.New(cfg, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	wide.Store.TrainOnly("head")
	if _, err := Run(context.Background(), wide, trainSet, val, o); err == nil || !strings.Contains(err.Error(), base) || !strings.Contains(err.Error(), `"head.`) {
		t.Fatalf("a head of another shape: want an error naming the base and a head tensor, got %v", err)
	}

	o.CheckpointTrainableOnly, o.BaseRef = false, ""
	if _, err := Run(context.Background(), headOnly(t), trainSet, val, o); err == nil || !strings.Contains(err.Error(), "checkpoint_trainable_only") {
		t.Fatalf("a whole-model resume of a trainable-only run: want an error naming checkpoint_trainable_only, got %v", err)
	}

	o.CheckpointTrainableOnly, o.BaseRef, o.Resume = true, "", false
	if _, err := Run(context.Background(), headOnly(t), trainSet, val, o); err == nil || !strings.Contains(err.Error(), "BaseRef") {
		t.Fatalf("trainable-only checkpoints without a base: want an error naming BaseRef, got %v", err)
	}
}
