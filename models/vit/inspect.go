package vit

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// Summary prints m's config on one line, then every parameter of m's store
// (name, shape, dtype, element count, trainable or frozen) in creation
// order, then the totals. Parameters live in memory as float32, which the
// dtype column shows; SummaryOf shows the storage dtypes of a checkpoint.
func Summary(m *Model, w io.Writer) error { return SummaryOf(m, nil, w) }

// SummaryOf is Summary with the dtype column taken from stored (a
// Checkpoint's DTypes: each tensor's storage dtype in the file it was read
// from); a tensor absent from stored shows F32, its in-memory type. It is
// what `glora inspect` prints.
func SummaryOf(m *Model, stored map[string]safetensors.DType, w io.Writer) error {
	if m == nil || m.Store == nil {
		return fmt.Errorf("vit: summary: nil model")
	}
	c := m.Cfg
	fmt.Fprintf(w, "ViT: image %d×%d×%d, patch %d, dim %d, depth %d, heads %d, mlp %d, classes %d, %d tokens, LayerNorm eps %g, GELU %s\n",
		c.InChans, c.ImageSize, c.ImageSize, c.PatchSize, c.Dim, c.Depth, c.Heads, c.MLPDim(), c.NumClasses, c.Tokens(),
		c.LNEps, map[bool]string{false: "erf", true: "tanh"}[c.TanhGELU])
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
		dt := stored[v.Name]
		if dt == "" {
			dt = safetensors.F32
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", v.Name, tensor.ShapeString(v.Value.Shape), dt, k, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "total: %d tensors, %d parameters (%d trainable, %d frozen)\n",
		n, trainable+frozen, trainable, frozen)
	return err
}
