// Package glora implements GLoRA (Generalized LoRA, arXiv 2306.07967):
// a frozen Linear layer (W0, b0) is wrapped with five support tensors,
//
//	y = x·(W0 + W0⊙A + B)ᵀ + (b0 + b0⊙D + E + W0·C)
//
// each of which is, per layer, a low-rank product, a vector, a scalar or
// nothing. A structure says which for every wrapped layer; a supernet
// shares one set of stored tensors across every structure and samples one
// per step; Merge folds a structure into W and b. The method, its
// defaults and its pitfalls: docs/DESIGN.md.
//
// The package reaches models only through nn.LinearSite (a walk over their
// Linear layers by module path), so it works for any model that lists them.
package glora

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Support names one of the five support tensors.
type Support int

// The support tensors: W' = W0 + W0⊙A + B, b' = b0 + b0⊙D + E + W0·C.
const (
	A Support = iota
	B
	C
	D
	E
	numSupports
)

func (s Support) String() string { return string("ABCDE"[s]) }

// Kind is the form a support tensor takes in a structure.
type Kind uint8

// The kinds of path.
const (
	None     Kind = iota // 0
	Constant             // one scalar
	Vector               // a vector (out for A, B, D, E; in for C)
	LoRA                 // a rank-r product Xd[:, :r]·Xu[:r, :]
)

// Choice is one support tensor's path: none, constant, vector or lora_<r>.
type Choice struct {
	Kind Kind
	Rank int // for LoRA: r ≥ 1; 0 otherwise
}

// Named choices.
var (
	ChoiceNone     = Choice{Kind: None}
	ChoiceConstant = Choice{Kind: Constant}
	ChoiceVector   = Choice{Kind: Vector}
)

// LoRAChoice is lora_<r>.
func LoRAChoice(r int) Choice { return Choice{Kind: LoRA, Rank: r} }

// String spells the choice as in structure files: "none", "constant",
// "vector", "lora_8".
func (c Choice) String() string {
	switch c.Kind {
	case None:
		return "none"
	case Constant:
		return "constant"
	case Vector:
		return "vector"
	case LoRA:
		return "lora_" + strconv.Itoa(c.Rank)
	}
	return fmt.Sprintf("Choice(%d)", c.Kind)
}

// ParseChoice reads a choice's spelling (see String).
func ParseChoice(s string) (Choice, error) {
	switch s {
	case "none":
		return ChoiceNone, nil
	case "constant":
		return ChoiceConstant, nil
	case "vector":
		return ChoiceVector, nil
	}
	if rs, ok := strings.CutPrefix(s, "lora_"); ok {
		if r, err := strconv.Atoi(rs); err == nil && r >= 1 && r <= MaxRank && strconv.Itoa(r) == rs {
			return LoRAChoice(r), nil
		}
	}
	return Choice{}, fmt.Errorf("unknown choice %q (want none, constant, vector or lora_<r> with 1 ≤ r ≤ %d)", s, MaxRank)
}

// MarshalText writes the choice's spelling.
func (c Choice) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a choice's spelling.
func (c *Choice) UnmarshalText(b []byte) error {
	v, err := ParseChoice(string(b))
	if err == nil {
		*c = v
	}
	return err
}

// LayerChoice is one layer's choice for each support tensor, indexed by
// Support. The zero value is "every path none": the base layer.
type LayerChoice [numSupports]Choice

// IsBase reports whether every path is none.
func (lc LayerChoice) IsBase() bool { return lc == LayerChoice{} }

// String is "A=lora_8 B=vector C=none D=constant E=vector".
func (lc LayerChoice) String() string {
	parts := make([]string, numSupports)
	for s := range numSupports {
		parts[s] = s.String() + "=" + lc[s].String()
	}
	return strings.Join(parts, " ")
}

// MarshalJSON writes {"A": "lora_8", "B": "vector", "C": "none", "D": "constant", "E": "vector"}.
func (lc LayerChoice) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for s := range numSupports {
		if s > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %q", s.String(), lc[s].String())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the object MarshalJSON writes; every one of A..E
// must be present, and nothing else.
func (lc *LayerChoice) UnmarshalJSON(data []byte) error {
	raw, err := objectFields(data, "support tensor")
	if err != nil {
		return err
	}
	m := make(map[string]Choice, len(raw))
	for k, r := range raw {
		if len(k) != 1 || !strings.Contains("ABCDE", k) {
			return fmt.Errorf("unknown support tensor %q (want A, B, C, D, E)", k)
		}
		var c Choice
		if err := json.Unmarshal(r, &c); err != nil {
			return fmt.Errorf("support tensor %s: %w", k, err)
		}
		m[k] = c
	}
	var out LayerChoice
	for s := range numSupports {
		c, ok := m[s.String()]
		if !ok {
			return fmt.Errorf("support tensor %s missing", s)
		}
		out[s] = c
	}
	*lc = out
	return nil
}

// objectFields reads a JSON object's fields, refusing a name given twice
// (which encoding/json would let the last one win), naming it as a what.
func objectFields(data []byte, what string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		if err == nil {
			err = fmt.Errorf("want a JSON object, have %v", t)
		}
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := t.(string) // inside an object, a key comes next
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s %q given twice", what, k)
		}
		var r json.RawMessage
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, k, err)
		}
		out[k] = r
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON object")
	}
	return out, nil
}

