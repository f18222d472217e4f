package main

import (
	"fmt"
	"io"

	"github.com/glora/glora/glora"
	"github.com/glora/glora/models/vit"
)

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", "inspect [DIR]   (default: the shipped backbone; an adapter folder shows its structure)", stderr)
	base := fs.String("base", "", "for an adapter folder: its base model, to count all params (default: base_model_name_or_path when it is a folder)")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	if dir := fs.Arg(0); dir != "" && glora.IsAdapterFolder(dir) {
		return inspectAdapter(dir, *base, stdout)
	}
	m, ck, from, err := loadModel(fs.Arg(0), 0)
	if err != nil {
		return err
	}
	c := m.Cfg
	fmt.Fprintf(stdout, "%s: %s dialect, %s tensor names, stored as %s\n", from, ck.Dialect, ck.Naming, ck.DType)
	fmt.Fprintf(stdout, "ViT %d×%d×%d, patch %d, dim %d, depth %d, heads %d, MLP %d, classes %d, LayerNorm eps %g, GELU %s\n",
		c.InChans, c.ImageSize, c.ImageSize, c.PatchSize, c.Dim, c.Depth, c.Heads, c.MLPDim(), c.NumClasses, c.LNEps,
		map[bool]string{false: "erf", true: "tanh"}[c.TanhGELU])
	vit.Summary(m, stdout)
	return nil
}
