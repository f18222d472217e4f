package vit

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// timm's config.json, as timm.models.push_to_hf_hub writes it:
//
//	{"architecture": "vit_tiny_patch16_224", "num_classes": 1000, "num_features": 192,
//	 "global_pool": "token", "model_args": {...}  (optional: kwargs for create_model),
//	 "pretrained_cfg": {"input_size": [3, 224, 224], "mean": [...], "std": [...],
//	                    "num_classes": 1000, "tag": ..., "crop_pct": ..., ...}}
//
// Sizes come from, in increasing precedence: the architecture name
// (vit|deit)_(tiny|small|base|large|huge)_patch<P>_<S>, pretrained_cfg's
// input_size (timm passes it as img_size / in_chans), and model_args. An
// unknown architecture name needs model_args with embed_dim, depth and
// num_heads; the other sizes then take VisionTransformer's defaults (224,
// 16, 3, mlp_ratio 4, qkv_bias true). LayerNorm eps is timm ViT's 1e-6 and
// GELU the exact form (act_layer "gelu_tanh" selects the tanh form).

const timmLNEps = float32(1e-6)

var timmArchRE = regexp.MustCompile(`^(vit|deit)_(tiny|small|base|large|huge)_patch(\d+)_(\d+)$`)

var timmSizes = map[string][3]int{ // dim, depth, heads
	"tiny": {192, 12, 3}, "small": {384, 12, 6}, "base": {768, 12, 12},
	"large": {1024, 24, 16}, "huge": {1280, 32, 16},
}

// timmArch returns the config an architecture name implies (1000 classes,
// mean/std of timm's default pretrained_cfg) and whether the name is known.
func timmArch(arch string) (Config, bool) {
	arch, _, _ = strings.Cut(arch, ".") // "vit_tiny_patch16_224.augreg_in21k" → name without tag
	c := Config{ImageSize: 224, PatchSize: 16, InChans: 3, Dim: 768, Depth: 12, Heads: 12, MLPRatio: 4,
		NumClasses: 1000, QKVBias: true, LNEps: timmLNEps,
		Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}}
	m := timmArchRE.FindStringSubmatch(arch)
	if m == nil {
		return c, false
	}
	sz := timmSizes[m[2]]
	c.Dim, c.Depth, c.Heads = sz[0], sz[1], sz[2]
	c.PatchSize, _ = strconv.Atoi(m[3])
	c.ImageSize, _ = strconv.Atoi(m[4])
	if m[1] == "deit" {
		c.Mean, c.Std = append([]float32(nil), imagenetMean...), append([]float32(nil), imagenetStd...)
	}
	return c, true
}

// timmArchName names the timm architecture with c's sizes when one is
// registered under the regular pattern, else "vit_base_patch16_224" (its
// sizes are then overridden by model_args).
func timmArchName(c Config) string {
	for size, s := range timmSizes {
		if s == [3]int{c.Dim, c.Depth, c.Heads} && c.MLPRatio == 4 && c.InChans == 3 &&
			(c.ImageSize == 224 || c.ImageSize == 384) && (c.PatchSize == 8 || c.PatchSize == 14 || c.PatchSize == 16 || c.PatchSize == 32) {
			return fmt.Sprintf("vit_%s_patch%d_%d", size, c.PatchSize, c.ImageSize)
		}
	}
	return "vit_base_patch16_224"
}

var (
	timmTopOwned  = []string{"architecture", "num_classes", "num_features", "global_pool"}
	timmArgsOwned = []string{"img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads",
		"mlp_ratio", "qkv_bias", "num_classes", "drop_path_rate", "act_layer", "global_pool"}
	timmPCOwned = []string{"input_size", "mean", "std", "num_classes"}
)

