package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
)

// runConvert rewrites a checkpoint in another dialect, naming or dtype.
func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", "convert [--model shipped|DIR] --out DIR [--dialect timm|transformers] [--naming timm|transformers] [--dtype f32|f16|bf16] [--json]", stderr)
	model := fs.String("model", shipped, modelHelp)
	out := fs.String("out", "", "folder to write (config.json, model.safetensors): written in a fresh temporary folder that then replaces it, so no file of an earlier checkpoint there is left; other files in it are kept")
	dialect := fs.String("dialect", "", "config.json dialect: timm or transformers (default: as read)")
	naming := fs.String("naming", "", "tensor names: timm or transformers (default: the dialect's)")
	dtype := fs.String("dtype", "", "storage: f32, f16 or bf16 (default: as read)")
	asJSON := fs.Bool("json", false, "print what was written as one JSON line on stdout; everything else goes to stderr")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("--out is required")
	}
	dt, err := parseDType(*dtype)
	if err != nil {
		return err
	}
	m, ck, from, err := loadModel(*model, 0)
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
	d, err := parse("dialect", *dialect)
	if err != nil {
		return err
	}
	n, err := parse("naming", *naming)
	if err != nil {
		return err
	}
	if d != "" {
		ck.Dialect, ck.Naming = d, d
	}
	if n != "" {
		ck.Naming = n
	}
	if err := vit.SaveFresh(m, *out, ck, dt); err != nil {
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	if *asJSON {
		fmt.Fprintln(stdout, jsonLine(map[string]any{"out": *out, "dialect": ck.Dialect, "naming": ck.Naming, "dtype": savedDType(dt, ck), "model": from}))
		return nil
	}
	fmt.Fprintf(stdout, "wrote %s (%s dialect, %s names, %s) from %s\n", *out, ck.Dialect, ck.Naming, savedDType(dt, ck), from)
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
