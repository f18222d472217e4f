// Command interop is the Go half of glora's interoperability check with
// timm and transformers (reference/interop/check.py runs the Python half on
// a machine that has them):
//
//	interop export DIR   writes DIR/{timm,hf,backbone}/ checkpoints saved by glora,
//	                     DIR/input.safetensors and DIR/glora_logits.safetensors
//	interop logits MODEL_DIR INPUT OUT
//	                     glora's logits for the images in INPUT (tensor "x") → OUT (tensor "logits")
//	interop adapter BASE_DIR OUT_DIR
//	                     a GLoRA adapter for BASE_DIR with random support tensors and
//	                     PEFT's default structure (glora-fixed, rank 4) on every block
//	                     Linear, and a new 3-class head (check_peft_glora.py)
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/backbones"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "export":
		return export(args[1])
	case len(args) == 4 && args[0] == "logits":
		m, _, err := vit.Load(args[1])
		if err != nil {
			return err
		}
		ts, _, err := safetensors.ReadFile(args[2])
		if err != nil {
			return err
		}
		x, ok := ts["x"]
		if !ok {
			return fmt.Errorf("%s has no tensor \"x\"", args[2])
		}
		y, err := logits(m, x)
		if err != nil {
			return err
		}
		return safetensors.WriteFile(args[3], map[string]*tensor.Tensor{"logits": y}, safetensors.F32, nil)
	}
	if len(args) == 3 && args[0] == "adapter" {
		return randomAdapter(args[1], args[2])
	}
	return fmt.Errorf("usage: interop export DIR | interop logits MODEL_DIR INPUT OUT | interop adapter BASE_DIR OUT_DIR")
}

func logits(m *vit.Model, x *tensor.Tensor) (*tensor.Tensor, error) {
	tp := ag.NewTape()
	tp.NoGrad = true
	y := m.Forward(tp, ag.NewVar(x, false), nil)
	if err := tp.Err(); err != nil {
		return nil, err
	}
	return y.Value.Clone(), nil
}

// export saves a random small ViT in both dialects and the shipped backbone,
// with inputs and glora's logits for each.
func export(dir string) error {
	rng := rand.New(rand.NewPCG(7, 7))
	cfg := vit.Config{ImageSize: 32, PatchSize: 8, InChans: 3, Dim: 64, Depth: 2, Heads: 4, MLPRatio: 4,
		NumClasses: 5, QKVBias: true, LNEps: 1e-6, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}}
	m, err := vit.New(cfg, rng)
	if err != nil {
		return err
	}
	for _, v := range m.Store.Params() { // non-trivial values everywhere
		for i := range v.Value.Data {
			v.Value.Data[i] = float32(rng.NormFloat64() * 0.2)
		}
	}
	out := map[string]*tensor.Tensor{}
	inputs := map[string]*tensor.Tensor{}
	x := tensor.New(4, 3, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	inputs["x"] = x
	y, err := logits(m, x)
	if err != nil {
		return err
	}
	out["small"] = y
	ck := vit.NewCheckpoint("interop-small", cfg)
	if err := vit.Save(m, filepath.Join(dir, "timm"), ck, safetensors.F32); err != nil {
		return err
	}
	ck.Dialect, ck.Naming = vit.Transformers, vit.Transformers
	if err := vit.Save(m, filepath.Join(dir, "hf"), ck, safetensors.F32); err != nil {
		return err
	}
	bb, bck, err := backbones.Default()
	if err != nil {
		return err
	}
	c := bb.Cfg
	xb := tensor.New(4, c.InChans, c.ImageSize, c.ImageSize)
	for i := range xb.Data {
		xb.Data[i] = float32(rng.NormFloat64())
	}
	inputs["x_backbone"] = xb
	if out["backbone"], err = logits(bb, xb); err != nil {
		return err
	}
	if err := vit.Save(bb, filepath.Join(dir, "backbone"), bck, ""); err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "input.safetensors"), inputs, safetensors.F32, nil); err != nil {
		return err
	}
	return safetensors.WriteFile(filepath.Join(dir, "glora_logits.safetensors"), out, safetensors.F32, nil)
}

// randomAdapter writes a glora-fixed (PEFT's default) adapter of rank 4 for
// the model in base, with random support tensors and head, to out.
func randomAdapter(base, out string) error {
	m, _, err := vit.Load(base)
	if err != nil {
		return err
	}
	sites, err := glora.SelectTargets(m.Linears(), []string{glora.AllLinear}, nil)
	if err != nil {
		return err
	}
	ts := glora.TargetsOf(sites)
	st, err := glora.Named("glora-fixed", ts, 4, false)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(11, 11))
	fill := func(t *tensor.Tensor) {
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * 0.05)
		}
	}
	layers := map[string]*glora.LayerTensors{}
	for _, t := range ts {
		lt := glora.NewLayerTensors(t.Out, t.In, 4, nil)
		for _, x := range lt.List() {
			fill(x)
		}
		layers[t.Path] = &lt
	}
	head := &glora.Head{Path: "head", W: tensor.New(3, m.Cfg.Dim), B: tensor.New(3)}
	fill(head.W)
	fill(head.B)
	a, err := glora.NewAdapter(st, layers, head)
	if err != nil {
		return err
	}
	if abs, err := filepath.Abs(base); err == nil {
		a.BaseModel = abs
	}
	return glora.Save(out, a, glora.SaveOptions{})
}
