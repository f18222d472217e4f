package vit

// Checkpoint folders: config.json + model.safetensors (+ preprocessor_config.json
// for transformers), as model hubs ship them. See CHECKPOINTS.md and the
// name table in hfnames.go.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// File names inside a checkpoint folder.
const (
	ConfigFile       = "config.json"
	WeightsFile      = "model.safetensors"
	PreprocessorFile = "preprocessor_config.json"
)

// Dialect names the tool whose conventions a checkpoint follows, for its
// config.json layout (Checkpoint.Dialect) or its tensor names
// (Checkpoint.Naming).
type Dialect string

// Dialects.
const (
	Timm         Dialect = "timm"         // timm (pytorch-image-models) VisionTransformer
	Transformers Dialect = "transformers" // Hugging Face transformers ViTModel / ViTForImageClassification
)

// Checkpoint describes a checkpoint folder.
type Checkpoint struct {
	Config       Config
	Dialect      Dialect // config.json layout
	Naming       Dialect // tensor names in model.safetensors (may differ from Dialect)
	Architecture string  // timm "architecture", or transformers "architectures"[0]
	// Labels are the class names: Labels[i] names output i (timm's
	// label_names, transformers' id2label; transformers' placeholder
	// names LABEL_i count as none). nil when the folder has none. Save
	// writes them while there is one per class of the model, else none.
	Labels []string
	// Extra holds config.json fields glora does not interpret (for timm
	// also the uninterpreted parts of model_args and pretrained_cfg), in
	// the dialect the checkpoint was loaded from; Save writes them back
	// when saving in that dialect.
	Extra map[string]any
	// Preprocessor holds preprocessor_config.json's fields other than
	// image_mean / image_std (transformers; nil when there was none).
	Preprocessor map[string]any
	DType        safetensors.DType // storage dtype of the weights read (the most common one)
	// DTypes is the storage dtype of each model tensor as read, by glora
	// name (a fused qkv: its query part's); nil for a model not read from a
	// file.
	DTypes   map[string]safetensors.DType
	Metadata map[string]string // safetensors __metadata__
	// Passthrough holds tolerated tensors glora does not use
	// (transformers' pooler.dense.* and embeddings.mask_token), by
	// transformers name without the "vit." prefix; Save writes them back
	// when saving in transformers naming.
	Passthrough map[string]*tensor.Tensor
	// Training records the data and split the model was trained on
	// (config.json's glora_training, kept in both dialects); nil when
	// unrecorded. See TrainingInfo.
	Training *TrainingInfo

	src      Dialect    // dialect Extra belongs to; "" = whatever Dialect is
	labelsAt labelPlace // timm: where label_names was read, to write it there again
	act      string     // transformers hidden_act spelling of the tanh GELU, kept for round trips
}

// LoadConfig reads dir's config.json in either dialect (detected) and, for
// transformers, preprocessor_config.json when present. No weights are read.
func LoadConfig(dir string) (Checkpoint, error) {
	return loadConfig(os.DirFS(dir), dir)
}

// loadConfig is LoadConfig over a file system; dir names it in errors.
func loadConfig(fsys fs.FS, dir string) (Checkpoint, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := fs.ReadFile(fsys, ConfigFile)
	if err != nil {
		if dir != "" {
			return Checkpoint{}, fmt.Errorf("vit: checkpoint folder %s: %w", dir, err)
		}
		return Checkpoint{}, fmt.Errorf("vit: %w", err)
	}
	raw, err := decodeObject(data)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("vit: %s: %w", path, err)
	}
	var ck Checkpoint
	d, err := detectDialect(raw)
	switch {
	case err != nil:
		return Checkpoint{}, fmt.Errorf("vit: %s: %w", path, err)
	case d == Timm:
		ck, err = parseTimm(raw)
	default:
		var pre map[string]any
		ppath := filepath.Join(dir, PreprocessorFile)
		if pdata, perr := fs.ReadFile(fsys, PreprocessorFile); perr == nil {
			if pre, perr = decodeObject(pdata); perr != nil {
				return Checkpoint{}, fmt.Errorf("vit: %s: %w", ppath, perr)
			}
		} else if !errors.Is(perr, fs.ErrNotExist) {
			return Checkpoint{}, fmt.Errorf("vit: %w", perr)
		}
		ck, err = parseHF(raw, pre)
	}
	if err == nil {
		err = ck.Config.Validate()
	}
	if err == nil {
		err = ck.readTransform()
	}
	if err == nil {
		ck.Training, err = takeTrainingInfo(ck.Extra)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("vit: %s: %w", path, err)
	}
	ck.src = ck.Dialect
	return ck, nil
}

