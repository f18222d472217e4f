package glora

// An adapter folder on disk (Save, Load): adapter_model.safetensors and
// adapter_config.json in the layout of PEFT's GLoRA tuner (see adapter.go
// for the names and adapter_config.go for the config), built aside and
// swapped in; loaded with every name, shape and value checked.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// SaveOptions tune Save.
type SaveOptions struct {
	// DType stores the tensors as F32 (the default, ""), F16 or BF16.
	DType safetensors.DType
}

// Save writes a as an adapter folder (or a supernet folder) at dir. It
// validates everything first, then builds the folder aside and swaps it
// in, so dir holds the old folder or the new one, never a mix. An
// existing dir must be empty or an adapter folder (which is replaced).
func Save(dir string, a *Adapter, opt SaveOptions) error {
	if a == nil {
		return errors.New("glora: save adapter: nil adapter")
	}
	if err := a.check(); err != nil {
		return fmt.Errorf("glora: save adapter %s: %w", dir, err)
	}
	dt := opt.DType
	if dt == "" {
		dt = safetensors.F32
	}
	if dt != safetensors.F32 && dt != safetensors.F16 && dt != safetensors.BF16 {
		return fmt.Errorf("glora: save adapter %s: dtype %s: want F32, F16 or BF16", dir, dt)
	}
	cfg := a.config()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("glora: save adapter %s: %s: %w", dir, AdapterConfigFile, err)
	}
	cfgData, err := cfg.Encode()
	if err != nil {
		return fmt.Errorf("glora: save adapter %s: %w", dir, err)
	}
	w := safetensors.NewWriter()
	for p, t := range a.Layers {
		for i, v := range t.List() {
			if err := w.Add(PeftPrefix+p+"."+TensorNames[i], v, dt); err != nil {
				return fmt.Errorf("glora: save adapter %s: %w", dir, err)
			}
		}
	}
	if h := a.Head; h != nil {
		for _, x := range []struct {
			n string
			t *tensor.Tensor
		}{{"weight", h.W}, {"bias", h.B}} {
			if err := w.Add(PeftPrefix+h.Path+"."+x.n, x.t, dt); err != nil {
				return fmt.Errorf("glora: save adapter %s: %w", dir, err)
			}
		}
	}
	w.SetMetadata(map[string]string{"format": "pt"})
	err = atomicfile.CheckReplace(dir, func(existing string) error {
		if IsAdapterFolder(existing) {
			return nil
		}
		return fmt.Errorf("it exists and is neither empty nor an adapter folder (no %s)", AdapterConfigFile)
	})
	if err == nil {
		err = atomicfile.WriteDir(dir, func(tmp string) error {
			if err := w.WriteFile(filepath.Join(tmp, AdapterWeightsFile)); err != nil {
				return err
			}
			return atomicfile.WriteBytes(filepath.Join(tmp, AdapterConfigFile), cfgData)
		})
	}
	if err != nil {
		return fmt.Errorf("glora: save adapter %s: %w", dir, err)
	}
	return nil
}

// IsAdapterFolder reports whether dir holds an adapter_config.json.
func IsAdapterFolder(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, AdapterConfigFile))
	return err == nil && st.Mode().IsRegular()
}

// LoadAdapter reads an adapter folder; a supernet folder is an error.
func LoadAdapter(dir string) (*Adapter, error) {
	a, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if a.Supernet {
		return nil, fmt.Errorf("glora: %s holds a whole supernet (glora_supernet), not an adapter: pick a structure (search) and save it as an adapter first", dir)
	}
	return a, nil
}

// LoadSupernet reads a supernet folder; an adapter folder is an error.
func LoadSupernet(dir string) (*Adapter, error) {
	a, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if !a.Supernet {
		return nil, fmt.Errorf("glora: %s holds an adapter (one structure), not a supernet", dir)
	}
	return a, nil
}

// Load reads an adapter or supernet folder written by glora or by PEFT's
// GLoRA tuner. Every tensor must be a GLoRA tensor of a targeted layer or
// the saved head, with consistent shapes at rank r; the structure
// (glora_structure, or config_A_B/config_C/config_D_E for every layer)
// must name exactly the layers present and read only finite values.
// Entries an adapter's structure does not read are ignored (zeroed).
func Load(dir string) (*Adapter, error) {
	cfgPath := filepath.Join(dir, AdapterConfigFile)
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("glora: %s is not an adapter folder: %s missing", dir, AdapterConfigFile)
		}
		return nil, fmt.Errorf("glora: %w", err)
	}
	cfg, err := ParseAdapterConfig(data)
	if err != nil {
		return nil, fmt.Errorf("glora: %s: %w", cfgPath, err)
	}
	wPath := filepath.Join(dir, AdapterWeightsFile)
	f, err := safetensors.Open(wPath)
	if err != nil {
		return nil, fmt.Errorf("glora: adapter %s: %w", dir, err)
	}
	defer f.Close()
	a, err := fromFile(f, cfg)
	if err != nil {
		return nil, fmt.Errorf("glora: %s: %w", wPath, err)
	}
	return a, nil
}

