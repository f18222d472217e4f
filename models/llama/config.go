package llama

import (
	"encoding/json"
	"fmt"
	"math"
)

// Config is a LLaMA-style decoder's shape, in the field names of a Hugging
// Face Llama config.json (LlamaConfig): every field below is read from and
// written to the key in its json tag.
type Config struct {
	VocabSize int     `json:"vocab_size"`
	Dim       int     `json:"hidden_size"`         // model width D
	Hidden    int     `json:"intermediate_size"`   // SwiGLU width
	Layers    int     `json:"num_hidden_layers"`   // decoder layers
	Heads     int     `json:"num_attention_heads"` // query heads H
	KVHeads   int     `json:"num_key_value_heads"` // key/value heads (grouped-query attention; H for multi-head)
	HeadDim   int     `json:"head_dim,omitempty"`  // per head; 0 means Dim/Heads
	MaxSeq    int     `json:"max_position_embeddings"`
	NormEps   float64 `json:"rms_norm_eps"`
	RopeTheta float64 `json:"rope_theta"`
	TiedEmbed bool    `json:"tie_word_embeddings"` // the output layer reuses the token embedding
	BOS       int     `json:"bos_token_id"`
	EOS       int     `json:"eos_token_id"`
	// AttnBias gives q_proj, k_proj, v_proj and o_proj a bias, MLPBias
	// gate_proj, up_proj and down_proj (LlamaConfig's attention_bias and
	// mlp_bias; LLaMA itself has neither, a merged GLoRA, SSF or BitFit
	// adapter that tuned biases has them).
	AttnBias bool `json:"attention_bias"`
	MLPBias  bool `json:"mlp_bias"`
}

// Head is the per-head width: HeadDim if set, else Dim/Heads.
func (c Config) Head() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	if c.Heads <= 0 {
		return 0
	}
	return c.Dim / c.Heads
}

// maxDim bounds every size a file may declare, so that a corrupt header
// cannot make a loader allocate without limit (2^28 floats is 1 GiB; a
// 7B model's largest tensor, its embedding, is 2^27).
const maxDim = 1 << 28

// Validate checks that the sizes describe a model that can be built.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", c.VocabSize}, {"hidden_size", c.Dim}, {"intermediate_size", c.Hidden},
		{"num_hidden_layers", c.Layers}, {"num_attention_heads", c.Heads},
		{"num_key_value_heads", c.KVHeads}, {"max_position_embeddings", c.MaxSeq}} {
		if f.v <= 0 || f.v > maxDim {
			return fmt.Errorf("llama: config: %s = %d must be in [1, %d]", f.name, f.v, maxDim)
		}
	}
	if c.HeadDim < 0 || c.HeadDim > maxDim {
		return fmt.Errorf("llama: config: head_dim = %d is out of range", c.HeadDim)
	}
	if c.HeadDim == 0 && c.Dim%c.Heads != 0 {
		return fmt.Errorf("llama: config: hidden_size %d is not a multiple of num_attention_heads %d", c.Dim, c.Heads)
	}
	if c.Head()%2 != 0 {
		return fmt.Errorf("llama: config: the head size %d must be even (rotary embeddings rotate pairs)", c.Head())
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("llama: config: num_key_value_heads %d must divide num_attention_heads %d", c.KVHeads, c.Heads)
	}
	if c.Heads*c.Head() > maxDim || c.Layers > 1<<12 {
		return fmt.Errorf("llama: config: %d heads of %d or %d layers is too large", c.Heads, c.Head(), c.Layers)
	}
	if !(c.NormEps > 0) || math.IsInf(c.NormEps, 0) {
		return fmt.Errorf("llama: config: rms_norm_eps = %v must be positive", c.NormEps)
	}
	if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("llama: config: rope_theta = %v must be positive", c.RopeTheta)
	}
	for _, t := range []struct {
		name string
		id   int
	}{{"bos_token_id", c.BOS}, {"eos_token_id", c.EOS}} {
		if t.id < -1 || t.id >= c.VocabSize {
			return fmt.Errorf("llama: config: %s = %d is outside the vocabulary of %d (-1 means none)", t.name, t.id, c.VocabSize)
		}
	}
	return nil
}

// Params is the number of parameters of a model with this config.
func (c Config) Params() int {
	hd := c.Head()
	attn := c.Dim*c.Heads*hd*2 + c.Dim*c.KVHeads*hd*2
	mlp := 3 * c.Dim * c.Hidden
	if c.AttnBias {
		attn += c.Heads*hd + 2*c.KVHeads*hd + c.Dim // q, k, v, o
	}
	if c.MLPBias {
		mlp += 2*c.Hidden + c.Dim
	}
	n := c.VocabSize*c.Dim + c.Layers*(attn+mlp+2*c.Dim) + c.Dim
	if !c.TiedEmbed {
		n += c.VocabSize * c.Dim
	}
	return n
}

// Tiny is a small configuration for tests and examples.
func Tiny() Config {
	return Config{VocabSize: 64, Dim: 32, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, MaxSeq: 64,
		NormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2}
}

// hfConfig is config.json as Hugging Face writes it for a Llama model.
// eos_token_id may be a list (LLaMA-3); the first one is used.
type hfConfig struct {
	Config
	EOSRaw        json.RawMessage `json:"eos_token_id"`
	BOSRaw        json.RawMessage `json:"bos_token_id"`
	ModelType     string          `json:"model_type"`
	Architectures []string        `json:"architectures"`
	HiddenAct     string          `json:"hidden_act"`
	RopeScaling   json.RawMessage `json:"rope_scaling"`
	TorchDType    string          `json:"torch_dtype,omitempty"`
}

