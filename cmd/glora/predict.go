package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/glora/glora/data"
	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/textdata"
	"github.com/glora/glora/train"
)

// prediction is one class of an image's top k, as --json writes it.
type prediction struct {
	Label string  `json:"label"` // the class name, or the index when the model has none
	Index int     `json:"index"`
	Prob  float64 `json:"prob"` // softmax probability
}

// predictSettings are predict's flags (declarative: see decl.go).
type predictSettings struct {
	Model  string `flag:"model" json:"model" help:"checkpoint folder or preset (default: the shipped backbone)"`
	Resize string `flag:"resize" json:"resize" help:"{resize}"`
	Top    int    `flag:"top" json:"top" help:"classes to print per image, most probable first"`
	Batch  int    `flag:"batch" json:"batch" help:"images per forward pass"`
	JSON   bool   `flag:"json" json:"json" help:"one JSON object per image on stdout: {\"file\":…, \"top\":[{\"label\":…, \"index\":…, \"prob\":…}, …]}"`
	SeqLen int    `flag:"seq-len" json:"seq_len" help:"a text classifier (--model a finetune-lm --task classify merged/ folder): the tokens it reads of each .txt file, the first this many (0: 128, finetune-lm's)"`
}

// runPredict labels images: each is read and converted to the model's input
// exactly as the folder loader does (data.ReadImage at train.InputOptions), and
// the k most probable classes are printed with their probabilities.
func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("predict", "predict [--model DIR] [--top K] [--json] IMAGE|FOLDER...  |  predict --model CLASSIFIER_DIR [--seq-len T] TEXT.txt|FOLDER...", stderr)
	s := predictSettings{Resize: "model", Top: 3, Batch: 64}
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 1<<20); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("name at least one image (.png, .jpg, .jpeg) or folder of images")
	}
	if s.Top < 1 {
		return fmt.Errorf("--top must be ≥ 1, got %d", s.Top)
	}
	if s.Batch < 1 {
		return fmt.Errorf("--batch must be ≥ 1, got %d", s.Batch)
	}
	if s.SeqLen < 0 {
		return fmt.Errorf("--seq-len must be ≥ 0, got %d", s.SeqLen)
	}
	if isLMFolder(s.Model) {
		return predictText(s, fs.Args(), stdout, stderr)
	}
	files, err := imageFiles(fs.Args(), stderr)
	if err != nil {
		return err
	}
	m, ck, from, err := loadModel(s.Model, 0)
	if err != nil {
		return err
	}
	if m.Head == nil || m.Cfg.NumClasses == 0 {
		return fmt.Errorf("--model %s has no classification head", from)
	}
	labels := ck.Labels
	if len(labels) != m.Cfg.NumClasses {
		labels = nil
		fmt.Fprintf(stderr, "model %s (no class names stored: printing class indices)\n", from)
	} else {
		fmt.Fprintf(stderr, "model %s\n", from)
	}
	if err := applyResize(s.Resize, &m.Cfg, stderr); err != nil {
		return err
	}
	in := train.InputOptions(m.Cfg, stderr)
	cv := data.Conversions{C: in.Channels, H: in.H, W: in.W, Interp: in.Interp, CropPct: in.CropPct}
	k := min(s.Top, m.Cfg.NumClasses)
	var failed []string
	for lo := 0; lo < len(files); lo += s.Batch {
		var names []string
		var pixels []uint8
		for _, f := range files[lo:min(lo+s.Batch, len(files))] {
			px, info, err := data.ReadImage(f, in.Channels, in.H, in.W, in.Interp, in.CropPct)
			if err != nil {
				fmt.Fprintf(stderr, "glora predict: %v\n", err)
				failed = append(failed, f)
				continue
			}
			cv.Add(info)
			names, pixels = append(names, f), append(pixels, px...)
		}
		if len(names) == 0 {
			continue
		}
		probs, err := classify(m, in, names, pixels)
		if err != nil {
			return err
		}
		for i, f := range names {
			if err := printPrediction(stdout, f, topK(probs[i], k, labels), s.JSON); err != nil {
				return err
			}
		}
	}
	if s := cv.String(); s != "" {
		images := "images"
		if cv.N == 1 {
			images = "image"
		}
		fmt.Fprintf(stderr, "predict: %d %s: %s\n", cv.N, images, s)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d images could not be read (first: %s)", len(failed), len(files), failed[0])
	}
	return nil
}