// fromFile builds an adapter from the tensors of f described by cfg.
func fromFile(f *safetensors.File, cfg *AdapterConfig) (*Adapter, error) {
	head := ""
	if len(cfg.ModulesToSave) == 1 {
		head = cfg.ModulesToSave[0]
	}
	byLayer, headT, err := groupTensors(f, head, cfg.ModulesToSave)
	if err != nil {
		return nil, err
	}
	if len(byLayer) == 0 {
		return nil, errors.New("no GLoRA tensors")
	}
	st := cfg.Structure
	if !cfg.Supernet && st == nil {
		lc, _ := cfg.peftChoices() // Validate checked them
		st = make(Structure, len(byLayer))
		for p := range byLayer {
			st[p] = *lc
		}
	}
	paths, err := checkLayers(cfg, byLayer, st)
	if err != nil {
		return nil, err
	}
	a := &Adapter{R: cfg.R, Layers: map[string]*LayerTensors{}, Supernet: cfg.Supernet, Config: cfg,
		Ranks: slices.Clone(cfg.Ranks), AddBias: cfg.AddBias}
	if cfg.BaseModelNameOrPath != nil {
		a.BaseModel = *cfg.BaseModelNameOrPath
	}
	a.Labels = slices.Clone(cfg.Labels)
	a.Training = cfg.Training
	if !cfg.Supernet {
		a.Structure = st.Clone()
		a.Ranks = nil
	}
	for _, p := range paths.Paths() {
		m := byLayer[p]
		var t LayerTensors
		for i, ptr := range t.ptrs() {
			v, ok := m[TensorNames[i]]
			if !ok {
				return nil, fmt.Errorf("layer %q: tensor %q missing", p, PeftPrefix+p+"."+TensorNames[i])
			}
			*ptr = v
		}
		out, in, err := layerDims(p, &t)
		if err != nil {
			return nil, err
		}
		if t.Rank() != cfg.R {
			return nil, fmt.Errorf("layer %q: tensor %s has rank %d (shape %s), but r is %d", p, TensorNames[0], t.Rank(), tensor.ShapeString(t.Ad.Shape), cfg.R)
		}
		if cfg.Supernet {
			a.Layers[p] = &t
			continue
		}
		c, err := readEntries(p, &t, st[p], out, in, cfg.R)
		if err != nil {
			return nil, err
		}
		a.Layers[p] = c
	}
	if head != "" {
		w, b := headT["weight"], headT["bias"]
		if w == nil || b == nil {
			return nil, fmt.Errorf("modules_to_save names %q, but %s%s.weight and .bias are not both present", head, PeftPrefix, head)
		}
		a.Head = &Head{Path: head, W: w, B: b}
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// groupTensors sorts an adapter file's tensors by layer (PEFT's prefix,
// the module path, a GLoRA tensor name) and keeps the head's weight and
// bias (head: the one module saved, "" for none).
func groupTensors(f *safetensors.File, head string, saved []string) (byLayer map[string]map[string]*tensor.Tensor, headT map[string]*tensor.Tensor, err error) {
	byLayer = map[string]map[string]*tensor.Tensor{}
	headT = map[string]*tensor.Tensor{}
	for _, name := range f.Names() {
		rest, ok := strings.CutPrefix(name, PeftPrefix)
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q lacks PEFT's prefix %q", name, PeftPrefix)
		}
		dot := strings.LastIndexByte(rest, '.')
		if dot <= 0 {
			return nil, nil, fmt.Errorf("unexpected tensor %q", name)
		}
		mod, leaf := rest[:dot], rest[dot+1:]
		if isHFViTPath(mod) {
			return nil, nil, fmt.Errorf("tensor %q is named by a transformers ViT module path; glora reads adapters in its own (timm) module paths (blocks.N.attn.qkv, blocks.N.attn.proj, blocks.N.mlp.fc1, blocks.N.mlp.fc2, head): re-fusing transformers' separate query/key/value adapters into qkv is not implemented", name)
		}
		t, err := f.Tensor(name)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case slices.Contains(TensorNames[:], leaf):
			if byLayer[mod] == nil {
				byLayer[mod] = map[string]*tensor.Tensor{}
			}
			byLayer[mod][leaf] = t
		case mod == head && (leaf == "weight" || leaf == "bias"):
			headT[leaf] = t
		default:
			return nil, nil, fmt.Errorf("unexpected tensor %q: neither a GLoRA tensor (<module>.glora_Ad … glora_E) nor the weight or bias of modules_to_save %q", name, saved)
		}
	}
	return byLayer, headT, nil
}

// checkLayers checks the file's layers against the config: module paths
// that target_modules selects, each named by the structure st (unless a
// supernet), and each layer st names present. It returns the layers.
func checkLayers(cfg *AdapterConfig, byLayer map[string]map[string]*tensor.Tensor, st Structure) (Structure, error) {
	paths := make(Structure, len(byLayer))
	for p := range byLayer {
		paths[p] = LayerChoice{}
	}
	for _, p := range paths.Paths() {
		if !validModulePath(p) {
			return nil, fmt.Errorf("tensors of %q: not a module path", p)
		}
		if !cfg.TargetModules.Match(p) {
			return nil, fmt.Errorf("tensors of layer %q, which target_modules %s does not select", p, cfg.TargetModules)
		}
		if _, ok := st[p]; !cfg.Supernet && !ok {
			return nil, fmt.Errorf("tensors of layer %q, which glora_structure does not name", p)
		}
	}
	for _, p := range st.Paths() {
		if _, ok := byLayer[p]; !ok {
			return nil, fmt.Errorf("glora_structure names layer %q, but the file has no tensors for it (want %s%s.glora_Ad …)", p, PeftPrefix, p)
		}
	}
	return paths, nil
}

// isHFViTPath reports whether p is a transformers ViT module path.
func isHFViTPath(p string) bool {
	return strings.HasPrefix(p, "vit.") || strings.HasPrefix(p, "encoder.layer.") || p == "classifier"
}
