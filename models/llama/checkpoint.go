package llama

// Hugging Face Llama folders: config.json + model.safetensors, or shards
// listed by model.safetensors.index.json. Tensor names are the model's own
// parameter names (model.layers.N.self_attn.q_proj.weight, …).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// File names inside a Hugging Face folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
	IndexFile   = "model.safetensors.index.json"
)

// Checkpoint describes where a model was read from, for writing it back.
type Checkpoint struct {
	Config Config
	// Extra holds config.json keys glora does not interpret; SaveHF writes
	// them back.
	Extra map[string]json.RawMessage
	// DType is the storage dtype of most weights read (F32 for llama2.c).
	DType safetensors.DType
	// Format is "hf" or "llama2c".
	Format string
	// Score is the classification head (score.weight, (classes, D)) of a
	// LlamaForSequenceClassification folder (SaveClassifier), nil for a
	// language model.
	Score *tensor.Tensor
}

// LoadHF reads a Hugging Face Llama folder: config.json, then the weights
// from model.safetensors or the shards named by model.safetensors.index.json
// (F32, F16 or BF16, converted to float32). Every tensor the model needs
// must be present with its shape; lm_head.weight is ignored when the
// embeddings are tied; rotary inv_freq buffers of older files are ignored;
// any other tensor is an error naming it.
func LoadHF(dir string) (*Model, Checkpoint, error) {
	return loadHF(os.DirFS(dir), dir, func(name string) (*safetensors.File, error) {
		return safetensors.Open(filepath.Join(dir, name))
	})
}

// LoadFS reads a Hugging Face Llama folder from a file system (e.g. one
// embedded in the binary), as LoadHF does.
func LoadFS(fsys fs.FS, name string) (*Model, Checkpoint, error) {
	return loadHF(fsys, name, func(file string) (*safetensors.File, error) {
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		f, err := safetensors.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path.Join(name, file), err)
		}
		return f, nil
	})
}

