package vit

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/glora/glora/safetensors"
)

// transformers' ViTConfig (config.json, keys sorted):
//
//	{"architectures": ["ViTForImageClassification"], "model_type": "vit",
//	 "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
//	 "intermediate_size": 3072, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
//	 "image_size": 224, "patch_size": 16, "num_channels": 3, "qkv_bias": true,
//	 "id2label": {"0": ..., ...}, "label2id": {...}, ...}
//
// Absent fields take ViTConfig's defaults (those values). The class count
// is len(id2label), else num_labels, else transformers' default 2; a
// "ViTModel" (headless) checkpoint has none. hidden_act "gelu" is the exact
// GELU; "gelu_new", "gelu_pytorch_tanh" and "gelu_fast" are its tanh form.
// Mean and std come from preprocessor_config.json's image_mean / image_std
// (ViTImageProcessor's default 0.5 when absent; 0 and 1 when do_normalize
// is false).

const (
	hfClassifier = "ViTForImageClassification"
	hfBase       = "ViTModel"
)

var hfOwned = []string{"architectures", "model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
	"intermediate_size", "image_size", "patch_size", "num_channels", "layer_norm_eps", "hidden_act",
	"qkv_bias", "num_labels"}

// parseHF reads a transformers config.json object and, when pre is
// non-nil, its preprocessor_config.json object.
func parseHF(raw, pre map[string]any) (Checkpoint, error) {
	ck := Checkpoint{Dialect: Transformers, Naming: Transformers}
	if mt, _, err := getString(raw, "model_type"); err != nil {
		return ck, err
	} else if mt != "" && mt != "vit" {
		return ck, fmt.Errorf("model_type %q is not a ViT (want \"vit\")", mt)
	}
	if v, ok := raw["architectures"]; ok && v != nil {
		l, isList := v.([]any)
		if !isList || len(l) == 0 {
			return ck, fmt.Errorf("field \"architectures\": want a list of names, have %s", jsonText(v))
		}
		if s, isStr := l[0].(string); isStr {
			ck.Architecture = s
		}
		switch ck.Architecture {
		case hfClassifier, hfBase:
		default:
			return ck, fmt.Errorf("architecture %q is not supported (want %s or %s)", ck.Architecture, hfClassifier, hfBase)
		}
	}
	c := Config{ImageSize: 224, PatchSize: 16, InChans: 3, Dim: 768, Depth: 12, Heads: 12,
		QKVBias: true, LNEps: 1e-12, NumClasses: 2}
	inter := 3072
	var errs []error
	for _, f := range []struct {
		dst *int
		key string
	}{{&c.Dim, "hidden_size"}, {&c.Depth, "num_hidden_layers"}, {&c.Heads, "num_attention_heads"},
		{&inter, "intermediate_size"}, {&c.PatchSize, "patch_size"}, {&c.InChans, "num_channels"},
		{&c.NumClasses, "num_labels"}} {
		if v, ok, err := getInt(raw, f.key); err != nil {
			errs = append(errs, err)
		} else if ok {
			*f.dst = v
		}
	}
	if v, ok, err := getSize(raw, "image_size"); err != nil {
		errs = append(errs, err)
	} else if ok {
		c.ImageSize = v
	}
	if v, ok, err := getFloat(raw, "layer_norm_eps"); err != nil {
		errs = append(errs, err)
	} else if ok {
		c.LNEps = float32(v)
	}
	if v, ok, err := getBool(raw, "qkv_bias"); err != nil {
		errs = append(errs, err)
	} else if ok {
		c.QKVBias = v
	}
	act, _, err := getString(raw, "hidden_act")
	switch {
	case err != nil:
		errs = append(errs, err)
	case act == "" || act == "gelu":
	case act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast":
		c.TanhGELU = true
		ck.act = act
	default:
		errs = append(errs, fmt.Errorf("hidden_act %q is not supported (want gelu, gelu_new or gelu_pytorch_tanh)", act))
	}
	if id2label, ok, err := getObject(raw, "id2label"); err != nil {
		errs = append(errs, err)
	} else if ok {
		c.NumClasses = len(id2label)
	}
	if ck.Architecture == hfBase {
		c.NumClasses = 0
	}
	if len(errs) > 0 {
		return ck, errs[0]
	}
	if c.Dim <= 0 {
		return ck, fmt.Errorf("hidden_size %d must be positive", c.Dim)
	}
	c.MLPRatio = float64(inter) / float64(c.Dim)
	if c.MLPDim() != inter {
		return ck, fmt.Errorf("intermediate_size %d is not representable for hidden_size %d", inter, c.Dim)
	}
	c.Mean, c.Std = fill(0.5, c.InChans), fill(0.5, c.InChans) // transformers' default
	if pre != nil {
		if err := hfPreprocessor(&ck, &c, pre); err != nil {
			return ck, err
		}
	}
	ck.Config = c
	ck.Extra = copyObject(raw)
	for _, k := range hfOwned {
		delete(ck.Extra, k)
	}
	ck.Labels = takeHFLabels(ck.Extra, c.NumClasses)
	return ck, nil
}

