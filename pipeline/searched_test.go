package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/data"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/pipeline"
)

// The chain under the quick recipe, then Publish: the kept finalist's
// adapter, merged model and structure at the top of the folder, the same
// bytes as in its finalist folder, with the stages' plots.
func TestSearchGLoRAPublish(t *testing.T) {
	trainAll, test, err := data.ResolveWith("synth:count:train=100,test=20", data.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	task, err := pipeline.NewTask(backbones.Default, "shipped", trainAll, test, "synth:count", "holdout:0.2", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ch, err := pipeline.SearchGLoRA(context.Background(), task.Task, pipeline.MustNamed(pipeline.Quick), pipeline.Options{Dir: dir, Fresh: task.Fresh})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ch.Publish(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.safetensors", "config.json"} {
		a, err1 := os.ReadFile(filepath.Join(ch.Dir, finetune.MergedDir, f))
		b, err2 := os.ReadFile(filepath.Join(pub.Merged, f))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Fatalf("merged/%s: not the kept finalist's (%v, %v)", f, err1, err2)
		}
	}
	b, err := os.ReadFile(pub.Structure)
	if err != nil {
		t.Fatal(err)
	}
	var st glora.Structure
	if err := st.UnmarshalJSON(b); err != nil || st.Key() != ch.Structure.Key() {
		t.Fatalf("structure.json: %v, %v", st, err)
	}
	for _, f := range []string{"supernet-curves.png", "search.png", "retrain-curves.png", filepath.Join(finetune.AdapterDir, "adapter_config.json")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, finetune.RankCheckPlot)); err == nil {
		t.Error("a rank-check plot without a rank check")
	}
}
