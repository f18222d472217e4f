package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
)

// convertSettings are convert's flags (declarative: see decl.go).
type convertSettings struct {
	Model   string `flag:"model" json:"model" help:"{model}"`
	Out     string `flag:"out" json:"out" help:"folder to write (config.json, model.safetensors): written in a fresh temporary folder that then replaces it, so no file of an earlier checkpoint there is left; other files in it are kept"`
	Dialect string `flag:"dialect" json:"dialect" help:"config.json dialect: timm or transformers (default: as read)"`
	Naming  string `flag:"naming" json:"naming" help:"tensor names: timm or transformers (default: the dialect's)"`
	Dtype   string `flag:"dtype" json:"dtype" help:"storage: f32, f16 or bf16 (default: as read)"`
	Format  string `flag:"format" json:"format" help:"for a LLaMA model (a llama2.c file or a Hugging Face Llama folder): hf (a Hugging Face folder, the default) or llama2c (one llama2.c checkpoint file, f32)"`
	JSON    bool   `flag:"json" json:"json" help:"print what was written as one JSON line on stdout; everything else goes to stderr"`
}

// runConvert rewrites a checkpoint in another dialect, naming or dtype.
func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", "convert [--model shipped|DIR] --out DIR [--dialect timm|transformers] [--naming timm|transformers] [--dtype f32|f16|bf16] [--format hf|llama2c] [--json]", stderr)
	s := convertSettings{Model: shipped}
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if s.Out == "" {
		return fmt.Errorf("--out is required")
	}
	dt, err := parseDType(s.Dtype)
	if err != nil {
		return err
	}
	if isLlama(s.Model) {
		return convertLM(s, dt, stdout)
	}
	if s.Format != "" {
		return fmt.Errorf("--format is for LLaMA models; %s is not one (use --dialect and --naming)", s.Model)
	}
	m, ck, from, err := loadModel(s.Model, 0)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	parse := func(flag, v string) (vit.Dialect, error) {
		switch strings.ToLower(v) {
		case "":
			return "", nil
		case "timm":
			return vit.Timm, nil
		case "transformers", "hf":
			return vit.Transformers, nil
		}
		return "", fmt.Errorf("--%s %q: want timm or transformers", flag, v)
	}
	d, err := parse("dialect", s.Dialect)
	if err != nil {
		return err
	}
	n, err := parse("naming", s.Naming)
	if err != nil {
		return err
	}
	if d != "" {
		ck.Dialect, ck.Naming = d, d
	}
	if n != "" {
		ck.Naming = n
	}
	if err := vit.SaveFresh(m, s.Out, ck, dt); err != nil {
		return fmt.Errorf("--out %s: %w", s.Out, err)
	}
	if s.JSON {
		fmt.Fprintln(stdout, jsonLine(map[string]any{"out": s.Out, "dialect": ck.Dialect, "naming": ck.Naming, "dtype": savedDType(dt, ck), "model": from}))
		return nil
	}
	fmt.Fprintf(stdout, "wrote %s (%s dialect, %s names, %s) from %s\n", s.Out, ck.Dialect, ck.Naming, savedDType(dt, ck), from)
	return nil
}

// convertLM rewrites a LLaMA model as a Hugging Face folder or a llama2.c
// file.
func convertLM(s convertSettings, dt safetensors.DType, stdout io.Writer) error {
	if s.Dialect != "" || s.Naming != "" {
		return fmt.Errorf("--dialect and --naming are for ViT checkpoints; a LLaMA model takes --format hf|llama2c")
	}
	m, ck, err := loadLM(s.Model)
	if err != nil {
		return err
	}
	format := strings.ToLower(s.Format)
	switch format {
	case "", "hf", "transformers":
		format = "hf"
		if dt == "" {
			dt = ck.DType
		}
		if err := llama.SaveHF(m, s.Out, ck, dt); err != nil {
			return fmt.Errorf("--out %s: %w", s.Out, err)
		}
	case "llama2c", "llama2.c":
		format = "llama2c"
		if dt != "" && dt != safetensors.F32 {
			return fmt.Errorf("--dtype %s: llama2.c's format stores f32 only", s.Dtype)
		}
		dt = safetensors.F32
		if st, err := os.Stat(s.Out); err == nil && st.IsDir() {
			return fmt.Errorf("--out %s is a folder; llama2c writes one file (e.g. %s)", s.Out, filepath.Join(s.Out, "model.bin"))
		}
		if err := llama.SaveLlama2c(m, s.Out); err != nil {
			return fmt.Errorf("--out %s: %w", s.Out, err)
		}
	default:
		return fmt.Errorf("--format %q: want hf or llama2c", s.Format)
	}
	tokOut, note := convertTokenizer(s.Model, s.Out, format, m.Cfg.VocabSize)
	if s.JSON {
		fmt.Fprintln(stdout, jsonLine(map[string]any{"out": s.Out, "format": format, "dtype": dt, "model": s.Model, "tokenizer": tokOut}))
		return nil
	}
	fmt.Fprintf(stdout, "wrote %s (%s, %s) from %s\n%s\n", s.Out, format, dt, s.Model, note)
	return nil
}

// convertTokenizer carries the tokenizer beside model (as generate finds
// it) over to the converted model: tokenizer.json and
// tokenizer_config.json into an hf folder; tokenizer.bin beside a llama2c
// file, where llama2.c's run looks for it, unless one is there already.
// It returns the file written ("" if none) and a line saying what
// happened; a model without a tokenizer, or one llama2.c's format cannot
// hold, is said, not an error: the weights are converted either way.
func convertTokenizer(model, out, format string, vocab int) (string, string) {
	tok, from, err := loadTokenizer("", model, vocab)
	if err != nil {
		return "", fmt.Sprintf("no tokenizer carried over (%v): give the converted model's users --tokenizer", err)
	}
	if format == "hf" {
		if err := writeTokenizer(tok, out); err != nil {
			return "", fmt.Sprintf("the tokenizer (%s) was not written: %v", from, err)
		}
		return filepath.Join(out, "tokenizer.json"), fmt.Sprintf("tokenizer: %s (from %s)", filepath.Join(out, "tokenizer.json"), from)
	}
	dest := filepath.Join(filepath.Dir(out), "tokenizer.bin")
	if _, err := os.Stat(dest); err == nil {
		return "", fmt.Sprintf("%s exists and was left as it was; the model's tokenizer is %s", dest, from)
	}
	if err := tok.WriteLlama2c(dest); err != nil {
		return "", fmt.Sprintf("the tokenizer (%s) was not written as llama2.c's: %v", from, err)
	}
	return dest, fmt.Sprintf("tokenizer: %s (from %s; llama2.c's run reads it with -z)", dest, from)
}

// parseDType reads a --dtype flag: f32, f16 or bf16 (also float32,
// float16, bfloat16); "" means "as read" and gives "".
func parseDType(v string) (safetensors.DType, error) {
	switch strings.ToLower(v) {
	case "":
		return "", nil
	case "f32", "float32":
		return safetensors.F32, nil
	case "f16", "float16":
		return safetensors.F16, nil
	case "bf16", "bfloat16":
		return safetensors.BF16, nil
	}
	return "", fmt.Errorf("--dtype %q: want f32, f16 or bf16", v)
}

// savedDType is the dtype vit.Save writes for --dtype dt ("" = as read).
func savedDType(dt safetensors.DType, ck vit.Checkpoint) safetensors.DType {
	if dt == "" {
		dt = ck.DType
		if dt != safetensors.F16 && dt != safetensors.BF16 {
			dt = safetensors.F32
		}
	}
	return dt
}
