package pipeline_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/pipeline"
)

// Compare trains every method before it reads the test split, then scores
// each kept model once; without test it never reads it. Each method keeps
// its own folder.
func TestCompareTestsOnlyAtTheEnd(t *testing.T) {
	task, err := pipeline.Open(pipeline.Spec{Data: "synth:count:train=100,test=20", Scheme: "holdout:0.2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	methods := []string{finetune.Linear, finetune.LoRA}
	for _, test := range []bool{true, false} {
		var log bytes.Buffer
		reads := 0
		task.OnTest = func() {
			reads++
			if !strings.Contains(log.String(), finetune.LoRA+": validation accuracy") {
				t.Errorf("the test split was read before the last method finished:\n%s", log.String())
			}
		}
		dir := t.TempDir()
		res, err := pipeline.Compare(context.Background(), task, pipeline.MustNamed(pipeline.Quick), methods, pipeline.Options{Dir: dir, Log: &log}, test)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: len(methods), false: 0}[test]; reads != want || len(res) != len(methods) {
			t.Fatalf("test %v: %d reads (want %d), %d results", test, reads, want, len(res))
		}
		for i, r := range res {
			if r.Method != methods[i] || r.Merged != filepath.Join(dir, methods[i], finetune.MergedDir) {
				t.Errorf("result %d: %s in %s", i, r.Method, r.Merged)
			}
			if n := map[bool]int{true: 20, false: 0}[test]; r.Test.N != n {
				t.Errorf("%s: tested on %d images, want %d", r.Method, r.Test.N, n)
			}
		}
	}
	if _, err := pipeline.Compare(context.Background(), task, pipeline.MustNamed(pipeline.Quick), []string{"nope"}, pipeline.Options{Dir: t.TempDir()}, true); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("an unknown method: %v", err)
	}
}