// configDefaults are LlamaConfig's defaults for keys a config.json may omit.
func configDefaults() Config {
	return Config{MaxSeq: 2048, NormEps: 1e-6, RopeTheta: 10000, BOS: 1, EOS: 2}
}

// ParseConfig reads a Hugging Face Llama config.json. Keys it does not
// interpret are returned in extra (written back by Save). It refuses what
// glora's model does not compute: another activation than SiLU,
// rope_scaling, another model_type than "llama".
func ParseConfig(data []byte) (cfg Config, extra map[string]json.RawMessage, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, nil, fmt.Errorf("llama: config.json: %w", err)
	}
	for _, k := range []string{"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"} {
		if _, ok := raw[k]; !ok {
			return Config{}, nil, fmt.Errorf("llama: config.json: no %q", k)
		}
	}
	h := hfConfig{Config: configDefaults()}
	if err := json.Unmarshal(data, &h); err != nil {
		return Config{}, nil, fmt.Errorf("llama: config.json: %w", err)
	}
	cfg = h.Config
	if _, ok := raw["num_key_value_heads"]; !ok || cfg.KVHeads == 0 {
		cfg.KVHeads = cfg.Heads
	}
	if cfg.Heads > 0 && cfg.HeadDim*cfg.Heads == cfg.Dim {
		cfg.HeadDim = 0 // the default, stated
	}
	if cfg.BOS, err = tokenID(h.BOSRaw, "bos_token_id", 1); err != nil {
		return Config{}, nil, err
	}
	if cfg.EOS, err = tokenID(h.EOSRaw, "eos_token_id", 2); err != nil {
		return Config{}, nil, err
	}
	switch {
	case h.ModelType != "" && h.ModelType != "llama":
		return Config{}, nil, fmt.Errorf("llama: config.json: model_type %q is not \"llama\"", h.ModelType)
	case h.HiddenAct != "" && h.HiddenAct != "silu":
		return Config{}, nil, fmt.Errorf("llama: config.json: hidden_act %q is not supported (only \"silu\")", h.HiddenAct)
	case len(h.RopeScaling) > 0 && string(h.RopeScaling) != "null":
		return Config{}, nil, fmt.Errorf("llama: config.json: rope_scaling %s is not supported", h.RopeScaling)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, fmt.Errorf("config.json: %w", err)
	}
	extra = map[string]json.RawMessage{}
	for k, v := range raw {
		if !knownKeys[k] {
			extra[k] = v
		}
	}
	return cfg, extra, nil
}

// knownKeys are the config.json keys ParseConfig interprets; encodeConfig
// writes them.
var knownKeys = map[string]bool{
	"vocab_size": true, "hidden_size": true, "intermediate_size": true, "num_hidden_layers": true,
	"num_attention_heads": true, "num_key_value_heads": true, "head_dim": true,
	"max_position_embeddings": true, "rms_norm_eps": true, "rope_theta": true,
	"tie_word_embeddings": true, "bos_token_id": true, "eos_token_id": true, "model_type": true,
	"architectures": true, "hidden_act": true, "attention_bias": true, "mlp_bias": true,
	"rope_scaling": true, "torch_dtype": true,
}

// tokenID reads a token id that may be absent (def), null (-1), a number
// or a list of numbers (the first).
func tokenID(raw json.RawMessage, key string, def int) (int, error) {
	if len(raw) == 0 {
		return def, nil
	}
	if string(raw) == "null" {
		return -1, nil
	}
	var id int
	if err := json.Unmarshal(raw, &id); err == nil {
		return id, nil
	}
	var ids []int
	if err := json.Unmarshal(raw, &ids); err != nil || len(ids) == 0 {
		return 0, fmt.Errorf("llama: config.json: %s %s is not a token id or a list of them", key, raw)
	}
	return ids[0], nil
}

// encodeConfig writes cfg as a Hugging Face Llama config.json, with extra's
// keys (from ParseConfig) kept and over's set last (a classifier's
// architectures, labels, pad token).
func encodeConfig(cfg Config, extra map[string]json.RawMessage, dtype string, over map[string]any) ([]byte, error) {
	out := map[string]any{}
	for k, v := range extra {
		out[k] = v
	}
	id := func(v int) any {
		if v < 0 {
			return nil
		}
		return v
	}
	for k, v := range map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama", "hidden_act": "silu",
		"vocab_size": cfg.VocabSize, "hidden_size": cfg.Dim, "intermediate_size": cfg.Hidden,
		"num_hidden_layers": cfg.Layers, "num_attention_heads": cfg.Heads, "num_key_value_heads": cfg.KVHeads,
		"max_position_embeddings": cfg.MaxSeq, "rms_norm_eps": cfg.NormEps,
		"rope_theta": cfg.RopeTheta, "tie_word_embeddings": cfg.TiedEmbed,
		"bos_token_id": id(cfg.BOS), "eos_token_id": id(cfg.EOS),
		"attention_bias": cfg.AttnBias, "mlp_bias": cfg.MLPBias, "rope_scaling": nil, "torch_dtype": dtype,
	} {
		out[k] = v
	}
	if cfg.HeadDim != 0 {
		out["head_dim"] = cfg.HeadDim
	}
	for k, v := range over {
		out[k] = v
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("llama: config.json: %w", err)
	}
	return append(b, '\n'), nil
}