// loadHF reads the folder fsys (called dir in messages), opening its
// safetensors files with open.
func loadHF(fsys fs.FS, dir string, open func(name string) (*safetensors.File, error)) (*Model, Checkpoint, error) {
	cfgData, err := fs.ReadFile(fsys, ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Checkpoint{}, fmt.Errorf("llama: %s has no %s: not a Hugging Face model folder", dir, ConfigFile)
	}
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("llama: %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	cfg, extra, err := ParseConfig(cfgData)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	shards, err := shardFiles(fsys, dir)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	m, err := New(cfg, rand.New(rand.NewPCG(0, 0))) // every value is overwritten
	if err != nil {
		return nil, Checkpoint{}, err
	}
	want := map[string]bool{}
	for _, v := range m.Store.Params() {
		want[v.Name] = true
	}
	dtypes := map[safetensors.DType]int{}
	seen := map[string]string{}
	var score *tensor.Tensor
	for _, shard := range shards {
		f, err := open(shard)
		if err != nil {
			return nil, Checkpoint{}, fmt.Errorf("llama: %w", err)
		}
		err = loadShard(m, f, filepath.Join(dir, shard), want, seen, dtypes, &score)
		f.Close()
		if err != nil {
			return nil, Checkpoint{}, err
		}
	}
	var missing []string
	for name := range want {
		if seen[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, Checkpoint{}, fmt.Errorf("llama: %s: %d tensors missing, first %q", dir, len(missing), missing[0])
	}
	ck := Checkpoint{Config: cfg, Extra: extra, DType: safetensors.F32, Format: "hf", Score: score}
	for d, n := range dtypes {
		if n > dtypes[ck.DType] || (n == dtypes[ck.DType] && d < ck.DType) {
			ck.DType = d
		}
	}
	return m, ck, nil
}

// loadShard copies the tensors of one safetensors file into m (a
// classifier's score.weight into *score).
func loadShard(m *Model, f *safetensors.File, path string, want map[string]bool, seen map[string]string, dtypes map[safetensors.DType]int, score **tensor.Tensor) error {
	for _, name := range f.Names() {
		switch {
		case strings.HasSuffix(name, ".rotary_emb.inv_freq"):
			continue
		case name == scoreName:
			info, _ := f.Info(name)
			if len(info.Shape) != 2 || info.Shape[0] < 2 || info.Shape[1] != m.Cfg.Dim {
				return fmt.Errorf("llama: %s: classification head %q has shape %s: want (classes ≥ 2, hidden_size %d)", path, name, tensor.ShapeString(info.Shape), m.Cfg.Dim)
			}
			if *score != nil {
				return fmt.Errorf("llama: %s: a second %q", path, name)
			}
			t, err := f.Tensor(name)
			if err != nil {
				return fmt.Errorf("llama: %s: %w", path, err)
			}
			*score = t
			continue
		case name == "lm_head.weight" && m.Cfg.TiedEmbed:
			continue
		case !want[name]:
			return fmt.Errorf("llama: %s: unexpected tensor %q (not a parameter of a %d-layer Llama)", path, name, m.Cfg.Layers)
		case seen[name] != "":
			return fmt.Errorf("llama: tensor %q is in both %s and %s", name, seen[name], path)
		}
		v, _ := m.Store.Get(name)
		info, _ := f.Info(name)
		if !tensor.SameShape(info.Shape, v.Value.Shape) {
			return fmt.Errorf("llama: %s: tensor %q has shape %s, the config says %s", path, name,
				tensor.ShapeString(info.Shape), tensor.ShapeString(v.Value.Shape))
		}
		t, err := f.Tensor(name)
		if err != nil {
			return fmt.Errorf("llama: %s: %w", path, err)
		}
		copy(v.Value.Data, t.Data)
		seen[name] = path
		dtypes[info.DType]++
	}
	return nil
}

// shardFiles lists the safetensors files of a folder: model.safetensors,
// or the files model.safetensors.index.json maps tensors to (plain names
// inside the folder only).
func shardFiles(fsys fs.FS, dir string) ([]string, error) {
	if _, err := fs.Stat(fsys, WeightsFile); err == nil {
		return []string{WeightsFile}, nil
	}
	data, err := fs.ReadFile(fsys, IndexFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("llama: %s has neither %s nor %s", dir, WeightsFile, IndexFile)
	}
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("llama: %s: %w", filepath.Join(dir, IndexFile), err)
	}
	set := map[string]bool{}
	for name, file := range idx.WeightMap {
		if file == "" || file != filepath.Base(file) || file == "." || file == ".." || strings.ContainsAny(file, `/\`) {
			return nil, fmt.Errorf("llama: %s: tensor %q maps to %q, not a file in the folder", filepath.Join(dir, IndexFile), name, file)
		}
		set[file] = true
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("llama: %s: empty weight_map", filepath.Join(dir, IndexFile))
	}
	files := make([]string, 0, len(set))
	for f := range set {
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// SaveHF writes m as a Hugging Face Llama folder: config.json (ck.Extra's
// keys kept) and one model.safetensors with tensors stored as dtype (F32,
// F16 or BF16; "" = F32). A tied model writes no lm_head.weight. Files are
// written to temporary names and renamed into place.
func SaveHF(m *Model, dir string, ck Checkpoint, dtype safetensors.DType) error {
	return saveHF(m, dir, ck, dtype, nil, nil)
}

// saveHF is SaveHF with more tensors (a classifier's head) and config.json
// keys set over the model's.
func saveHF(m *Model, dir string, ck Checkpoint, dtype safetensors.DType, more map[string]*tensor.Tensor, keys map[string]any) error {
	if m == nil || m.Store == nil {
		return errors.New("llama: save: nil model")
	}
	if err := m.Cfg.Validate(); err != nil {
		return fmt.Errorf("llama: save: %w", err)
	}
	if dtype == "" {
		dtype = safetensors.F32
	}
	torchType := map[safetensors.DType]string{safetensors.F32: "float32", safetensors.F16: "float16", safetensors.BF16: "bfloat16"}[dtype]
	if torchType == "" {
		return fmt.Errorf("llama: save: dtype %q is not F32, F16 or BF16", dtype)
	}
	w := safetensors.NewWriter()
	for _, v := range m.Store.Params() {
		if !isModelParam(v.Name) {
			return fmt.Errorf("llama: save: %q is not a Llama parameter (merge adapters first)", v.Name)
		}
		if err := w.Add(v.Name, v.Value, dtype); err != nil {
			return fmt.Errorf("llama: save: %w", err)
		}
	}
	names := make([]string, 0, len(more))
	for name := range more {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := w.Add(name, more[name], dtype); err != nil {
			return fmt.Errorf("llama: save: %w", err)
		}
	}
	w.SetMetadata(map[string]string{"format": "pt"})
	cfgData, err := encodeConfig(m.Cfg, ck.Extra, torchType, keys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("llama: save: %w", err)
	}
	if err := w.WriteFile(filepath.Join(dir, WeightsFile)); err != nil {
		return fmt.Errorf("llama: save: %w", err)
	}
	// A stale index from an earlier sharded save would shadow nothing
	// (model.safetensors wins) but mislead a reader: remove it.
	if err := os.Remove(filepath.Join(dir, IndexFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("llama: save: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, ConfigFile), cfgData); err != nil {
		return fmt.Errorf("llama: save: %w", err)
	}
	return nil
}

// isModelParam tells whether name is one of a Llama's own parameter names.
func isModelParam(name string) bool {
	if name == "lm_head.weight" || name == "model.embed_tokens.weight" || name == "model.norm.weight" {
		return true
	}
	if !strings.HasPrefix(name, "model.layers.") {
		return false
	}
	rest := strings.TrimPrefix(name, "model.layers.")
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return false
	}
	switch rest[i+1:] {
	case "input_layernorm.weight", "post_attention_layernorm.weight":
		return true
	}
	for _, l := range linearNames {
		if rest[i+1:] == l+".weight" || rest[i+1:] == l+".bias" {
			return true
		}
	}
	return false
}

// Load reads a model from a Hugging Face folder (LoadHF) or a llama2.c
// checkpoint file (LoadLlama2c), whichever path is.
func Load(path string) (*Model, Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("llama: %w", err)
	}
	if st.IsDir() {
		return LoadHF(path)
	}
	return LoadLlama2c(path)
}
