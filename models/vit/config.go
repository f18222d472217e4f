// Package vit is a Vision Transformer matching timm's VisionTransformer:
// patch embedding, cls token, learned position embedding, pre-norm blocks
// with fused attn.qkv, attn.proj, mlp.fc1, mlp.fc2, a final norm and a
// linear head. Parameter names are timm's, so a timm checkpoint loads by name.
package vit

import (
	"fmt"
	"sort"
	"strings"
)

// Config sizes a ViT.
type Config struct {
	ImageSize  int       `json:"img_size"`
	PatchSize  int       `json:"patch_size"`
	InChans    int       `json:"in_chans"`
	Dim        int       `json:"embed_dim"`
	Depth      int       `json:"depth"`
	Heads      int       `json:"num_heads"`
	MLPRatio   float64   `json:"mlp_ratio"`
	NumClasses int       `json:"num_classes"`
	QKVBias    bool      `json:"qkv_bias"`
	LNEps      float32   `json:"layer_norm_eps"`
	TanhGELU   bool      `json:"tanh_gelu"`      // GELU's tanh form instead of exact erf
	DropPath   float32   `json:"drop_path_rate"` // stochastic depth, linearly increasing over blocks
	Mean       []float32 `json:"mean"`           // input normalisation per channel
	Std        []float32 `json:"std"`
	// How images are resized to the input, from the checkpoint's own
	// preprocessing (timm's pretrained_cfg, transformers'
	// preprocessor_config.json); not part of the architecture:
	// CropPct > 0 resizes the shorter side to floor(ImageSize/CropPct) and
	// cuts out the centre (timm's crop_pct), 0 squashes; Interpolation is
	// "" (bicubic, glora's default) or "bilinear".
	CropPct       float64 `json:"-"`
	Interpolation string  `json:"-"`
}

// Tokens is the sequence length: patches plus the cls token.
func (c Config) Tokens() int { n := c.ImageSize / c.PatchSize; return n*n + 1 }

// MLPDim is the hidden width of each block's MLP.
func (c Config) MLPDim() int { return int(float64(c.Dim)*c.MLPRatio + 0.5) }

// Validate checks that the sizes fit together.
func (c Config) Validate() error {
	switch {
	case c.ImageSize <= 0 || c.PatchSize <= 0 || c.ImageSize%c.PatchSize != 0:
		return fmt.Errorf("vit config: image size %d must be a positive multiple of patch size %d", c.ImageSize, c.PatchSize)
	case c.InChans <= 0:
		return fmt.Errorf("vit config: in_chans %d must be positive", c.InChans)
	case c.Dim <= 0 || c.Heads <= 0 || c.Dim%c.Heads != 0:
		return fmt.Errorf("vit config: embed_dim %d must be a positive multiple of num_heads %d", c.Dim, c.Heads)
	case c.Depth < 0 || c.MLPRatio <= 0:
		return fmt.Errorf("vit config: depth %d and mlp_ratio %g must be positive", c.Depth, c.MLPRatio)
	case c.NumClasses < 0:
		return fmt.Errorf("vit config: num_classes %d must be ≥ 0", c.NumClasses)
	case len(c.Mean) != c.InChans || len(c.Std) != c.InChans:
		return fmt.Errorf("vit config: mean %v and std %v need %d values (one per channel)", c.Mean, c.Std, c.InChans)
	case c.DropPath < 0 || c.DropPath >= 1:
		return fmt.Errorf("vit config: drop_path_rate %g must be in [0,1)", c.DropPath)
	}
	for _, s := range c.Std {
		if s <= 0 {
			return fmt.Errorf("vit config: std %v must be positive", c.Std)
		}
	}
	return nil
}

var imagenetMean, imagenetStd = []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}

func base(dim, depth, heads int) Config {
	return Config{ImageSize: 224, PatchSize: 16, InChans: 3, Dim: dim, Depth: depth, Heads: heads,
		MLPRatio: 4, NumClasses: 1000, QKVBias: true, LNEps: 1e-6,
		Mean: imagenetMean, Std: imagenetStd}
}

// Presets are the named configurations.
var Presets = map[string]Config{
	"vit-tiny":  base(192, 12, 3),
	"vit-small": base(384, 12, 6),
	"vit-base":  base(768, 12, 12),
	// The architecture of glora's shipped backbone (28×28 grayscale, patch
	// 4); the trained backbone itself is in package backbones.
	"vit-fmnist-arch": {ImageSize: 28, PatchSize: 4, InChans: 1, Dim: 128, Depth: 6, Heads: 4, MLPRatio: 2,
		NumClasses: 10, QKVBias: true, LNEps: 1e-6, Mean: []float32{0.2860}, Std: []float32{0.3530}},
	"vit-micro": {ImageSize: 16, PatchSize: 4, InChans: 1, Dim: 32, Depth: 2, Heads: 2, MLPRatio: 2,
		NumClasses: 10, QKVBias: true, LNEps: 1e-6, Mean: []float32{0.5}, Std: []float32{0.5}},
	// Their colour counterparts, for small RGB images (photos are resized
	// to the input as they are read): vit-fmnist's body on 3×32×32 (patch 4)
	// or 3×64×64 (patch 8, the same 64 patches), ImageNet's mean/std; and
	// vit-micro on 3×16×16.
	"vit-rgb32": small(32, 4, 3, 128, 6, 4),
	"vit-rgb64": small(64, 8, 3, 128, 6, 4),
	"vit-micro-rgb": {ImageSize: 16, PatchSize: 4, InChans: 3, Dim: 32, Depth: 2, Heads: 2, MLPRatio: 2,
		NumClasses: 10, QKVBias: true, LNEps: 1e-6, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}},
}

// small is a small RGB ViT: mlp_ratio 2, 10 classes, ImageNet's mean/std.
func small(img, patch, chans, dim, depth, heads int) Config {
	return Config{ImageSize: img, PatchSize: patch, InChans: chans, Dim: dim, Depth: depth, Heads: heads, MLPRatio: 2,
		NumClasses: 10, QKVBias: true, LNEps: 1e-6, Mean: imagenetMean, Std: imagenetStd}
}

// Preset returns a copy of the named preset.
func Preset(name string) (Config, error) {
	c, ok := Presets[name]
	if !ok {
		names := make([]string, 0, len(Presets))
		for n := range Presets {
			names = append(names, n)
		}
		sort.Strings(names)
		return Config{}, fmt.Errorf("unknown ViT preset %q (known: %s)", name, strings.Join(names, ", "))
	}
	c.Mean = append([]float32(nil), c.Mean...)
	c.Std = append([]float32(nil), c.Std...)
	return c, nil
}

// ParamCount is the number of scalar parameters a model of this config has
// (as a float64, so that absurd configs cannot overflow).
func (c Config) ParamCount() float64 {
	d, h := float64(c.Dim), float64(c.MLPDim())
	p := float64(c.PatchSize * c.PatchSize * c.InChans)
	n := d*p + d + d + float64(c.Tokens())*d // patch embedding, cls, pos
	qkvBias := 0.0
	if c.QKVBias {
		qkvBias = 3 * d
	}
	block := 4*d + 3*d*d + qkvBias + d*d + d + d*h + h + h*d + d
	n += float64(c.Depth)*block + 2*d
	if c.NumClasses > 0 {
		n += float64(c.NumClasses) * (d + 1)
	}
	return n
}