// parseTimm reads a timm config.json object.
func parseTimm(raw map[string]any) (Checkpoint, error) {
	ck := Checkpoint{Dialect: Timm, Naming: Timm}
	arch, _, err := getString(raw, "architecture")
	if err != nil {
		return ck, err
	}
	ck.Architecture = arch
	c, known := timmArch(arch)
	args, hasArgs, err := getObject(raw, "model_args")
	if err != nil {
		return ck, err
	}
	pc, _, err := getObject(raw, "pretrained_cfg")
	if err != nil {
		return ck, err
	}
	if !known {
		if !hasArgs {
			return ck, fmt.Errorf("architecture %q is not a known ViT name and there are no model_args to size it", arch)
		}
		for _, k := range []string{"embed_dim", "depth", "num_heads"} {
			if _, ok := args[k]; !ok {
				return ck, fmt.Errorf("architecture %q is not a known ViT name: model_args needs %q", arch, k)
			}
		}
	}
	var errs []error
	setInt := func(dst *int, m map[string]any, key string) {
		if v, ok, err := getInt(m, key); err != nil {
			errs = append(errs, err)
		} else if ok {
			*dst = v
		}
	}
	// pretrained_cfg.
	if pc != nil {
		if in, ok, err := getFloats(pc, "input_size", 0); err != nil {
			errs = append(errs, fmt.Errorf("pretrained_cfg: %w", err))
		} else if ok {
			if len(in) != 3 || in[1] != in[2] {
				errs = append(errs, fmt.Errorf("pretrained_cfg: input_size %v: want [C, S, S]", in))
			} else {
				c.InChans, c.ImageSize = int(in[0]), int(in[1])
			}
		}
		setInt(&c.NumClasses, pc, "num_classes")
	}
	setInt(&c.NumClasses, raw, "num_classes")
	errs = append(errs, timmModelArgs(&c, args)...)
	for _, m := range []map[string]any{raw, args} {
		if gp, _, err := getString(m, "global_pool"); err != nil {
			errs = append(errs, err)
		} else if gp != "" && gp != "token" {
			errs = append(errs, fmt.Errorf("global_pool %q is not supported (glora classifies the cls token)", gp))
		}
	}
	if pc != nil {
		c.Mean, errs = floatsOr(pc, "mean", c.Mean, errs)
		c.Std, errs = floatsOr(pc, "std", c.Std, errs)
	}
	c.Mean, c.Std = fitChannels(c.Mean, c.InChans), fitChannels(c.Std, c.InChans)
	if nf, ok, err := getInt(raw, "num_features"); err != nil {
		errs = append(errs, err)
	} else if ok && nf != c.Dim {
		errs = append(errs, fmt.Errorf("num_features %d disagrees with embed_dim %d", nf, c.Dim))
	}
	if len(errs) > 0 {
		return ck, errs[0]
	}
	ck.Config = c
	ck.Extra = timmExtra(raw, args, pc)
	ck.Labels, ck.labelsAt = takeTimmLabels(ck.Extra, c.NumClasses)
	return ck, nil
}

// timmModelArgs reads timm's model_args (nil: none) into c.
func timmModelArgs(c *Config, args map[string]any) []error {
	if args == nil {
		return nil
	}
	var errs []error
	setInt := func(dst *int, key string) {
		if v, ok, err := getInt(args, key); err != nil {
			errs = append(errs, err)
		} else if ok {
			*dst = v
		}
	}
	if v, ok, err := getSize(args, "img_size"); err != nil {
		errs = append(errs, err)
	} else if ok {
		c.ImageSize = v
	}
	setInt(&c.PatchSize, "patch_size")
	setInt(&c.InChans, "in_chans")
	setInt(&c.Dim, "embed_dim")
	setInt(&c.Depth, "depth")
	setInt(&c.Heads, "num_heads")
	setInt(&c.NumClasses, "num_classes")
	if v, ok, err := getFloat(args, "mlp_ratio"); err != nil {
		errs = append(errs, err)
	} else if ok {
		c.MLPRatio = v
	}
	if v, ok, err := getBool(args, "qkv_bias"); err != nil {
		errs = append(errs, err)
	} else if ok {
		c.QKVBias = v
	}
	if v, ok, err := getFloat(args, "drop_path_rate"); err != nil {
		errs = append(errs, err)
	} else if ok {
		c.DropPath = float32(v)
	}
	if act, _, err := getString(args, "act_layer"); err != nil {
		errs = append(errs, err)
	} else {
		switch act {
		case "", "gelu":
		case "gelu_tanh":
			c.TanhGELU = true
		default:
			errs = append(errs, fmt.Errorf("model_args: act_layer %q is not supported (want gelu or gelu_tanh)", act))
		}
	}
	errs = append(errs, timmUnsupported(args)...)
	return errs
}

// timmExtra is what glora keeps of a timm config.json without reading it:
// every key but the ones it owns, at the top and in model_args and
// pretrained_cfg (written back as they came).
func timmExtra(raw, args, pc map[string]any) map[string]any {
	extra := copyObject(raw)
	for _, k := range timmTopOwned {
		delete(extra, k)
	}
	if args != nil {
		a := copyObject(args)
		for _, k := range timmArgsOwned {
			delete(a, k)
		}
		extra["model_args"] = a
	}
	if pc != nil {
		p := copyObject(pc)
		for _, k := range timmPCOwned {
			delete(p, k)
		}
		extra["pretrained_cfg"] = p
	}
	return extra
}