// imageFiles expands the arguments: a file stands for itself, a folder for
// the image files under it as folder: data reads a class folder
// (data.ImagesUnder: recursively, sorted, hidden ones skipped, links to
// folders followed; the other files it leaves out are counted to log).
func imageFiles(args []string, log io.Writer) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err // *PathError names a
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		ignored := map[string]int{}
		list, err := data.ImagesUnder(a, ignored)
		if err != nil {
			return nil, err
		}
		if s := data.IgnoredFiles(ignored); s != "" {
			fmt.Fprintf(log, "predict: folder %s: %s\n", a, s)
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("folder %s holds no .png/.jpg/.jpeg images", a)
		}
		files = append(files, list...)
	}
	return files, nil
}

// classify returns the softmax probabilities of the images (pixels holds
// them one after another at the model's input size, as data.ReadImage
// returns them): train.Probabilities on them.
func classify(m *vit.Model, in data.ResolveOptions, names []string, pixels []uint8) ([][]float64, error) {
	ds, err := data.FromArrays("predict", []string{"?"}, in.Channels, in.H, in.W, pixels, make([]int, len(names)))
	if err != nil {
		return nil, err
	}
	return train.Probabilities(m, ds, len(names), tensor.F32)
}

// topK is the k most probable classes, ties by index; labels nil names
// each class by its index.
func topK(p []float64, k int, labels []string) []prediction {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	out := make([]prediction, k)
	for j, i := range idx[:k] {
		label := strconv.Itoa(i)
		if labels != nil {
			label = labels[i]
		}
		out[j] = prediction{Label: label, Index: i, Prob: p[i]}
	}
	return out
}

// printPrediction writes one line: JSON, or "FILE: label 0.9731, …".
func printPrediction(w io.Writer, file string, top []prediction, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(struct {
			File string       `json:"file"`
			Top  []prediction `json:"top"`
		}{file, top})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	parts := make([]string, len(top))
	for i, p := range top {
		parts[i] = fmt.Sprintf("%s %.4f", p.Label, p.Prob)
	}
	_, err := fmt.Fprintf(w, "%s: %s\n", file, strings.Join(parts, ", "))
	return err
}

// predictText labels text files with a classifier folder (finetune-lm
// --task classify's merged/): each file's first --seq-len tokens after
// BOS, read as the classifier was trained, and its k most probable
// classes.
func predictText(s predictSettings, args []string, stdout, stderr io.Writer) error {
	m, ck, err := loadLM(s.Model)
	if err != nil {
		return err
	}
	if ck.Score == nil {
		return fmt.Errorf("--model %s is a language model without a classification head: generate continues text; predict labels it with a finetune-lm --task classify folder", s.Model)
	}
	c, labels, err := llama.AsClassifier(m, ck, s.Model)
	if err != nil {
		return err
	}
	tok, _, err := loadTokenizer("", s.Model, m.Cfg.VocabSize)
	if err != nil {
		return err
	}
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return err // *PathError names a
		}
		if !st.IsDir() {
			if data.IsImageFile(a) {
				return fmt.Errorf("%s is an image; --model %s classifies text", a, s.Model)
			}
			files = append(files, a)
			continue
		}
		list, err := textdata.TextFiles(a)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return fmt.Errorf("folder %s holds no .txt files", a)
		}
		files = append(files, list...)
	}
	// files that cannot be read, or hold no text, are said and skipped;
	// the command fails at the end, as for images
	var texts, failed, read []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "glora predict: %v\n", err)
		case strings.TrimSpace(string(b)) == "":
			fmt.Fprintf(stderr, "glora predict: %s is empty: nothing to classify\n", f)
		default:
			texts, read = append(texts, string(b)), append(read, f)
			continue
		}
		failed = append(failed, f)
	}
	unread := func() error {
		return fmt.Errorf("%d of %d text files could not be read or were empty (first: %s)", len(failed), len(files), failed[0])
	}
	if len(texts) == 0 {
		return unread()
	}
	seq := classifierWindow(s.SeqLen, m.Cfg.MaxSeq)
	set, err := lmtrain.EncodeLabelled(tok, texts, make([]int, len(texts)), seq)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%d text files, the first %d tokens of each", len(read), seq)
	if len(read) == 1 {
		what = fmt.Sprintf("1 text file, its first %d tokens", seq)
	}
	fmt.Fprintf(stderr, "model %s: a classifier of %s; %s\n", s.Model, strings.Join(labels, ", "), what)
	probs, err := lmtrain.Probabilities(c, set, s.Batch, tensor.F32)
	if err != nil {
		return err
	}
	k := min(s.Top, len(labels))
	for i, f := range read {
		if err := printPrediction(stdout, f, topK(probs[i], k, labels), s.JSON); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return unread()
	}
	return nil
}
