package vit

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/glora/glora/tensor"
)

// Summary prints every parameter of m's store (name, shape, dtype, element
// count, trainable or frozen) in creation order, then the totals, for
// `glora inspect`. Parameters live in memory as float32.
func Summary(m *Model, w io.Writer) error {
	if m == nil || m.Store == nil {
		return fmt.Errorf("vit: summary: nil model")
	}
	c := m.Cfg
	fmt.Fprintf(w, "ViT: image %d×%d×%d, patch %d, dim %d, depth %d, heads %d, mlp %d, classes %d, %d tokens\n",
		c.InChans, c.ImageSize, c.ImageSize, c.PatchSize, c.Dim, c.Depth, c.Heads, c.MLPDim(), c.NumClasses, c.Tokens())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tshape\tdtype\tcount\tstate")
	var trainable, frozen, n int
	for _, v := range m.Store.Params() {
		k := v.Value.Numel()
		state := "trainable"
		if v.RequiresGrad {
			trainable += k
		} else {
			frozen += k
			state = "frozen"
		}
		n++
		fmt.Fprintf(tw, "%s\t%s\tF32\t%d\t%s\n", v.Name, tensor.ShapeString(v.Value.Shape), k, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "total: %d tensors, %d parameters (%d trainable, %d frozen)\n",
		n, trainable+frozen, trainable, frozen)
	return err
}