// detectDialect tells timm's config.json from transformers' by their keys.
func detectDialect(raw map[string]any) (Dialect, error) {
	for _, k := range []string{"model_type", "architectures", "hidden_size", "num_hidden_layers"} {
		if _, ok := raw[k]; ok {
			return Transformers, nil
		}
	}
	for _, k := range []string{"architecture", "pretrained_cfg", "model_args"} {
		if _, ok := raw[k]; ok {
			return Timm, nil
		}
	}
	return "", errors.New("neither a timm config (architecture, pretrained_cfg) nor a transformers ViTConfig (model_type, hidden_size)")
}

// Load reads a checkpoint folder: its config (LoadConfig) and its weights,
// named in either dialect (detected from the names) and renamed to glora's.
// Every model tensor must be present with the model's shape; a tensor the
// model does not have is an error, except transformers' pooler.dense.* and
// embeddings.mask_token, which are kept in Checkpoint.Passthrough. A
// transformers config without "architectures" whose weights have no
// classifier loads headless.
func Load(dir string) (*Model, Checkpoint, error) {
	return load(os.DirFS(dir), dir, func() (*safetensors.File, error) {
		return safetensors.Open(filepath.Join(dir, WeightsFile))
	})
}

// LoadFS is Load over a file system holding config.json and
// model.safetensors at its root (e.g. a checkpoint embedded in the binary).
func LoadFS(fsys fs.FS) (*Model, Checkpoint, error) {
	return load(fsys, "", func() (*safetensors.File, error) {
		b, err := fs.ReadFile(fsys, WeightsFile)
		if err != nil {
			return nil, err
		}
		f, err := safetensors.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", WeightsFile, err)
		}
		return f, nil
	})
}

