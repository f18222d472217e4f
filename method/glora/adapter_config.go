package glora

// adapter_config.json in the format of PEFT's GLoRA tuner.
//
// PEFT's GLoRA tuner is not part of a PEFT release: it is an open pull
// request (huggingface/peft #3098, "Add Generalized Low Rank Adaptation
// (GLoRA) to PEFT"), whose revisions differ. glora follows the revision
// that docs/DESIGN.md §7 describes, stored as src/peft/tuners/glora/{config,
// layer,model}.py in huggingface/peft's history:
//
//   - config.py: GLoraConfig(PeftConfig) with r (default 4), target_modules,
//     config_A_B ∈ {LoRA, vector, constant, none} (default "LoRA"),
//     config_C ∈ {LoRA, vector, none} (default "LoRA"), config_D_E ∈
//     {constant, none, vector} (default "constant"); __post_init__ sets
//     peft_type = PeftType.GLORA and rewrites any value containing "LoRA"
//     to "LoRA_<r>" (a later revision lower-cases first and writes
//     "lora_<r>"; both accept "LoRA_<r>", which is what glora writes).
//   - layer.py: per adapter, parameters glora_Ad, glora_Au, glora_Bd,
//     glora_Bu, glora_Cd, glora_Cu, glora_D, glora_E with the shapes of
//     LayerTensors, and eval_config = {"A": config_A_B, "B": config_A_B,
//     "C": config_C, "D": config_D_E, "E": config_D_E}, read by
//     prepare_path ("LoRA_<r>": Xd[:, :r]·Xu[:r, :]; "vector": Xd[:, 0];
//     "constant": Xd[0, 0]; "none": zeros) — the same readings as glora's.
//   - PEFT's PeftConfig (src/peft/config.py) adds base_model_name_or_path,
//     revision, peft_type, task_type, inference_mode and auto_mapping;
//     PeftConfigMixin.from_peft_type drops keys the config class does not
//     know (with a warning), requiring only peft_type, so glora's own
//     glora_* keys do not stop PEFT from loading the file.
//
// One PEFT config holds one choice per support pair for every layer and a
// single rank r; glora's per-layer structure is the source of truth
// (glora_structure) and the three config_* fields are filled only when
// PEFT can reproduce the structure exactly (see peftUniform).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// PeftType is adapter_config.json's peft_type for GLoRA.
const PeftType = "GLORA"

// maxConfigRank bounds r so that a hostile config cannot ask for huge
// tensors before they are read.
const maxConfigRank = 1 << 16

// TargetModules is PEFT's target_modules: a list of module names (each
// matching a module path exactly or as a suffix at a dot boundary) or a
// single regular expression matched against the whole path.
type TargetModules struct {
	Names []string
	Regex string // when non-empty, target_modules was this string
}

// MarshalJSON writes the regular expression as a string, else the list.
func (t TargetModules) MarshalJSON() ([]byte, error) {
	if t.Regex != "" {
		return json.Marshal(t.Regex)
	}
	if t.Names == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(t.Names)
}

// UnmarshalJSON reads a string or a list of strings.
func (t *TargetModules) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" {
			return fmt.Errorf("empty regular expression")
		}
		if _, err := regexp.Compile(`^(?:` + s + `)$`); err != nil {
			return err
		}
		*t = TargetModules{Regex: s}
		return nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return fmt.Errorf("want a list of module names or a regular expression")
	}
	for _, n := range names {
		if n == "" {
			return fmt.Errorf("empty module name")
		}
	}
	*t = TargetModules{Names: names}
	return nil
}

// Match reports whether module path p is targeted, with PEFT's rules.
func (t TargetModules) Match(p string) bool {
	if t.Regex != "" {
		re, err := regexp.Compile(`^(?:` + t.Regex + `)$`)
		return err == nil && re.MatchString(p)
	}
	for _, n := range t.Names {
		if p == n || strings.HasSuffix(p, "."+n) {
			return true
		}
	}
	return false
}

