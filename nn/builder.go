package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// Store holds a model's named parameters in creation order. Names are the
// checkpoint's key paths (e.g. "blocks.3.attn.qkv.weight"), so loading and
// saving a checkpoint is a walk over the store, not string surgery.
type Store struct {
	list   []*ag.Var
	byName map[string]*ag.Var
}

// NewStore returns an empty parameter store.
func NewStore() *Store { return &Store{byName: map[string]*ag.Var{}} }

// Params lists every parameter in creation order.
func (s *Store) Params() []*ag.Var { return s.list }

// Get returns the named parameter.
func (s *Store) Get(name string) (*ag.Var, bool) {
	v, ok := s.byName[name]
	return v, ok
}

// Names lists the parameter names, sorted.
func (s *Store) Names() []string {
	names := make([]string, 0, len(s.list))
	for _, v := range s.list {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return names
}

// Count is the number of scalar parameters; with trainableOnly, only those
// that require a gradient.
func (s *Store) Count(trainableOnly bool) int {
	n := 0
	for _, v := range s.list {
		if !trainableOnly || v.RequiresGrad {
			n += v.Value.Numel()
		}
	}
	return n
}

// Tensors returns the parameter values by name (shared, not copied).
func (s *Store) Tensors() map[string]*tensor.Tensor {
	m := make(map[string]*tensor.Tensor, len(s.list))
	for _, v := range s.list {
		m[v.Name] = v.Value
	}
	return m
}

// Load copies values into the parameters of the same names. Every parameter
// must be present with the same shape; extra entries are an error unless
// allowExtra. Errors name the tensor.
func (s *Store) Load(values map[string]*tensor.Tensor, allowExtra bool) error {
	for _, v := range s.list {
		t, ok := values[v.Name]
		if !ok {
			return fmt.Errorf("load: tensor %q missing", v.Name)
		}
		if !tensor.SameShape(t.Shape, v.Value.Shape) {
			return fmt.Errorf("load: tensor %q has shape %s, model wants %s", v.Name,
				tensor.ShapeString(t.Shape), tensor.ShapeString(v.Value.Shape))
		}
	}
	if !allowExtra {
		for name := range values {
			if _, ok := s.byName[name]; !ok {
				return fmt.Errorf("load: unexpected tensor %q", name)
			}
		}
	}
	for _, v := range s.list {
		copy(v.Value.Data, values[v.Name].Data)
	}
	return nil
}

// CopyFrom makes s's parameters copies of src's: the same names, shapes
// (Load's rules, no extra tensor allowed), values and trainability.
func (s *Store) CopyFrom(src *Store) error {
	if err := s.Load(src.Tensors(), false); err != nil {
		return err
	}
	for _, v := range src.list {
		if w, ok := s.byName[v.Name]; ok {
			w.RequiresGrad = v.RequiresGrad
		}
	}
	return nil
}

// Freeze sets RequiresGrad=false on every parameter whose name matches one of
// the patterns (see MatchName: '*' is one dotted segment, '**' any number of
// them, and a pattern naming a module matches its whole sub-tree) and returns
// how many parameters it froze. Unfreeze does the reverse.
func (s *Store) Freeze(patterns ...string) int { return s.setTrainable(false, patterns) }

// Unfreeze marks matching parameters trainable again.
func (s *Store) Unfreeze(patterns ...string) int { return s.setTrainable(true, patterns) }

// SetTrainable sets every parameter's RequiresGrad to keep(name, v): true
// trains it, false freezes it. It returns how many parameters are trainable.
func (s *Store) SetTrainable(keep func(name string, v *ag.Var) bool) int {
	n := 0
	for _, v := range s.list {
		v.RequiresGrad = keep(v.Name, v)
		if v.RequiresGrad {
			n++
		}
	}
	return n
}

// TrainOnly makes exactly the parameters matching one of patterns (see
// MatchName) trainable and freezes every other one, e.g.
// TrainOnly("**.glora_*", "head") for a GLoRA run. It returns how many
// parameters are trainable. A malformed pattern, or one that matches no
// parameter (a typo would otherwise freeze the whole model silently), is an
// error naming it, and then nothing is changed.
func (s *Store) TrainOnly(patterns ...string) (int, error) {
	if len(patterns) == 0 {
		return 0, fmt.Errorf("nn: train only: no patterns")
	}
	for _, p := range patterns {
		if err := ValidatePattern(p); err != nil {
			return 0, fmt.Errorf("nn: train only: %w", err)
		}
		found := false
		for _, v := range s.list {
			if found = MatchName(p, v.Name); found {
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("nn: train only: pattern %q matches no parameter", p)
		}
	}
	return s.SetTrainable(func(name string, _ *ag.Var) bool {
		for _, p := range patterns {
			if MatchName(p, name) {
				return true
			}
		}
		return false
	}), nil
}

// Trainable lists the parameters that require a gradient, in creation order.
func (s *Store) Trainable() []*ag.Var {
	var out []*ag.Var
	for _, v := range s.list {
		if v.RequiresGrad {
			out = append(out, v)
		}
	}
	return out
}

func (s *Store) setTrainable(on bool, patterns []string) int {
	n := 0
	for _, v := range s.list {
		for _, p := range patterns {
			if MatchName(p, v.Name) {
				v.RequiresGrad = on
				n++
				break
			}
		}
	}
	return n
}

// Init fills a new parameter's values.
type Init func(rng *rand.Rand, t *tensor.Tensor)

// Zeros initialises to 0.
func Zeros(_ *rand.Rand, t *tensor.Tensor) { t.Zero() }

// Ones initialises to 1.
func Ones(_ *rand.Rand, t *tensor.Tensor) {
	for i := range t.Data {
		t.Data[i] = 1
	}
}

// TruncNormal draws from N(0, std²) truncated to ±2·std (timm's trunc_normal_).
func TruncNormal(std float64) Init {
	return func(rng *rand.Rand, t *tensor.Tensor) {
		for i := range t.Data {
			v := rng.NormFloat64()
			for math.Abs(v) > 2 {
				v = rng.NormFloat64()
			}
			t.Data[i] = float32(v * std)
		}
	}
}

// XavierUniform draws from U(−a, a), a = √(6/(fan_in+fan_out)), for a 2-D
// (out, in) weight (fans of higher-rank conv weights include the kernel size).
func XavierUniform(rng *rand.Rand, t *tensor.Tensor) {
	fanIn, fanOut := fans(t.Shape)
	a := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range t.Data {
		t.Data[i] = float32((rng.Float64()*2 - 1) * a)
	}
}

// KaimingUniform is PyTorch's default Linear/Conv init: U(−b, b),
// b = √(6/((1+a²)·fan_in)) with a = √5, i.e. b = 1/√fan_in.
func KaimingUniform(rng *rand.Rand, t *tensor.Tensor) {
	fanIn, _ := fans(t.Shape)
	b := 1 / math.Sqrt(float64(max(fanIn, 1)))
	for i := range t.Data {
		t.Data[i] = float32((rng.Float64()*2 - 1) * b)
	}
}

func fans(shape []int) (in, out int) {
	switch len(shape) {
	case 0:
		return 1, 1
	case 1:
		return shape[0], shape[0]
	}
	recept := tensor.Numel(shape[2:])
	return shape[1] * recept, shape[0] * recept
}

// Builder creates parameters under a dotted scope, mirroring the key paths
// of a checkpoint: b.Sub("blocks").Sub("0").Sub("attn").Param("qkv.weight")
// makes "blocks.0.attn.qkv.weight".
type Builder struct {
	store  *Store
	prefix string
	rng    *rand.Rand
}

// NewBuilder returns a root builder over store, initialising from rng.
func NewBuilder(store *Store, rng *rand.Rand) Builder { return Builder{store: store, rng: rng} }

// Sub returns a builder scoped one level deeper.
func (b Builder) Sub(name string) Builder {
	return Builder{store: b.store, prefix: b.join(name), rng: b.rng}
}

// Subf is Sub with a formatted name, e.g. b.Subf("blocks.%d", i).
func (b Builder) Subf(format string, args ...any) Builder { return b.Sub(fmt.Sprintf(format, args...)) }

func (b Builder) join(name string) string {
	if b.prefix == "" {
		return name
	}
	return b.prefix + "." + name
}

// Param creates (or returns the existing, if the shape agrees) trainable
// parameter name under this scope, initialised by init.
func (b Builder) Param(name string, init Init, shape ...int) (*ag.Var, error) {
	full := b.join(name)
	if v, ok := b.store.byName[full]; ok {
		if !tensor.SameShape(v.Value.Shape, shape) {
			return nil, fmt.Errorf("param %q: exists with shape %s, asked for %s", full,
				tensor.ShapeString(v.Value.Shape), tensor.ShapeString(shape))
		}
		return v, nil
	}
	t := tensor.New(shape...)
	if init != nil && b.rng != nil { // a nil rng builds uninitialised (zero) parameters, e.g. to load into
		init(b.rng, t)
	}
	v := ag.Param(full, t)
	b.store.list = append(b.store.list, v)
	b.store.byName[full] = v
	return v, nil
}

// Prefix is the builder's scope.
func (b Builder) Prefix() string { return b.prefix }
