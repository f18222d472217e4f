package main

import (
	"fmt"
	"io"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
)

// inspectSettings are inspect's flags (declarative: see decl.go).
type inspectSettings struct {
	JSON bool   `flag:"json" json:"json" help:"print the config and tensors as one JSON line on stdout instead of tables"`
	Base string `flag:"base" json:"base" help:"for an adapter folder: its base model, to count all params (default: base_model_name_or_path when it is a folder)"`
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", "inspect [shipped|shipped-lm|DIR|FILE.bin|PRESET|ADAPTER_DIR] [--json] [--base DIR]   (default: the shipped backbone; an adapter folder shows its structure)", stderr)
	var s inspectSettings
	bindFlags(fs, &s)
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	if dir := fs.Arg(0); dir != "" && glora.IsAdapterFolder(dir) {
		return inspectAdapter(dir, s.Base, s.JSON, stdout)
	}
	if isLlama(fs.Arg(0)) {
		return inspectLM(fs.Arg(0), s.JSON, stdout)
	}
	m, ck, from, err := loadModel(fs.Arg(0), 0)
	if err != nil {
		return err
	}
	stored := "not saved (a fresh preset)"
	if ck.DTypes != nil {
		stored = "stored as " + string(ck.DType)
	}
	if s.JSON {
		type tensorInfo struct {
			Name      string            `json:"name"`
			Shape     []int             `json:"shape"`
			DType     safetensors.DType `json:"dtype"`
			Count     int               `json:"count"`
			Trainable bool              `json:"trainable"`
		}
		var ts []tensorInfo
		for _, v := range m.Store.Params() {
			dt := ck.DTypes[v.Name]
			if dt == "" {
				dt = safetensors.F32
			}
			ts = append(ts, tensorInfo{v.Name, v.Value.Shape, dt, v.Value.Numel(), v.RequiresGrad})
		}
		fmt.Fprintln(stdout, jsonLine(map[string]any{"model": from, "dialect": ck.Dialect, "naming": ck.Naming,
			"dtype": ck.DType, "config": m.Cfg, "training": ck.Training, "parameters": m.Store.Count(false), "tensors": ts}))
		return nil
	}
	fmt.Fprintf(stdout, "%s: %s dialect, %s tensor names, %s\n", from, ck.Dialect, ck.Naming, stored)
	if t := ck.Training; t != nil {
		fmt.Fprintf(stdout, "trained on %s, --scheme %s --split-seed %d\n", t.Data, t.Scheme, t.SplitSeed)
	}
	return vit.SummaryOf(m, ck.DTypes, stdout)
}
