package main

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/models/vit"
)

// pretrain stores the training data's class names in best/; convert and
// average keep them.
func TestClassNamesSurvivePretrainConvertAverage(t *testing.T) {
	dir := t.TempDir()
	writeFolder(t, filepath.Join(dir, "data")) // classes bright, dark
	start := filepath.Join(dir, "start")
	saveTinyModel(t, start, "vit-micro", nil) // 2 classes, no names
	out := filepath.Join(dir, "run")
	code, stdout, stderr := runCLI("pretrain", "--model", start, "--data", "folder:"+filepath.Join(dir, "data"),
		"--scheme", "full", "--epochs", "1", "--batch", "8", "--out", out)
	if code != 0 {
		t.Fatalf("pretrain: code %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "note: the model's head names") {
		t.Fatalf("a head without class names drew the other-names note:\n%s", stderr)
	}
	want := []string{"bright", "dark"}
	best := filepath.Join(out, "best")
	labelsOf := func(dir string) []string {
		t.Helper()
		ck, err := vit.LoadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		return ck.Labels
	}
	if got := labelsOf(best); !slices.Equal(got, want) {
		t.Fatalf("best/ class names %q, want %q", got, want)
	}
	hf := filepath.Join(dir, "hf")
	if code, _, e := runCLI("convert", "--model", best, "--out", hf, "--dialect", "transformers"); code != 0 {
		t.Fatalf("convert: %s", e)
	}
	if got := labelsOf(hf); !slices.Equal(got, want) {
		t.Fatalf("converted class names %q, want %q", got, want)
	}
	avg := filepath.Join(dir, "avg")
	if code, _, e := runCLI("average", "--out", avg, hf, best); code != 0 {
		t.Fatalf("average: %s", e)
	}
	if got := labelsOf(avg); !slices.Equal(got, want) {
		t.Fatalf("averaged class names %q, want %q", got, want)
	}
}

// A head whose class names are not the data's is trained on as it is (the
// counts match), and pretrain says so; --new-head says nothing.
func TestPretrainNotesAHeadNamedForOtherClasses(t *testing.T) {
	dir := t.TempDir()
	data := "folder:" + filepath.Join(dir, "data")
	writeFolder(t, filepath.Join(dir, "data")) // classes bright, dark
	start := filepath.Join(dir, "start")
	saveTinyModel(t, start, "vit-micro", []string{"ant", "bee"})
	for _, newHead := range []bool{false, true} {
		args := []string{"pretrain", "--model", start, "--data", data, "--scheme", "full", "--epochs", "1", "--batch", "8",
			"--out", filepath.Join(dir, fmt.Sprint("run", newHead))}
		if newHead {
			args = append(args, "--new-head")
		}
		code, _, stderr := runCLI(args...)
		note := strings.Contains(stderr, "note: the model's head names its classes ant, bee, --data "+data+" names them bright, dark")
		if code != 0 || note == newHead {
			t.Fatalf("pretrain --new-head=%v: exit %d, note %v\n%s", newHead, code, note, stderr)
		}
	}
}

// eval loads a folder at the model's input: colour photos of another size
// become the grey 16×16 images vit-micro takes, and stderr says so.
func TestEvalLoadsFoldersAtTheModelsInput(t *testing.T) {
	dir := t.TempDir()
	for c, name := range []string{"red", "blue"} {
		for i := 0; i < 5; i++ {
			im := image.NewRGBA(image.Rect(0, 0, 40, 30))
			for p := 0; p < len(im.Pix); p += 4 {
				im.Pix[p], im.Pix[p+2], im.Pix[p+3] = uint8(200-150*c+i), uint8(50+150*c), 255
			}
			savePNG(t, filepath.Join(dir, name, string(rune('a'+i))+".png"), im)
		}
	}
	code, stdout, stderr := runCLI("eval", "--model", "vit-micro", "--data", "folder:"+dir, "--split", "test", "--scheme", "full")
	if code != 0 {
		t.Fatalf("eval: code %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"10 images in 2 classes: 10 colour images converted to grey", "10 images resized from 40×30 to 16×16 (bicubic; squashed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout, "converted") {
		t.Errorf("the conversion report went to stdout:\n%s", stdout)
	}
}

// Class names the plot's font lacks are named on the way out (issue 20:
// they used to be drawn as empty boxes without a word).
func TestEvalPlotNotesMissingGlyphs(t *testing.T) {
	dir := t.TempDir()
	for c, name := range []string{"café", "猫"} {
		for i := 0; i < 3; i++ {
			im := image.NewGray(image.Rect(0, 0, 16, 16))
			for p := range im.Pix {
				im.Pix[p] = uint8(40 + 150*c + i)
			}
			savePNG(t, filepath.Join(dir, name, string(rune('a'+i))+".png"), im)
		}
	}
	plotFile := filepath.Join(t.TempDir(), "cm.png")
	code, stdout, stderr := runCLI("eval", "--model", "vit-micro", "--data", "folder:"+dir, "--split", "test", "--scheme", "full", "--plot", plotFile)
	if code != 0 {
		t.Fatalf("eval: code %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout+stderr, `no glyph for "猫"`) || strings.Contains(stdout+stderr, `"é`) {
		t.Fatalf("no note naming 猫 alone:\n%s%s", stdout, stderr)
	}
	if _, err := os.Stat(plotFile); err != nil {
		t.Fatal(err)
	}
}
