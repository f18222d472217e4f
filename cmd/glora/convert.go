package main

import (
	"fmt"
	"io"
	"strings"

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
	JSON    bool   `flag:"json" json:"json" help:"print what was written as one JSON line on stdout; everything else goes to stderr"`
}

// runConvert rewrites a checkpoint in another dialect, naming or dtype.
func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", "convert [--model shipped|DIR] --out DIR [--dialect timm|transformers] [--naming timm|transformers] [--dtype f32|f16|bf16] [--json]", stderr)
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
