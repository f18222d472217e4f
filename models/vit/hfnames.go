package vit

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/glora/glora/tensor"
)

// Tensor names. glora's model uses timm's names; a transformers checkpoint
// (ViTForImageClassification with prefix "vit.", ViTModel with none) is
// renamed on load and on save as follows (N is the block index, D = dim):
//
//	glora / timm                  transformers                                        shape
//	patch_embed.proj.weight       vit.embeddings.patch_embeddings.projection.weight   (D, C, P, P)
//	patch_embed.proj.bias         vit.embeddings.patch_embeddings.projection.bias     (D)
//	cls_token                     vit.embeddings.cls_token                            (1, 1, D)
//	pos_embed                     vit.embeddings.position_embeddings                  (1, T, D)
//	blocks.N.norm1.{weight,bias}  vit.encoder.layer.N.layernorm_before.*              (D)
//	blocks.N.attn.qkv.weight      vit.encoder.layer.N.attention.attention.            (3D, D) =
//	                                {query,key,value}.weight, stacked in that order      3×(D, D)
//	blocks.N.attn.qkv.bias        …attention.attention.{query,key,value}.bias         (3D) = 3×(D)
//	blocks.N.attn.proj.*          vit.encoder.layer.N.attention.output.dense.*        (D, D), (D)
//	blocks.N.norm2.*              vit.encoder.layer.N.layernorm_after.*               (D)
//	blocks.N.mlp.fc1.*            vit.encoder.layer.N.intermediate.dense.*            (H, D), (H)
//	blocks.N.mlp.fc2.*            vit.encoder.layer.N.output.dense.*                  (D, H), (D)
//	norm.{weight,bias}            vit.layernorm.*                                     (D)
//	head.{weight,bias}            classifier.*  (never prefixed)                      (K, D), (K)
//
// qkv rows [0,D) are the query, [D,2D) the key and [2D,3D) the value, as in
// timm's fused Linear and transformers' convert_vit_timm_to_pytorch.py.
// transformers applies its final layernorm to every token and classifies
// token 0; glora normalises token 0 only, which is the same (LayerNorm is
// per token).
//
// Tolerated transformers tensors that glora does not use (kept in
// Checkpoint.Passthrough, prefix-less, and written back with the current
// prefix when saving in transformers naming): pooler.dense.{weight,bias}
// (ViTModel's tanh pooler) and embeddings.mask_token.

// hfPair is a timm name and its transformers name without prefix.
type hfPair struct{ timm, hf string }

var (
	hfTop = []hfPair{
		{"patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight"},
		{"patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias"},
		{"cls_token", "embeddings.cls_token"},
		{"pos_embed", "embeddings.position_embeddings"},
		{"norm.weight", "layernorm.weight"},
		{"norm.bias", "layernorm.bias"},
	}
	hfHead = []hfPair{{"head.weight", "classifier.weight"}, {"head.bias", "classifier.bias"}}
	// hfBlock maps per-block suffixes (after "blocks.N." / "encoder.layer.N.").
	hfBlock = []hfPair{
		{"norm1.weight", "layernorm_before.weight"},
		{"norm1.bias", "layernorm_before.bias"},
		{"attn.proj.weight", "attention.output.dense.weight"},
		{"attn.proj.bias", "attention.output.dense.bias"},
		{"norm2.weight", "layernorm_after.weight"},
		{"norm2.bias", "layernorm_after.bias"},
		{"mlp.fc1.weight", "intermediate.dense.weight"},
		{"mlp.fc1.bias", "intermediate.dense.bias"},
		{"mlp.fc2.weight", "output.dense.weight"},
		{"mlp.fc2.bias", "output.dense.bias"},
	}
	hfQKV = [3]string{"query", "key", "value"}
	// hfHarmless are prefix-less transformers names glora tolerates and ignores.
	hfHarmless = map[string]bool{
		"pooler.dense.weight":   true,
		"pooler.dense.bias":     true,
		"embeddings.mask_token": true,
	}
)

// timmNames lists the parameter names of a model with config c, in the
// order New creates them.
func timmNames(c Config) []string {
	names := []string{"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed"}
	for i := 0; i < c.Depth; i++ {
		p := "blocks." + strconv.Itoa(i) + "."
		names = append(names, p+"norm1.weight", p+"norm1.bias", p+"attn.qkv.weight")
		if c.QKVBias {
			names = append(names, p+"attn.qkv.bias")
		}
		names = append(names, p+"attn.proj.weight", p+"attn.proj.bias", p+"norm2.weight", p+"norm2.bias",
			p+"mlp.fc1.weight", p+"mlp.fc1.bias", p+"mlp.fc2.weight", p+"mlp.fc2.bias")
	}
	names = append(names, "norm.weight", "norm.bias")
	if c.NumClasses > 0 {
		names = append(names, "head.weight", "head.bias")
	}
	return names
}