// hfPreprocessor reads preprocessor_config.json (pre) into c's
// normalisation (none with do_normalize false) and keeps it in ck.
func hfPreprocessor(ck *Checkpoint, c *Config, pre map[string]any) error {
	var errs []error
	norm, ok, err := getBool(pre, "do_normalize")
	if err != nil {
		return fmt.Errorf("preprocessor: %w", err)
	}
	if ok && !norm {
		c.Mean, c.Std = fill(0, c.InChans), fill(1, c.InChans)
	} else {
		c.Mean, errs = floatsN(pre, "image_mean", c.InChans, c.Mean, errs)
		c.Std, errs = floatsN(pre, "image_std", c.InChans, c.Std, errs)
		if len(errs) > 0 {
			return fmt.Errorf("preprocessor: %w", errs[0])
		}
	}
	ck.Preprocessor = copyObject(pre)
	delete(ck.Preprocessor, "image_mean")
	delete(ck.Preprocessor, "image_std")
	return nil
}

func fill(v float32, n int) []float32 {
	out := make([]float32, max(n, 0))
	for i := range out {
		out[i] = v
	}
	return out
}

func floatsN(m map[string]any, key string, n int, def []float32, errs []error) ([]float32, []error) {
	v, ok, err := getFloats(m, key, n)
	if err != nil {
		return def, append(errs, err)
	}
	if !ok {
		return def, errs
	}
	return v, errs
}

// hfArchitecture is the transformers class a model with classes outputs maps to.
func hfArchitecture(classes int) string {
	if classes > 0 {
		return hfClassifier
	}
	return hfBase
}

// hfPrefix is the tensor-name prefix of that class.
func hfPrefix(classes int) string {
	if classes > 0 {
		return "vit."
	}
	return ""
}

// hfConfigJSON builds config.json in transformers' layout for c.
func hfConfigJSON(c Config, ck Checkpoint, dtype safetensors.DType) map[string]any {
	out := copyObject(ck.Extra)
	out["architectures"] = []any{hfArchitecture(c.NumClasses)}
	out["model_type"] = "vit"
	out["hidden_size"] = numInt(c.Dim)
	out["num_hidden_layers"] = numInt(c.Depth)
	out["num_attention_heads"] = numInt(c.Heads)
	out["intermediate_size"] = numInt(c.MLPDim())
	out["image_size"] = numInt(c.ImageSize)
	out["patch_size"] = numInt(c.PatchSize)
	out["num_channels"] = numInt(c.InChans)
	out["layer_norm_eps"] = numF32(c.LNEps)
	out["qkv_bias"] = c.QKVBias
	act := "gelu"
	if c.TanhGELU {
		act = ck.act
		if act == "" {
			act = "gelu_pytorch_tanh"
		}
	}
	out["hidden_act"] = act
	if _, ok := out["torch_dtype"]; ok {
		out["torch_dtype"] = map[safetensors.DType]string{safetensors.F32: "float32",
			safetensors.F16: "float16", safetensors.BF16: "bfloat16"}[dtype]
	}
	if c.NumClasses == 0 {
		delete(out, "id2label")
		delete(out, "label2id")
		return out
	}
	id2label, label2id := hfLabelMaps(out, ck.Labels, c.NumClasses)
	out["id2label"], out["label2id"] = id2label, label2id
	return out
}

// labelsFit reports whether id2label has exactly the keys "0".."n-1".
func labelsFit(id2label map[string]any, n int) bool {
	if len(id2label) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if _, ok := id2label[strconv.Itoa(i)]; !ok {
			return false
		}
	}
	return true
}

// hfPreprocessorJSON builds preprocessor_config.json (ViTImageProcessor).
func hfPreprocessorJSON(c Config, ck Checkpoint) map[string]any {
	out := ck.Preprocessor
	if out == nil {
		// resample 3 is PIL's bicubic: what glora resizes with (2, bilinear,
		// is ViTImageProcessor's default, but not how this model was fed).
		out = map[string]any{"do_normalize": true, "do_rescale": true, "do_resize": true,
			"image_processor_type": "ViTImageProcessor", "resample": numInt(3),
			"rescale_factor": json.Number("0.00392156862745098")}
	}
	out = copyObject(out)
	out["image_mean"], out["image_std"] = listF32(c.Mean), listF32(c.Std)
	switch s := out["size"].(type) {
	case map[string]any:
		if _, ok := s["shortest_edge"]; ok {
			s["shortest_edge"] = numInt(c.ImageSize)
		} else {
			s["height"], s["width"] = numInt(c.ImageSize), numInt(c.ImageSize)
		}
	default:
		if s != nil {
			out["size"] = numInt(c.ImageSize)
		} else {
			out["size"] = map[string]any{"height": numInt(c.ImageSize), "width": numInt(c.ImageSize)}
		}
	}
	// The evaluation transform (Config.CropPct, Interpolation), so that
	// transformers prepares images as the model was fed.
	if c.CropPct > 0 {
		out["do_resize"], out["do_center_crop"] = true, true
		out["size"] = map[string]any{"shortest_edge": numInt(int(math.Floor(float64(c.ImageSize)/c.CropPct + 1e-9)))}
		out["crop_size"] = map[string]any{"height": numInt(c.ImageSize), "width": numInt(c.ImageSize)}
	} else if out["do_center_crop"] == true {
		out["do_center_crop"] = false
	}
	out["resample"] = numInt(3)
	if c.Interpolation == "bilinear" {
		out["resample"] = numInt(2)
	}
	return out
}
