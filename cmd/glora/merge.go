package main

import (
	"fmt"
	"io"

	"github.com/glora/glora/backbones"
	"github.com/glora/glora/finetune"
	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/lmtrain"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
)

// mergeSettings are merge's flags (declarative: see decl.go).
type mergeSettings struct {
	Base      string `flag:"base" json:"base" help:"the model the adapter was trained on: shipped, a checkpoint folder (timm or transformers dialect) or a preset (default: the adapter's base_model_name_or_path, when that is shipped or a folder here)"`
	Adapter   string `flag:"adapter" json:"adapter" help:"adapter folder (adapter_config.json + adapter_model.safetensors)"`
	Out       string `flag:"out" json:"out" help:"folder to write the merged model to (config.json, model.safetensors)"`
	Dtype     string `flag:"dtype" json:"dtype" help:"storage of the merged weights: f32, f16 or bf16"`
	Overwrite bool   `flag:"overwrite" json:"overwrite" help:"replace --out when it exists and is not empty"`
}

// runMerge folds an adapter into its base model and writes a plain model
// folder: the base's dialect, tensor names and shapes, the adapter's head
// when it has one.
func runMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("merge", "merge [--base MODEL] --adapter ADAPTER_DIR --out MODEL_DIR [--dtype f32|f16|bf16] [--overwrite]", stderr)
	s := mergeSettings{Dtype: "f32"}
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"adapter", s.Adapter}, {"out", s.Out}} {
		if f.v == "" {
			return fmt.Errorf("--%s is required", f.name)
		}
	}
	dt, err := parseDType(s.Dtype)
	if err != nil {
		return err
	}
	if dt == "" {
		dt = safetensors.F32
	}
	a, err := glora.LoadAdapter(s.Adapter)
	if err != nil {
		return fmt.Errorf("--adapter: %w", err)
	}
	if s.Base == "" && a.BaseModel == backbones.ShippedLM || isLlama(s.Base) {
		if s.Base == "" {
			s.Base = backbones.ShippedLM
		}
		return mergeLM(s, a, dt, stdout)
	}
	if s.Base == "" {
		if a.BaseModel == "" {
			return fmt.Errorf("--base is required (the adapter does not record its base model)")
		}
		if s.Base = recordedBase(s.Adapter, a.BaseModel); s.Base == "" {
			return fmt.Errorf("--base is required: the adapter's base model (base_model_name_or_path %q) is neither shipped nor a model folder here", a.BaseModel)
		}
		fmt.Fprintf(stderr, "--base %s: the adapter's base_model_name_or_path\n", s.Base)
	}
	if isLlama(s.Base) { // a folder the adapter recorded
		return mergeLM(s, a, dt, stdout)
	}
	m, ck, from, err := loadModel(s.Base, 0)
	if err != nil {
		return fmt.Errorf("--base: %w", err)
	}
	m, rep, err := finetune.MergeAdapter(m, a)
	if err != nil {
		return err
	}
	ck.Config = m.Cfg
	// The merged model was trained on what the adapter was: its record, or
	// none (the base's record would let eval --split val score the
	// adapter's training images).
	ck.Training = nil
	if r := a.Training; r != nil {
		ck.Training = &vit.TrainingInfo{Data: r.Data, Scheme: r.Scheme, SplitSeed: r.SplitSeed}
	}
	switch {
	case a.Head != nil && a.Labels != nil: // the adapter's head, with its class names
		ck.Labels = a.Labels
	case a.Head != nil && len(ck.Labels) != m.Cfg.NumClasses:
		ck.Labels = nil // the base's names belong to its own head
	}
	if err := writeOut(s.Out, s.Overwrite, func(tmp string) error { return vit.Save(m, tmp, ck, dt) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %s into %s: %s\nwrote %s (%s dialect, %s tensor names, %s)\n",
		s.Adapter, from, rep, s.Out, orTimm(ck.Dialect), orTimm(ck.Naming), dt)
	return nil
}

func orTimm(d vit.Dialect) vit.Dialect {
	if d == "" {
		return vit.Timm
	}
	return d
}

// mergeLM folds an adapter into a LLaMA-style base and writes a plain
// Hugging Face Llama folder (with the base's tokenizer when it has one).
func mergeLM(s mergeSettings, a *glora.Adapter, dt safetensors.DType, stdout io.Writer) error {
	m, ck, err := loadLM(s.Base)
	if err != nil {
		return fmt.Errorf("--base: %w", err)
	}
	if a.Head != nil {
		return fmt.Errorf("--adapter %s has a classification head; a LLaMA base's merged folder has none to hold it", s.Adapter)
	}
	m, layers, err := lmtrain.MergeAdapter(m, a)
	if err != nil {
		return err
	}
	tok, _, tokErr := loadTokenizer("", s.Base, m.Cfg.VocabSize)
	err = writeOut(s.Out, s.Overwrite, func(tmp string) error {
		if err := llama.SaveHF(m, tmp, ck, dt); err != nil {
			return err
		}
		if tokErr == nil {
			return writeTokenizer(tok, tmp)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %s (%d layers) into %s\nwrote %s (Hugging Face Llama folder, %s)\n", s.Adapter, layers, s.Base, s.Out, dt)
	return nil
}

// writeOut writes merge's --out folder with write (into a fresh folder
// that then replaces it): a non-empty --out only with --overwrite.
func writeOut(out string, overwrite bool, write func(tmp string) error) error {
	replace := func(existing string) error {
		if overwrite {
			return nil
		}
		return fmt.Errorf("%s exists and is not empty (pass --overwrite to replace it)", existing)
	}
	if err := atomicfile.CheckReplace(out, replace); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := atomicfile.WriteDir(out, write); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
