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
	fs := newFlags("convert", "convert [--model DIR] --out DIR [--dialect timm|transformers] [--naming timm|transformers] [--dtype f32|f16|bf16]", stderr)
	model := fs.String("model", "", "checkpoint folder or preset (default: the shipped backbone)")
	out := fs.String("out", "", "folder to write (config.json, model.safetensors)")
	dialect := fs.String("dialect", "", "config.json dialect: timm or transformers (default: as read)")
	naming := fs.String("naming", "", "tensor names: timm or transformers (default: the dialect's)")
	dtype := fs.String("dtype", "", "storage: f32, f16 or bf16 (default: as read)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("--out is required")
	}
	m, ck, from, err := loadModel(*model, 0)
	if err != nil {
		return err
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
	dt, err := parseDType(*dtype)
	if err != nil {
		return err
	}
	if err := vit.Save(m, *out, ck, dt); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s dialect, %s names) from %s\n", *out, ck.Dialect, ck.Naming, from)
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
