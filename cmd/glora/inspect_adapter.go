package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/vit"
)

// inspectAdapter prints an adapter (or supernet) folder: its per-layer
// structure and PEFT's trainable-parameter line, counting what the
// structure reads plus the saved head; "all params" adds the base model's
// parameters, from base (--base) or the adapter's base_model_name_or_path
// when that is a folder. With asJSON, one JSON object goes to w instead
// (the structure, the counts, the base).
func inspectAdapter(dir, base string, asJSON bool, w io.Writer) error {
	a, err := glora.Load(dir)
	if err != nil {
		return err
	}
	if asJSON {
		return inspectAdapterJSON(dir, base, a, w)
	}
	kind := "GLoRA adapter"
	if a.Supernet {
		kind = fmt.Sprintf("GLoRA supernet (ranks %v, add bias %v): every structure reads a slice of these tensors", a.Ranks, a.AddBias)
	}
	ts := a.Targets()
	fmt.Fprintf(w, "%s: %s, stored rank %d, %d layers", dir, kind, a.R, len(ts))
	if a.Head != nil {
		fmt.Fprintf(w, ", head %q (%d classes)", a.Head.Path, a.Head.W.Shape[0])
	}
	if a.BaseModel != "" {
		fmt.Fprintf(w, ", base %q", a.BaseModel)
	}
	fmt.Fprintln(w)
	if c := a.Config; c != nil && c.ConfigAB != nil {
		fmt.Fprintf(w, "PEFT config: config_A_B %s, config_C %s, config_D_E %s (the same for every layer)\n", *c.ConfigAB, *c.ConfigC, *c.ConfigDE)
	} else if !a.Supernet {
		fmt.Fprintln(w, "PEFT config: config_A_B/C/D_E null (the structure differs between layers or paths; glora_structure holds it)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if a.Supernet {
		fmt.Fprintln(tw, "layer\tin→out\tstored")
	} else {
		fmt.Fprintln(tw, "layer\tin→out\tA\tB\tC\tD\tE\tparams")
	}
	for _, t := range ts {
		if a.Supernet {
			n := 0
			for _, v := range a.Layers[t.Path].List() {
				n += v.Numel()
			}
			fmt.Fprintf(tw, "%s\t%d→%d\t%d\n", t.Path, t.In, t.Out, n)
			continue
		}
		lc := a.Structure[t.Path]
		fmt.Fprintf(tw, "%s\t%d→%d\t%s\t%s\t%s\t%s\t%s\t%d\n", t.Path, t.In, t.Out,
			lc[glora.A], lc[glora.B], lc[glora.C], lc[glora.D], lc[glora.E], lc.Params(t.In, t.Out))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	support, head := a.Params()
	fmt.Fprintf(w, "support parameters %s, head %s\n", group(support), group(head))
	trainable := support + head
	m, from, err := adapterBase(dir, base, a.BaseModel)
	if err != nil {
		return err
	}
	if m == nil {
		fmt.Fprintf(w, "trainable params: %s (the adapter's own count; all params unknown: pass --base MODEL_DIR, base_model_name_or_path %q is not a folder here)\n",
			group(trainable), a.BaseModel)
		return nil
	}
	all := m.Store.Count(false) + trainable
	fmt.Fprintf(w, "trainable params: %s || all params: %s || trainable%%: %.4f\n",
		group(trainable), group(all), 100*float64(trainable)/float64(all))
	fmt.Fprintf(w, "(all params: base %s, %s parameters, plus the trainable ones)\n", from, group(m.Store.Count(false)))
	return nil
}

// adapterBase loads the base model for counting: --base when given
// (folder or preset), else the one the adapter records (recordedBase);
// nil when neither.
func adapterBase(dir, flagBase, recorded string) (*vit.Model, string, error) {
	if flagBase != "" {
		m, _, from, err := loadModel(flagBase, 0)
		if err != nil {
			return nil, "", fmt.Errorf("--base: %w", err)
		}
		return m, from, nil
	}
	spec := recordedBase(dir, recorded)
	if spec == "" {
		return nil, "", nil
	}
	m, _, from, err := loadModel(spec, 0)
	if err != nil {
		return nil, "", fmt.Errorf("base_model_name_or_path %q: %w", recorded, err)
	}
	return m, from, nil
}

// recordedBase is the base model an adapter in dir records
// (base_model_name_or_path) as a model spec glora can load here: "shipped"
// (the backbone embedded in glora) or a model folder, as written or
// relative to dir; "" when it is neither.
func recordedBase(dir, recorded string) string {
	switch recorded {
	case "":
		return ""
	case shipped:
		return shipped
	}
	for _, p := range []string{recorded, filepath.Join(dir, recorded)} {
		if st, err := os.Stat(filepath.Join(p, vit.ConfigFile)); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// group writes n with thousands separators, as Python's "{:,d}".
func group(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// inspectAdapterJSON writes inspectAdapter's content as one JSON line.
func inspectAdapterJSON(dir, base string, a *glora.Adapter, w io.Writer) error {
	support, head := a.Params()
	out := map[string]any{"adapter": dir, "supernet": a.Supernet, "rank": a.R, "layers": len(a.Layers),
		"support_params": support, "head_params": head, "trainable_params": support + head,
		"base_model_name_or_path": a.BaseModel, "labels": a.Labels}
	if a.Supernet {
		out["ranks"] = a.Ranks
	} else {
		out["structure"] = a.Structure
	}
	m, from, err := adapterBase(dir, base, a.BaseModel)
	if err != nil {
		return err
	}
	if m != nil {
		all := m.Store.Count(false) + support + head
		out["base"], out["all_params"] = from, all
		out["trainable_percent"] = 100 * float64(support+head) / float64(all)
	}
	fmt.Fprintln(w, jsonLine(out))
	return nil
}
