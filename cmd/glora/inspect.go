package main

import (
	"fmt"
	"io"

	"github.com/glora/glora/models/vit"
)

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", "inspect [DIR]   (default: the shipped backbone)", stderr)
	if err := parseFlags(fs, args, 1); err != nil {
		return err
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