// timmUnsupported rejects VisionTransformer options that change the
// architecture away from glora's.
func timmUnsupported(args map[string]any) []error {
	var errs []error
	for _, o := range []struct {
		key  string
		want bool
	}{{"class_token", true}, {"no_embed_class", false}, {"qk_norm", false}, {"pre_norm", false},
		{"fc_norm", false}, {"final_norm", true}, {"dynamic_img_pad", false}} {
		if v, ok, err := getBool(args, o.key); err != nil {
			errs = append(errs, err)
		} else if ok && v != o.want {
			errs = append(errs, fmt.Errorf("model_args: %s=%v is not supported", o.key, v))
		}
	}
	if n, ok, err := getInt(args, "reg_tokens"); err != nil || (ok && n != 0) {
		errs = append(errs, fmt.Errorf("model_args: reg_tokens=%v is not supported", args["reg_tokens"]))
	}
	if v, ok := args["init_values"]; ok && v != nil {
		errs = append(errs, fmt.Errorf("model_args: init_values=%v (layer scale) is not supported", v))
	}
	return errs
}

func floatsOr(m map[string]any, key string, def []float32, errs []error) ([]float32, []error) {
	v, ok, err := getFloats(m, key, 0)
	if err != nil {
		return def, append(errs, err)
	}
	if !ok {
		return def, errs
	}
	return v, errs
}

// fitChannels repeats a default per-channel value list for a channel count
// it was not written for (e.g. the 3-channel 0.5 default for a grayscale
// model); lists of the right length, or of other lengths than 3, are kept
// for Validate to judge.
func fitChannels(v []float32, c int) []float32 {
	if len(v) == c || len(v) != 3 || c <= 0 || v[0] != v[1] || v[1] != v[2] {
		return v
	}
	out := make([]float32, c)
	for i := range out {
		out[i] = v[0]
	}
	return out
}

// timmConfigJSON builds the config.json object for c in timm's layout,
// preserving ck's extra fields.
func timmConfigJSON(c Config, ck Checkpoint) (map[string]any, error) {
	if c.LNEps != timmLNEps {
		return nil, fmt.Errorf("timm's ViT has LayerNorm eps 1e-6; this model uses %g (save it in the transformers dialect)", c.LNEps)
	}
	out := copyObject(ck.Extra)
	arch := ck.Architecture
	if arch == "" {
		arch = timmArchName(c)
	}
	out["architecture"] = arch
	out["num_classes"] = numInt(c.NumClasses)
	out["num_features"] = numInt(c.Dim)
	out["global_pool"] = "token"
	pc := map[string]any{}
	if p, ok := out["pretrained_cfg"].(map[string]any); ok {
		pc = p
	}
	pc["input_size"] = []any{numInt(c.InChans), numInt(c.ImageSize), numInt(c.ImageSize)}
	pc["mean"], pc["std"] = listF32(c.Mean), listF32(c.Std)
	pc["num_classes"] = numInt(c.NumClasses)
	if c.CropPct > 0 { // the evaluation transform, for timm and for glora reading it back
		pc["crop_pct"] = numF64(c.CropPct)
		if _, ok := pc["crop_mode"]; !ok {
			pc["crop_mode"] = "center"
		}
	}
	if c.Interpolation != "" {
		pc["interpolation"] = c.Interpolation
	}
	out["pretrained_cfg"] = pc
	// model_args: kept when the source had them, added when the name alone
	// does not give c's sizes.
	args, hadArgs := out["model_args"].(map[string]any)
	def, _ := timmArch(arch)
	same := def.PatchSize == c.PatchSize && def.Dim == c.Dim && def.Depth == c.Depth && def.Heads == c.Heads &&
		def.MLPRatio == c.MLPRatio && def.QKVBias == c.QKVBias && !c.TanhGELU && c.DropPath == 0
	if hadArgs || !same {
		if args == nil {
			args = map[string]any{}
		}
		args["img_size"] = numInt(c.ImageSize)
		args["patch_size"] = numInt(c.PatchSize)
		args["in_chans"] = numInt(c.InChans)
		args["embed_dim"] = numInt(c.Dim)
		args["depth"] = numInt(c.Depth)
		args["num_heads"] = numInt(c.Heads)
		args["mlp_ratio"] = numF64(c.MLPRatio)
		args["qkv_bias"] = c.QKVBias
		if c.TanhGELU {
			args["act_layer"] = "gelu_tanh"
		}
		if c.DropPath > 0 {
			args["drop_path_rate"] = numF32(c.DropPath)
		}
		out["model_args"] = args
	}
	fixLabelList(out, "label_names", c.NumClasses)
	fixLabelList(pc, "label_names", c.NumClasses)
	putTimmLabels(out, pc, ck.Labels, ck.labelsAt, c.NumClasses)
	return out, nil
}

// fixLabelList drops a label list or map whose size no longer matches the
// class count (after ResetHead).
func fixLabelList(m map[string]any, key string, n int) {
	switch l := m[key].(type) {
	case []any:
		if len(l) != n {
			delete(m, key)
		}
	case map[string]any:
		if len(l) != n {
			delete(m, key)
		}
	}
}