func load(fsys fs.FS, dir string, open func() (*safetensors.File, error)) (*Model, Checkpoint, error) {
	ck, err := loadConfig(fsys, dir)
	if err != nil {
		return nil, ck, err
	}
	path := filepath.Join(dir, WeightsFile)
	f, err := open()
	if err != nil {
		return nil, ck, fmt.Errorf("vit: %w", err)
	}
	defer f.Close()
	names := f.Names()
	raw, dtype, err := readAll(f, names, ck.Config, filepath.Join(dir, ConfigFile), path)
	if err != nil {
		return nil, ck, err
	}
	ck.DType = dtype
	ck.Metadata = f.Metadata()
	ck.Naming = Timm
	for _, n := range names {
		if isHFName(n) {
			ck.Naming = Transformers
			break
		}
	}
	values, src := raw, hfSource{}
	var unknown []string
	if ck.Naming == Transformers {
		prefix := hfPrefixOf(names)
		var extra map[string]*tensor.Tensor
		if values, extra, unknown, src, err = fromHF(raw, prefix); err != nil {
			return nil, ck, fmt.Errorf("vit: %s: %w", path, err)
		}
		if len(extra) > 0 {
			ck.Passthrough = extra
		}
		if ck.Dialect == Transformers && ck.Architecture == "" && raw["classifier.weight"] == nil {
			ck.Config.NumClasses = 0
		}
	}
	m, err := New(ck.Config, nil) // no initialisation: every value is replaced below
	if err != nil {
		return nil, ck, fmt.Errorf("vit: %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	fileName := func(n string) string {
		if s, ok := src[n]; ok {
			return s
		}
		if ck.Naming == Transformers {
			return hfNameOf(n, hfPrefixOf(names))
		}
		return n
	}
	if err := matchTensors(m, values, unknown, fileName, path, ck.Config); err != nil {
		return nil, ck, err
	}
	ck.DTypes = map[string]safetensors.DType{}
	for _, v := range m.Store.Params() {
		v.Value = values[v.Name] // same shape, freshly decoded: adopt instead of copying
		name := fileName(v.Name)
		if i := strings.Index(name, "{query,key,value}"); i >= 0 {
			name = name[:i] + "query" + name[i+len("{query,key,value}"):]
		}
		if in, ok := f.Info(name); ok {
			ck.DTypes[v.Name] = in.DType
		} else {
			ck.DTypes[v.Name] = ck.DType
		}
	}
	return m, ck, nil
}

// readAll reads every tensor of f (names), after checking that the
// configuration (cfg, from cfgPath) does not describe a model far larger
// than the file can fill; it returns them with their most common dtype.
func readAll(f *safetensors.File, names []string, cfg Config, cfgPath, path string) (map[string]*tensor.Tensor, safetensors.DType, error) {
	// Never trust config.json's sizes: refuse to build (allocate) a model
	// far larger than the weights file can fill. (Small mismatches get the
	// precise per-tensor errors of matchTensors.)
	var held float64
	for _, name := range names {
		if in, ok := f.Info(name); ok {
			held += float64(tensor.Numel(in.Shape))
		}
	}
	body := cfg
	body.NumClasses = 0 // a transformers folder may turn out headless
	if want := body.ParamCount(); want > 2*held+1<<20 {
		return nil, "", fmt.Errorf("vit: %s describes a model of %.0f parameters, but %s holds only %.0f values",
			cfgPath, want, path, held)
	}
	raw := make(map[string]*tensor.Tensor, len(names))
	count := map[safetensors.DType]int{}
	for _, name := range names {
		if in, ok := f.Info(name); ok {
			count[in.DType]++
		}
		var err error
		if raw[name], err = f.Tensor(name); err != nil {
			return nil, "", fmt.Errorf("vit: %w", err)
		}
	}
	return raw, mostCommon(count), nil
}

// matchTensors checks the file's tensors (values; fileName gives a
// tensor's name in the file) against the model m: every parameter there at
// its shape, nothing else (unknown: foreign tensors found already).
func matchTensors(m *Model, values map[string]*tensor.Tensor, unknown []string, fileName func(string) string, path string, cfg Config) error {
	for _, v := range m.Store.Params() {
		t, ok := values[v.Name]
		if !ok {
			return fmt.Errorf("vit: %s: tensor %q missing (the model needs %s %s)",
				path, fileName(v.Name), v.Name, tensor.ShapeString(v.Value.Shape))
		}
		if !tensor.SameShape(t.Shape, v.Value.Shape) {
			return fmt.Errorf("vit: %s: tensor %q has shape %s, the model needs %s for %s",
				path, fileName(v.Name), tensor.ShapeString(t.Shape), tensor.ShapeString(v.Value.Shape), v.Name)
		}
	}
	for n := range values {
		if _, ok := m.Store.Get(n); !ok {
			unknown = append(unknown, fileName(n))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		more := ""
		if len(unknown) > 5 {
			unknown, more = unknown[:5], fmt.Sprintf(" and %d more", len(unknown)-5)
		}
		return fmt.Errorf("vit: %s: unexpected tensors %s%s (not part of a ViT with this config: %d blocks, %d classes)",
			path, strings.Join(quoteAll(unknown), ", "), more, cfg.Depth, cfg.NumClasses)
	}
	return nil
}

// hfNameOf is the transformers name of timm tensor n (qkv: its three parts).
func hfNameOf(n, prefix string) string {
	hts, err := toHF(map[string]*tensor.Tensor{n: {Shape: []int{3}, Data: make([]float32, 3)}}, prefix)
	if err != nil {
		return n
	}
	var keys []string
	for k := range hts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 3 {
		return strings.Replace(keys[0], ".key.", ".{query,key,value}.", 1)
	}
	return keys[0]
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	return out
}

func mostCommon(count map[safetensors.DType]int) safetensors.DType {
	var best safetensors.DType
	for d, n := range count {
		if n > count[best] || (n == count[best] && d < best) {
			best = d
		}
	}
	return best
}

// Save writes m as a checkpoint folder in dir (created if needed):
// config.json in ck.Dialect (default timm), model.safetensors with tensors
// named in ck.Naming (default: the dialect) stored as dtype (F32, F16 or
// BF16; "" = ck.DType when writable, else F32), and for the transformers
// dialect preprocessor_config.json. The sizes, mean/std and class count
// are m.Cfg's; ck supplies the architecture name and the preserved fields
// (Extra, Preprocessor, Metadata, Passthrough) so that the folder stays
// loadable by the tool it came from. Only the ViT's own parameters are
// written (merge adapters into them first). Every file is written to a
// temporary file and renamed into place; nothing is written when the
// config cannot be expressed (e.g. timm with a LayerNorm eps other than 1e-6).
func Save(m *Model, dir string, ck Checkpoint, dtype safetensors.DType) error {
	if m == nil || m.Store == nil {
		return errors.New("vit: save: nil model")
	}
	c := m.Cfg
	if err := c.Validate(); err != nil {
		return fmt.Errorf("vit: save: %w", err)
	}
	if ck.Dialect == "" {
		ck.Dialect = Timm
	}
	if ck.Naming == "" {
		ck.Naming = ck.Dialect
	}
	for _, d := range []Dialect{ck.Dialect, ck.Naming} {
		if d != Timm && d != Transformers {
			return fmt.Errorf("vit: save: unknown dialect %q (want %q or %q)", d, Timm, Transformers)
		}
	}
	if dtype == "" {
		dtype = ck.DType
		if dtype != safetensors.F16 && dtype != safetensors.BF16 {
			dtype = safetensors.F32
		}
	}
	ck = convertExtra(ck)

	w, err := weightsWriter(m, c, ck, dtype)
	if err != nil {
		return err
	}
	files, err := configFiles(c, ck, dtype) // encoded before anything is written
	if err != nil {
		return err
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("vit: save: %w", err)
	}
	if err := w.WriteFile(filepath.Join(dir, WeightsFile)); err != nil {
		return fmt.Errorf("vit: save: %w", err)
	}
	for _, name := range []string{ConfigFile, PreprocessorFile} {
		if data, ok := files[name]; ok {
			if err := atomicfile.WriteBytes(filepath.Join(dir, name), data); err != nil {
				return fmt.Errorf("vit: save: %w", err)
			}
		}
	}
	return nil
}

// weightsWriter holds m's tensors under the checkpoint's naming, at
// dtype, with its metadata: model.safetensors, ready to write.
func weightsWriter(m *Model, c Config, ck Checkpoint, dtype safetensors.DType) (*safetensors.Writer, error) {
	tensors := map[string]*tensor.Tensor{}
	for _, name := range timmNames(c) {
		v, ok := m.Store.Get(name)
		if !ok {
			return nil, fmt.Errorf("vit: save: model has no parameter %q", name)
		}
		tensors[name] = v.Value
	}
	if h := tensors["head.weight"]; h != nil && (len(h.Shape) != 2 || h.Shape[0] != c.NumClasses) {
		return nil, fmt.Errorf("vit: save: head.weight has shape %s but the config has %d classes",
			tensor.ShapeString(h.Shape), c.NumClasses)
	}
	if ck.Naming == Transformers {
		prefix := hfPrefix(c.NumClasses)
		var err error
		if tensors, err = toHF(tensors, prefix); err != nil {
			return nil, fmt.Errorf("vit: save: %w", err)
		}
		for n, t := range ck.Passthrough {
			tensors[prefix+n] = t
		}
	}
	w := safetensors.NewWriter()
	for n, t := range tensors {
		if err := w.Add(n, t, dtype); err != nil {
			return nil, fmt.Errorf("vit: save: %w", err)
		}
	}
	meta := map[string]string{}
	for k, v := range ck.Metadata {
		meta[k] = v
	}
	if meta["format"] == "" {
		meta["format"] = "pt" // transformers refuses safetensors files without it
	}
	w.SetMetadata(meta)

	return w, nil
}

// configFiles encodes config.json (and transformers'
// preprocessor_config.json) for c in the checkpoint's dialect.
func configFiles(c Config, ck Checkpoint, dtype safetensors.DType) (map[string][]byte, error) {
	files := map[string][]byte{}
	var cfgObj map[string]any
	if ck.Dialect == Timm {
		var err error
		if cfgObj, err = timmConfigJSON(c, ck); err != nil {
			return nil, fmt.Errorf("vit: save: %w", err)
		}
	} else {
		cfgObj = hfConfigJSON(c, ck, dtype)
		pre, err := encodeObject(hfPreprocessorJSON(c, ck))
		if err != nil {
			return nil, fmt.Errorf("vit: save: %w", err)
		}
		files[PreprocessorFile] = pre
	}
	if ck.Training != nil {
		cfgObj[TrainingKey] = trainingJSON(ck.Training)
	}
	cfgData, err := encodeObject(cfgObj)
	if err != nil {
		return nil, fmt.Errorf("vit: save: %w", err)
	}
	files[ConfigFile] = cfgData
	return files, nil
}

// convertExtra drops fields that belong to another dialect than the one
// being written (the class names live in Labels and carry over).
func convertExtra(ck Checkpoint) Checkpoint {
	if ck.src == "" || ck.src == ck.Dialect {
		return ck
	}
	ck.Extra, ck.Architecture, ck.Preprocessor, ck.src, ck.labelsAt = map[string]any{}, "", nil, ck.Dialect, 0
	return ck
}