// Params is the number of parameters the choice reads in a layer with the
// given widths (docs/DESIGN.md §1): A or B lora_r: r·(out+in), vector: out,
// constant: 1; C lora_r: r·(in+1), vector: in; D or E vector: out,
// constant: 1.
func (lc LayerChoice) Params(in, out int) int {
	n := 0
	for s := range numSupports {
		c := lc[s]
		switch {
		case c.Kind == Constant:
			n++
		case c.Kind == Vector && s == C:
			n += in
		case c.Kind == Vector:
			n += out
		case c.Kind == LoRA && s == C:
			n += c.Rank * (in + 1)
		case c.Kind == LoRA:
			n += c.Rank * (out + in)
		}
	}
	return n
}

// Structure maps each wrapped layer's module path to its choices.
type Structure map[string]LayerChoice

// Paths lists the structure's module paths in natural order
// (blocks.2 before blocks.10).
func (st Structure) Paths() []string {
	ps := make([]string, 0, len(st))
	for p := range st {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, naturalCompare)
	return ps
}

// MaxRank is the largest lora rank the structure uses (0 if none).
func (st Structure) MaxRank() int {
	r := 0
	for _, lc := range st {
		for _, c := range lc {
			if c.Kind == LoRA {
				r = max(r, c.Rank)
			}
		}
	}
	return r
}

// Key is a canonical one-line spelling of the structure (equal structures
// have equal keys), for caches.
func (st Structure) Key() string {
	var b strings.Builder
	for _, p := range st.Paths() {
		lc := st[p]
		b.WriteString(p)
		for s := range numSupports {
			b.WriteByte(' ')
			b.WriteString(lc[s].String())
		}
		b.WriteByte(';')
	}
	return b.String()
}

// Hash is a short hexadecimal digest of Key, for logs.
func (st Structure) Hash() string {
	h := fnv.New64a()
	h.Write([]byte(st.Key()))
	return fmt.Sprintf("%016x", h.Sum64())
}

// Clone returns a copy.
func (st Structure) Clone() Structure {
	out := make(Structure, len(st))
	for p, lc := range st {
		out[p] = lc
	}
	return out
}

// MarshalJSON writes the structure in natural path order (as Format,
// which encoding/json then compacts).
func (st Structure) MarshalJSON() ([]byte, error) { return st.Format(), nil }

// Format is the structure file's readable form: one layer per line, in
// natural path order, ending in a newline.
func (st Structure) Format() []byte {
	var b bytes.Buffer
	b.WriteString("{")
	for i, p := range st.Paths() {
		if i > 0 {
			b.WriteString(",")
		}
		lc, _ := st[p].MarshalJSON()
		fmt.Fprintf(&b, "\n  %q: %s", p, lc)
	}
	if len(st) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// UnmarshalJSON reads what MarshalJSON writes; errors name the layer.
func (st *Structure) UnmarshalJSON(data []byte) error {
	raw, err := objectFields(data, "layer")
	if err != nil {
		return err
	}
	out := make(Structure, len(raw))
	for p, r := range raw {
		var lc LayerChoice
		if err := json.Unmarshal(r, &lc); err != nil {
			return fmt.Errorf("layer %q: %w", p, err)
		}
		out[p] = lc
	}
	*st = out
	return nil
}

// naturalCompare orders dotted paths with numeric segments compared as numbers.
func naturalCompare(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return ai - bi
		}
		return strings.Compare(as[i], bs[i])
	}
	return len(as) - len(bs)
}

// Target is a layer GLoRA wraps: its module path and widths.
type Target struct {
	Path    string
	In, Out int
	HasBias bool
}

// Space is the search space: the lora ranks a supernet holds (the stored
// tensors have the largest rank, R) and whether C, D, E may add a bias to
// a layer that has none.
type Space struct {
	Ranks   []int // e.g. [4 8]; sorted, distinct, ≥ 1
	AddBias bool  // let C, D, E act on bias-less layers (the merged model then gains a bias)
}

// MaxRank is R, the stored rank.
func (sp Space) MaxRank() int {
	if len(sp.Ranks) == 0 {
		return 0
	}
	return slices.Max(sp.Ranks)
}

// MaxRank is the largest lora rank glora takes (in a space, a structure
// file or a flag): far above what parameter-efficient tuning uses, and a
// bound on what a mistyped or hostile file can make it allocate.
const MaxRank = 4096

// Validate checks the ranks.
func (sp Space) Validate() error {
	if len(sp.Ranks) == 0 {
		return fmt.Errorf("glora: no lora ranks")
	}
	for i, r := range sp.Ranks {
		if r < 1 || r > MaxRank || (i > 0 && r <= sp.Ranks[i-1]) {
			return fmt.Errorf("glora: ranks %v must be in [1, %d], increasing and distinct", sp.Ranks, MaxRank)
		}
	}
	return nil
}