// AdapterConfig is adapter_config.json: PEFT's GLoraConfig fields under
// PEFT's names, and glora's own (glora_*). Fields PEFT may write that glora
// does not interpret (bias, layers_to_transform, …) are kept in Extra and
// written back.
type AdapterConfig struct {
	AutoMapping         json.RawMessage `json:"auto_mapping"` // PEFT's; kept as read (null)
	BaseModelNameOrPath *string         `json:"base_model_name_or_path"`
	Revision            *string         `json:"revision"`
	PeftType            string          `json:"peft_type"` // "GLORA"
	TaskType            *string         `json:"task_type"` // null: a plain torch module (timm)
	InferenceMode       bool            `json:"inference_mode"`
	R                   int             `json:"r"` // the stored rank
	TargetModules       TargetModules   `json:"target_modules"`
	// ConfigAB, ConfigC, ConfigDE are PEFT's one-for-all choices ("LoRA_8",
	// "vector", "constant", "none"), or nil when the structure is not one
	// PEFT can express.
	ConfigAB      *string  `json:"config_A_B"`
	ConfigC       *string  `json:"config_C"`
	ConfigDE      *string  `json:"config_D_E"`
	ModulesToSave []string `json:"modules_to_save"` // the head's module path, or nil

	// Structure is glora's per-layer structure, the source of truth; nil
	// in a supernet folder (and in files PEFT wrote, where config_* and
	// the tensors' module paths give it).
	Structure Structure `json:"glora_structure"`
	// Ranks are the lora ranks: those the structure uses (an adapter), or
	// the search space's (a supernet).
	Ranks []int `json:"glora_ranks"`
	// Supernet marks a folder holding a whole supernet (every stored
	// tensor meaningful, no single structure): for continuing training or
	// searching, never an adapter to merge.
	Supernet bool `json:"glora_supernet"`
	// AddBias is the supernet space's AddBias (C, D, E on bias-less layers).
	AddBias bool `json:"glora_add_bias"`
	// Labels are the saved head's class names (glora_labels; written only
	// when known), so a merged model names its classes. PEFT ignores it.
	Labels []string `json:"glora_labels,omitempty"`
	// Training is what the adapter was trained on (glora_training: data
	// spec, split scheme and seed; written only when known), so a merged
	// model keeps the record its validation split is judged by.
	Training *TrainingRecord `json:"glora_training,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// configKeys are the JSON keys AdapterConfig interprets.
var configKeys = map[string]bool{
	"auto_mapping": true, "base_model_name_or_path": true, "revision": true, "peft_type": true,
	"task_type": true, "inference_mode": true, "r": true, "target_modules": true,
	"config_A_B": true, "config_C": true, "config_D_E": true, "modules_to_save": true,
	"glora_structure": true, "glora_ranks": true, "glora_supernet": true, "glora_add_bias": true, "glora_training": true,
	"glora_labels": true,
}

// ParseAdapterConfig reads adapter_config.json. It checks each field's
// type and the fields' consistency (Validate); tensors are checked by
// Load. Errors name the field (and the layer).
func ParseAdapterConfig(data []byte) (*AdapterConfig, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	c := &AdapterConfig{}
	field := func(key string, dst any) error {
		v, ok := raw[key]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
	var pt *string
	var structure *Structure
	var ranks []int
	var modules []string
	errs := []error{
		field("base_model_name_or_path", &c.BaseModelNameOrPath),
		field("revision", &c.Revision),
		field("peft_type", &pt),
		field("task_type", &c.TaskType),
		field("inference_mode", &c.InferenceMode),
		field("r", &c.R),
		field("target_modules", &c.TargetModules),
		field("config_A_B", &c.ConfigAB),
		field("config_C", &c.ConfigC),
		field("config_D_E", &c.ConfigDE),
		field("modules_to_save", &modules),
		field("glora_structure", &structure),
		field("glora_ranks", &ranks),
		field("glora_supernet", &c.Supernet),
		field("glora_add_bias", &c.AddBias),
		field("glora_labels", &c.Labels),
		field("glora_training", &c.Training),
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if v, ok := raw["auto_mapping"]; ok && string(v) != "null" {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, fmt.Errorf("auto_mapping: %w", err)
		}
		c.AutoMapping = b.Bytes()
	}
	if pt == nil {
		return nil, fmt.Errorf("peft_type missing (want %q)", PeftType)
	}
	c.PeftType = *pt
	if structure != nil {
		c.Structure = *structure
	}
	c.Ranks, c.ModulesToSave = ranks, modules
	for k, v := range raw {
		if !configKeys[k] {
			if c.Extra == nil {
				c.Extra = map[string]json.RawMessage{}
			}
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			c.Extra[k] = b.Bytes()
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the fields and their consistency: peft_type, r, the
// structure against r, glora_ranks, target_modules and the config_*
// fields; a supernet has no structure. Errors name the field and layer.
func (c *AdapterConfig) Validate() error {
	if c.PeftType != PeftType {
		return fmt.Errorf("peft_type %q: want %q (this is not a GLoRA adapter)", c.PeftType, PeftType)
	}
	if c.R < 1 || c.R > maxConfigRank {
		return fmt.Errorf("r %d: want 1…%d", c.R, maxConfigRank)
	}
	if len(c.ModulesToSave) > 1 {
		return fmt.Errorf("modules_to_save %q: glora saves at most one module, the classification head", c.ModulesToSave)
	}
	if t := c.Training; t != nil && (t.Data == "" || t.Scheme == "") {
		return fmt.Errorf("glora_training %+v: a record needs the data spec and the split scheme", *t)
	}
	for _, m := range c.ModulesToSave {
		if !validModulePath(m) {
			return fmt.Errorf("modules_to_save: %q is not a module path", m)
		}
	}
	for i, r := range c.Ranks {
		if r < 1 || (i > 0 && r <= c.Ranks[i-1]) {
			return fmt.Errorf("glora_ranks %v: want increasing, distinct ranks ≥ 1", c.Ranks)
		}
	}
	if len(c.TargetModules.Names) == 0 && c.TargetModules.Regex == "" {
		return fmt.Errorf("target_modules missing or empty")
	}
	pc, err := c.peftChoices()
	if err != nil {
		return err
	}
	if c.Supernet {
		if c.Structure != nil {
			return fmt.Errorf("glora_supernet is true but glora_structure is set: a supernet folder holds no single structure")
		}
		if len(c.Ranks) == 0 || c.Ranks[len(c.Ranks)-1] != c.R {
			return fmt.Errorf("glora_ranks %v: a supernet's largest rank must be r = %d", c.Ranks, c.R)
		}
		return nil
	}
	if c.AddBias {
		return fmt.Errorf("glora_add_bias is set but glora_supernet is not: only a supernet folder has a search space")
	}
	if c.Structure == nil {
		if pc == nil {
			return fmt.Errorf("neither glora_structure nor all of config_A_B, config_C, config_D_E: which path each layer reads is unknown")
		}
		return nil
	}
	if len(c.Structure) == 0 {
		return fmt.Errorf("glora_structure is empty")
	}
	for _, p := range c.Structure.Paths() {
		if !validModulePath(p) {
			return fmt.Errorf("glora_structure: %q is not a module path", p)
		}
		if err := CheckChoice(c.Structure[p], c.R); err != nil {
			return fmt.Errorf("glora_structure: layer %q: %w (r)", p, err)
		}
		if !c.TargetModules.Match(p) {
			return fmt.Errorf("glora_structure names layer %q, which target_modules %s does not select", p, c.TargetModules)
		}
		if slices.Contains(c.ModulesToSave, p) {
			return fmt.Errorf("layer %q is both a GLoRA layer and in modules_to_save", p)
		}
	}
	for _, n := range c.TargetModules.Names {
		hit := false
		for p := range c.Structure {
			if p == n || strings.HasSuffix(p, "."+n) {
				hit = true
				break
			}
		}
		if !hit {
			return fmt.Errorf("target_modules names %q, which matches no layer of glora_structure", n)
		}
	}
	if want := structureRanks(c.Structure); c.Ranks != nil && !slices.Equal(c.Ranks, want) {
		return fmt.Errorf("glora_ranks %v: the structure uses ranks %v", c.Ranks, want)
	}
	if pc != nil {
		for _, p := range c.Structure.Paths() {
			if lc := c.Structure[p]; lc != *pc {
				return fmt.Errorf("config_A_B/config_C/config_D_E (%s) disagree with glora_structure at layer %q (%s): set them to null for a structure that differs between layers or paths",
					pc, p, lc)
			}
		}
	}
	return nil
}

// TrainingRecord is the data an adapter was trained on, in the keys a
// model folder's config.json records it (glora_training).
type TrainingRecord struct {
	Data      string `json:"data"`
	Scheme    string `json:"scheme"`
	SplitSeed uint64 `json:"split_seed"`
}

// String spells target_modules as in the file.
func (t TargetModules) String() string {
	b, _ := t.MarshalJSON()
	return string(b)
}

// peftChoices reads config_A_B, config_C and config_D_E as one layer's
// choices (nil when any is null), with PEFT's rule that any lora spelling
// means rank r.
func (c *AdapterConfig) peftChoices() (*LayerChoice, error) {
	// Each one given is checked, even when another is null: a misspelt
	// value is an error, not silently ignored.
	var lc LayerChoice
	for _, f := range []struct {
		name           string
		v              *string
		lora, constant bool
		dst            []Support
	}{
		{"config_A_B", c.ConfigAB, true, true, []Support{A, B}},
		{"config_C", c.ConfigC, true, false, []Support{C}},
		{"config_D_E", c.ConfigDE, false, true, []Support{D, E}},
	} {
		if f.v == nil {
			continue
		}
		ch, err := parsePeftChoice(f.name, *f.v, c.R, f.lora, f.constant)
		if err != nil {
			return nil, err
		}
		for _, s := range f.dst {
			lc[s] = ch
		}
	}
	if c.ConfigAB == nil || c.ConfigC == nil || c.ConfigDE == nil {
		return nil, nil
	}
	return &lc, nil
}

// parsePeftChoice reads one of PEFT's spellings: LoRA / LoRA_<r> / lora /
// lora_<r> (any case; PEFT always uses rank r, so a different suffix is an
// error here rather than silently rewritten), vector, constant, none.
func parsePeftChoice(field, s string, r int, lora, constant bool) (Choice, error) {
	low := strings.ToLower(s)
	valid := "vector, none"
	if constant {
		valid = "vector, constant, none"
	}
	if lora {
		valid = "LoRA_<r>, " + valid
	}
	switch {
	case low == "vector":
		return ChoiceVector, nil
	case low == "none":
		return ChoiceNone, nil
	case low == "constant" && constant:
		return ChoiceConstant, nil
	case strings.HasPrefix(low, "lora") && lora:
		rest := strings.TrimPrefix(low, "lora")
		if rest == "" {
			return LoRAChoice(r), nil
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(rest, "_")); err == nil && strings.HasPrefix(rest, "_") {
			if n != r {
				return Choice{}, fmt.Errorf("%s %q names rank %d but r is %d (PEFT would use rank %d)", field, s, n, r, r)
			}
			return LoRAChoice(r), nil
		}
	}
	return Choice{}, fmt.Errorf("%s %q: want %s", field, s, valid)
}

// peftSpelling is a choice as PEFT's config writes it.
func peftSpelling(c Choice) string {
	if c.Kind == LoRA {
		return "LoRA_" + strconv.Itoa(c.Rank)
	}
	return c.String()
}

// peftUniform returns config_A_B, config_C and config_D_E when PEFT's
// one-for-all config reproduces st exactly at rank R: every layer has the
// same choices, A equals B, D equals E, and every lora path has rank R
// (PEFT uses r for all of them). Otherwise all three are nil.
func peftUniform(st Structure, R int) (ab, c, de *string) {
	var first *LayerChoice
	for _, lc := range st {
		if first == nil {
			l := lc
			first = &l
		} else if lc != *first {
			return nil, nil, nil
		}
	}
	if first == nil || first[A] != first[B] || first[D] != first[E] {
		return nil, nil, nil
	}
	for _, ch := range first {
		if ch.Kind == LoRA && ch.Rank != R {
			return nil, nil, nil
		}
	}
	s := func(c Choice) *string { v := peftSpelling(c); return &v }
	return s(first[A]), s(first[C]), s(first[D])
}

// structureRanks lists the distinct lora ranks st uses, increasing.
func structureRanks(st Structure) []int {
	seen := map[int]bool{}
	var out []int
	for _, lc := range st {
		for _, c := range lc {
			if c.Kind == LoRA && !seen[c.Rank] {
				seen[c.Rank] = true
				out = append(out, c.Rank)
			}
		}
	}
	sort.Ints(out)
	if out == nil {
		out = []int{}
	}
	return out
}

var modulePathRE = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)

// validModulePath reports whether p looks like a torch module path.
func validModulePath(p string) bool { return modulePathRE.MatchString(p) }

// Encode writes the config as glora writes adapter_config.json: keys
// sorted (as PEFT's save_pretrained, json.dumps(indent=2, sort_keys=True)),
// two-space indentation, lists on one line and glora_structure one layer
// per line. Equal configs give equal bytes.
func (c *AdapterConfig) Encode() ([]byte, error) {
	vals := map[string]json.RawMessage{}
	for k, v := range c.Extra {
		vals[k] = v
	}
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		vals[k] = b
		return nil
	}
	am := json.RawMessage("null")
	if len(c.AutoMapping) > 0 {
		am = c.AutoMapping
	}
	vals["auto_mapping"] = am
	ranks := c.Ranks
	if ranks == nil {
		ranks = []int{}
	}
	for _, kv := range []struct {
		k string
		v any
	}{
		{"base_model_name_or_path", c.BaseModelNameOrPath}, {"revision", c.Revision}, {"peft_type", c.PeftType},
		{"task_type", c.TaskType}, {"inference_mode", c.InferenceMode}, {"r", c.R},
		{"target_modules", c.TargetModules}, {"config_A_B", c.ConfigAB}, {"config_C", c.ConfigC},
		{"config_D_E", c.ConfigDE}, {"modules_to_save", c.ModulesToSave}, {"glora_ranks", ranks},
		{"glora_supernet", c.Supernet}, {"glora_add_bias", c.AddBias},
	} {
		if err := put(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	if len(c.Labels) > 0 {
		if err := put("glora_labels", c.Labels); err != nil {
			return nil, err
		}
	}
	if c.Training != nil {
		if err := put("glora_training", c.Training); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(vals)+1)
	for k := range vals {
		keys = append(keys, k)
	}
	keys = append(keys, "glora_structure")
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, k := range keys {
		fmt.Fprintf(&b, "  %q: ", k)
		if k == "glora_structure" {
			writeStructure(&b, c.Structure)
		} else {
			var cb bytes.Buffer
			if err := json.Compact(&cb, vals[k]); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			b.Write(spaceAfterCommas(cb.Bytes()))
		}
		if i < len(keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// writeStructure writes st one layer per line (null when nil).
func writeStructure(b *bytes.Buffer, st Structure) {
	if st == nil {
		b.WriteString("null")
		return
	}
	b.WriteString("{")
	for i, p := range st.Paths() {
		if i > 0 {
			b.WriteString(",")
		}
		lc, _ := st[p].MarshalJSON()
		fmt.Fprintf(b, "\n    %q: %s", p, lc)
	}
	if len(st) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("}")
}

// spaceAfterCommas turns compact JSON's "," and ":" outside strings into
// ", " and ": ", as Python's json.dumps writes them.
func spaceAfterCommas(js []byte) []byte {
	var out []byte
	inStr, esc := false, false
	for _, ch := range js {
		out = append(out, ch)
		switch {
		case inStr && esc:
			esc = false
		case inStr && ch == '\\':
			esc = true
		case ch == '"':
			inStr = !inStr
		case !inStr && (ch == ',' || ch == ':'):
			out = append(out, ' ')
		}
	}
	return out
}