// isHFName reports whether a tensor name is in transformers' ViT naming.
func isHFName(name string) bool {
	for _, p := range []string{"vit.", "embeddings.", "encoder.layer.", "classifier.", "layernorm.", "pooler."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// hfPrefixOf returns "vit." when the names carry ViTForImageClassification's
// prefix, else "" (ViTModel).
func hfPrefixOf(names []string) string {
	for _, n := range names {
		if strings.HasPrefix(n, "vit.") {
			return "vit."
		}
	}
	return ""
}

// hfSource records which transformers names a timm tensor came from, for
// error messages.
type hfSource map[string]string

// fromHF renames transformers tensors (names with prefix) to timm names,
// concatenating query/key/value into qkv: qkv = [q; k; v] along rows.
// It returns the renamed tensors, the tolerated extras (prefix-less names),
// the names it could not place (sorted), and where each timm tensor came
// from. A qkv with some but not all of its parts, or parts of unequal shape,
// is an error.
func fromHF(in map[string]*tensor.Tensor, prefix string) (out, extra map[string]*tensor.Tensor, unknown []string, src hfSource, err error) {
	out, extra, src = map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}, hfSource{}
	byHF := map[string]string{}
	for _, p := range hfTop {
		byHF[prefix+p.hf] = p.timm
	}
	for _, p := range hfHead {
		byHF[p.hf] = p.timm
	}
	type qkvParts struct{ t [3]*tensor.Tensor }
	qkv := map[string]*qkvParts{} // timm name → parts
	layerPrefix := prefix + "encoder.layer."
	names := make([]string, 0, len(in))
	for n := range in {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t := in[name]
		if tn, ok := byHF[name]; ok {
			out[tn], src[tn] = t, name
			continue
		}
		if rest, ok := strings.CutPrefix(name, prefix); ok && hfHarmless[rest] {
			extra[rest] = t
			continue
		}
		idx, suffix, ok := splitLayer(name, layerPrefix)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		blk := "blocks." + strconv.Itoa(idx) + "."
		placed := false
		for _, p := range hfBlock {
			if suffix == p.hf {
				out[blk+p.timm], src[blk+p.timm] = t, name
				placed = true
				break
			}
		}
		for j, part := range hfQKV {
			for _, kind := range []string{"weight", "bias"} {
				if suffix == "attention.attention."+part+"."+kind {
					tn := blk + "attn.qkv." + kind
					q := qkv[tn]
					if q == nil {
						q = &qkvParts{}
						qkv[tn] = q
					}
					q.t[j] = t
					src[tn] = layerPrefix + strconv.Itoa(idx) + ".attention.attention.{query,key,value}." + kind
					placed = true
				}
			}
		}
		if !placed {
			unknown = append(unknown, name)
		}
	}
	qnames := make([]string, 0, len(qkv))
	for n := range qkv {
		qnames = append(qnames, n)
	}
	sort.Strings(qnames)
	for _, tn := range qnames {
		parts := qkv[tn].t
		for j, p := range parts {
			if p == nil {
				return nil, nil, nil, nil, fmt.Errorf("tensor %q missing (needed with the others for %s)",
					strings.Replace(src[tn], "{query,key,value}", hfQKV[j], 1), tn)
			}
			if !tensor.SameShape(p.Shape, parts[0].Shape) || len(p.Shape) == 0 {
				return nil, nil, nil, nil, fmt.Errorf("tensors %s have unequal shapes %s, %s, %s",
					src[tn], tensor.ShapeString(parts[0].Shape), tensor.ShapeString(parts[1].Shape), tensor.ShapeString(parts[2].Shape))
			}
		}
		shape := append([]int{3 * parts[0].Shape[0]}, parts[0].Shape[1:]...)
		cat := &tensor.Tensor{Shape: shape, Data: make([]float32, 0, 3*len(parts[0].Data))}
		for _, p := range parts {
			cat.Data = append(cat.Data, p.Data...)
		}
		out[tn] = cat
	}
	return out, extra, unknown, src, nil
}

// toHF renames timm tensors to transformers names with prefix, splitting
// qkv (3D, ...) into query, key, value (D, ...) row blocks. The split tensors
// share storage with the input. Names it does not know are an error.
func toHF(in map[string]*tensor.Tensor, prefix string) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(in)+2*len(in)/12)
	byTimm := map[string]string{}
	for _, p := range hfTop {
		byTimm[p.timm] = prefix + p.hf
	}
	for _, p := range hfHead {
		byTimm[p.timm] = p.hf
	}
	for name, t := range in {
		if hn, ok := byTimm[name]; ok {
			out[hn] = t
			continue
		}
		idx, suffix, ok := splitLayer(name, "blocks.")
		if !ok {
			return nil, fmt.Errorf("tensor %q has no transformers name", name)
		}
		layer := prefix + "encoder.layer." + strconv.Itoa(idx) + "."
		if kind, ok := strings.CutPrefix(suffix, "attn.qkv."); ok && (kind == "weight" || kind == "bias") {
			if len(t.Shape) == 0 || t.Shape[0]%3 != 0 {
				return nil, fmt.Errorf("tensor %q has shape %s, want 3·D rows", name, tensor.ShapeString(t.Shape))
			}
			n := len(t.Data) / 3
			shape := append([]int{t.Shape[0] / 3}, t.Shape[1:]...)
			for j, part := range hfQKV {
				out[layer+"attention.attention."+part+"."+kind] = &tensor.Tensor{
					Shape: append([]int(nil), shape...), Data: t.Data[j*n : (j+1)*n : (j+1)*n]}
			}
			continue
		}
		found := false
		for _, p := range hfBlock {
			if suffix == p.timm {
				out[layer+p.hf] = t
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("tensor %q has no transformers name", name)
		}
	}
	return out, nil
}

// splitLayer parses "<prefix>N.<suffix>".
func splitLayer(name, prefix string) (idx int, suffix string, ok bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, "", false
	}
	num, suffix, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	idx, err := strconv.Atoi(num)
	if err != nil || idx < 0 || strconv.Itoa(idx) != num {
		return 0, "", false
	}
	return idx, suffix, true
}