// CheckRank refuses a lora rank above min(in, out) of target t: the
// product of an out×r and an r×in factor has rank at most min(in, out), so
// a larger r adds parameters and memory, never expressivity.
func CheckRank(t Target, r int) error {
	if m := min(t.In, t.Out); r > m {
		return fmt.Errorf("glora: layer %q (%d→%d): lora rank %d is above min(in, out) = %d, where a lora path can reach no higher rank; use a rank ≤ %d",
			t.Path, t.In, t.Out, r, m, m)
	}
	return nil
}

// Allowed lists the choices of support tensor s in a layer with or without
// a bias (docs/DESIGN.md §1): A, B ∈ {lora_r…, vector, constant, none};
// C ∈ {lora_r…, vector, none}; D, E ∈ {vector, constant, none}. A layer
// without a bias allows only none for C, D and E unless AddBias.
func (sp Space) Allowed(s Support, hasBias bool) []Choice {
	if (s == C || s == D || s == E) && !hasBias && !sp.AddBias {
		return []Choice{ChoiceNone}
	}
	var out []Choice
	if s == A || s == B || s == C {
		for _, r := range sp.Ranks {
			out = append(out, LoRAChoice(r))
		}
	}
	out = append(out, ChoiceVector)
	if s != C {
		out = append(out, ChoiceConstant)
	}
	return append(out, ChoiceNone)
}

// ValidateStructure checks that st names exactly the targets and that every choice
// is allowed; an error names the layer and lists the valid values.
func (sp Space) ValidateStructure(st Structure, targets []Target) error {
	known := make(map[string]bool, len(targets))
	for _, t := range targets {
		known[t.Path] = true
		lc, ok := st[t.Path]
		if !ok {
			return fmt.Errorf("glora: structure has no entry for layer %q", t.Path)
		}
		for s := range numSupports {
			allowed := sp.Allowed(s, t.HasBias)
			if !slices.Contains(allowed, lc[s]) {
				names := make([]string, len(allowed))
				for i, c := range allowed {
					names[i] = c.String()
				}
				why := ""
				if !t.HasBias && !sp.AddBias && (s == C || s == D || s == E) {
					why = " (the layer has no bias; C, D and E need one: allow adding a bias to use them)"
				}
				return fmt.Errorf("glora: layer %q: %s = %s is not allowed%s; valid: %s",
					t.Path, s, lc[s], why, strings.Join(names, ", "))
			}
			if lc[s].Kind == LoRA {
				if err := CheckRank(t, lc[s].Rank); err != nil {
					return err
				}
			}
		}
	}
	for _, p := range st.Paths() {
		if !known[p] {
			return fmt.Errorf("glora: structure names layer %q, which is not a target", p)
		}
	}
	return nil
}

// Params counts the support parameters st reads over the targets
// (docs/DESIGN.md §1; the head is counted separately).
func Params(st Structure, targets []Target) int {
	n := 0
	for _, t := range targets {
		n += st[t.Path].Params(t.In, t.Out)
	}
	return n
}

// Sample draws one choice per support tensor of every target uniformly
// from the allowed ones: a uniform draw over each layer's combinations.
func (sp Space) Sample(rng *rand.Rand, targets []Target) Structure {
	st := make(Structure, len(targets))
	for _, t := range targets {
		st[t.Path] = sp.SampleLayer(rng, t)
	}
	return st
}

// SampleLayer draws one layer's choices uniformly.
func (sp Space) SampleLayer(rng *rand.Rand, t Target) LayerChoice {
	var lc LayerChoice
	for s := range numSupports {
		allowed := sp.Allowed(s, t.HasBias)
		lc[s] = allowed[rng.IntN(len(allowed))]
	}
	return lc
}

// Uniform gives every target the same choices, with C, D and E set to none
// on bias-less targets (unless addBias).
func Uniform(targets []Target, lc LayerChoice, addBias bool) Structure {
	st := make(Structure, len(targets))
	for _, t := range targets {
		l := lc
		if !t.HasBias && !addBias {
			l[C], l[D], l[E] = ChoiceNone, ChoiceNone, ChoiceNone
		}
		st[t.Path] = l
	}
	return st
}

// Summary counts each support tensor's choices over the layers, e.g.
// "A lora_8×4 none×20; B lora_8×24; C none×24; D none×24; E none×24"
// (LoRA rank 8 on 24 layers), lora paths first (highest rank first), then
// vector, constant, none.
func (st Structure) Summary() string {
	var parts []string
	for s := range numSupports {
		count := map[Choice]int{}
		for _, lc := range st {
			count[lc[s]]++
		}
		keys := make([]Choice, 0, len(count))
		for c := range count {
			keys = append(keys, c)
		}
		slices.SortFunc(keys, func(a, b Choice) int {
			if a.Kind != b.Kind {
				return int(b.Kind) - int(a.Kind)
			}
			return b.Rank - a.Rank
		})
		var b strings.Builder
		b.WriteString(s.String())
		for _, c := range keys {
			fmt.Fprintf(&b, " %s×%d", c, count[c])
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, "; ")
}
