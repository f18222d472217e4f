package main

import (
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/models/vit"
)

// eval reports each class's accuracy (named by the model's labels, else the
// data's classes) on stderr with --json and in the JSON object, consistent
// with the confusion matrix and the overall count, and draws the matrix.
func TestEvalPerClassAndConfusionPlot(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeClasses(t, data, classNames(3), 4, true) // c00, c01, c02; 4 test images each
	for _, c := range []struct {
		name   string
		labels []string
		want   []string
	}{{"labelled", []string{"cat", "dog", "eel"}, []string{"cat", "dog", "eel"}}, {"unlabelled", []string{"", "", ""}, classNames(3)}} {
		model := filepath.Join(dir, c.name)
		saveTinyModel(t, model, "vit-micro", c.labels)
		png := filepath.Join(dir, c.name+".png")
		code, stdout, stderr := runCLI("eval", "--model", model, "--data", "folder:"+data, "--split", "test", "--json", "--plot", png)
		if code != 0 {
			t.Fatalf("%s: code %d\n%s", c.name, code, stderr)
		}
		// cat, dog, eel are not the data's c00, c01, c02: said, not refused
		if warned := strings.Contains(stderr, "warning: --model "+model+" names its classes cat, dog, eel, --data folder:"+data+" names them c00, c01, c02"); warned != (c.name == "labelled") {
			t.Errorf("%s: class-name warning %v:\n%s", c.name, warned, stderr)
		}
		obj := jsonLines(t, "eval --json", stdout)[0]
		rows, _ := obj["per_class"].([]any)
		if len(rows) != 3 {
			t.Fatalf("%s: per_class %v", c.name, obj["per_class"])
		}
		conf, _ := obj["confusion"].([]any)
		n, correct := 0.0, 0.0
		for i, r := range rows {
			row := r.(map[string]any)
			if row["class"] != c.want[i] || row["index"].(float64) != float64(i) {
				t.Errorf("%s: class %d is %v", c.name, i, row)
			}
			crow := conf[i].([]any)
			if row["correct"] != crow[i] || row["n"].(float64) != 4 {
				t.Errorf("%s: class %d: %v against confusion row %v", c.name, i, row, crow)
			}
			if acc := row["accuracy"].(float64); acc != row["correct"].(float64)/4 {
				t.Errorf("%s: class %d accuracy %v", c.name, i, acc)
			}
			n += row["n"].(float64)
			correct += row["correct"].(float64)
			if !strings.Contains(stderr, c.want[i]) {
				t.Errorf("%s: stderr lacks class %q:\n%s", c.name, c.want[i], stderr)
			}
		}
		if n != obj["n"].(float64) || correct != obj["correct"].(float64) {
			t.Errorf("%s: per-class totals %v/%v, overall %v/%v", c.name, correct, n, obj["correct"], obj["n"])
		}
		if !strings.Contains(stderr, "class") || !strings.Contains(stderr, "accuracy") {
			t.Errorf("%s: no per-class table on stderr:\n%s", c.name, stderr)
		}
		f, err := os.Open(png)
		if err != nil {
			t.Fatalf("%s: --plot wrote nothing: %v", c.name, err)
		}
		if _, err := pngDecode(f); err != nil {
			t.Errorf("%s: %s is not a PNG: %v", c.name, png, err)
		}
		f.Close()
	}
	// --plot into a folder that does not exist is refused before any work.
	code, _, stderr := runCLI("eval", "--model", "vit-micro", "--data", "folder:/does/not/exist", "--plot", filepath.Join(dir, "no", "c.png"))
	if code == 0 || !strings.Contains(stderr, "--plot") {
		t.Fatalf("--plot into a missing folder: code %d, %s", code, stderr)
	}
	// --seed is another name for --split-seed: two different values are refused.
	code, _, stderr = runCLI("eval", "--data", "digits", "--seed", "3", "--split-seed", "5")
	if code == 0 || !strings.Contains(stderr, "--seed is another name for --split-seed") {
		t.Fatalf("--seed 3 --split-seed 5: code %d, %s", code, stderr)
	}
	// A name that is not .png would hold PNG bytes under another type's name.
	code, _, stderr = runCLI("eval", "--model", "vit-micro", "--data", "folder:/does/not/exist", "--plot", filepath.Join(dir, "c.jpg"))
	if code == 0 || !strings.Contains(stderr, "name it FILE.png") {
		t.Fatalf("--plot c.jpg: code %d, %s", code, stderr)
	}
}

var pngDecode = png.Decode

// A model whose head has another number of outputs than the data has
// classes is not scored: its accuracy would compare output i with
// whatever class i of the data is.
func TestEvalRefusesAHeadOfAnotherSize(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeClasses(t, data, classNames(2), 3, true)
	model := filepath.Join(dir, "m")
	saveTinyModel(t, model, "vit-micro", []string{"cat", "dog", "eel"})
	code, _, stderr := runCLI("eval", "--model", model, "--data", "folder:"+data)
	if code == 0 || !strings.Contains(stderr, "has a 3-class head (cat, dog, eel) but --data folder:"+data+" has 2 classes (c00, c01)") {
		t.Fatalf("eval of a 3-class model on 2 classes: exit %d\n%s", code, stderr)
	}
}

// A checkpoint whose preprocessing centre-crops (timm's crop_pct) gets its
// images that way, and says so; --resize squash stretches them instead.
func TestEvalFollowsTheCheckpointsCrop(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := vit.Preset("vit-micro")
	cfg.NumClasses, cfg.CropPct = 2, 0.875
	m, err := vit.New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m")
	if err := vit.Save(m, model, vit.NewCheckpoint("vit-micro", cfg), ""); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	writeClasses(t, data, classNames(2), 3, true)
	_, _, e := runCLI("eval", "--model", model, "--data", "folder:"+data)
	if !strings.Contains(e, "input: the shorter side resized to 18 (bicubic), the centre 16×16 cut out (crop_pct 0.875") ||
		!strings.Contains(e, "the shorter side to 18, then the centre cut out") {
		t.Fatalf("eval of a crop_pct checkpoint:\n%s", e)
	}
	_, _, e = runCLI("eval", "--model", model, "--data", "folder:"+data, "--resize", "squash")
	if strings.Contains(e, "cut out") || !strings.Contains(e, "squashed") {
		t.Fatalf("eval --resize squash:\n%s", e)
	}
	if code, _, e := runCLI("eval", "--model", model, "--data", "folder:"+data, "--resize", "zoom"); code == 0 || !strings.Contains(e, `--resize "zoom"`) {
		t.Fatalf("--resize zoom: %d %s", code, e)
	}
}
