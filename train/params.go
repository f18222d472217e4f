package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sort"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/tensor"
)

// paramTensors returns the values (shared, not copied) of the parameters
// of ps, all of them or with trainableOnly those with RequiresGrad, by
// name. A parameter without a name, or a name used twice, is an error: the
// name is the checkpoint key.
func paramTensors(ps []*ag.Var, trainableOnly bool) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(ps))
	seen := make(map[string]bool, len(ps))
	for i, p := range ps {
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("parameter %d of the model has no name", i)
		case seen[p.Name]:
			return nil, fmt.Errorf("the model has two parameters named %q", p.Name)
		}
		seen[p.Name] = true
		if !trainableOnly || p.RequiresGrad {
			out[p.Name] = p.Value
		}
	}
	return out, nil
}

// loadParams copies values into the parameters of ps of the same names: all
// of them, or with trainableOnly those with RequiresGrad. Each must be
// present with its parameter's shape, and values may hold nothing else.
// Nothing is copied unless everything fits; the error names the tensor.
func loadParams(ps []*ag.Var, values map[string]*tensor.Tensor, trainableOnly bool) error {
	want, err := paramTensors(ps, trainableOnly)
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(want) {
		t, ok := values[name]
		if !ok {
			return fmt.Errorf("tensor %q missing", name)
		}
		if !tensor.SameShape(t.Shape, want[name].Shape) || len(t.Data) != len(want[name].Data) {
			return fmt.Errorf("tensor %q has shape %s, the model's is %s", name,
				tensor.ShapeString(t.Shape), tensor.ShapeString(want[name].Shape))
		}
	}
	for _, name := range sortedKeys(values) {
		if _, ok := want[name]; !ok {
			what := "the model has no such parameter"
			if trainableOnly {
				what = "the model has no such trainable parameter"
			}
			return fmt.Errorf("unexpected tensor %q: %s", name, what)
		}
	}
	for name, t := range want {
		copy(t.Data, values[name].Data)
	}
	return nil
}

// frozenDigest fingerprints the frozen parameters of ps (RequiresGrad
// false): SHA-256 over each one's name, shape and float32 bits, in name
// order. A run that checkpoints only its trainable tensors records it, so
// that resuming onto a model rebuilt from another base (other weights, other
// tensors) is caught instead of silently training on.
func frozenDigest(ps []*ag.Var) string {
	frozen := map[string]*tensor.Tensor{}
	for _, p := range ps {
		if !p.RequiresGrad {
			frozen[p.Name] = p.Value
		}
	}
	h := sha256.New()
	var buf []byte
	for _, name := range sortedKeys(frozen) {
		t := frozen[name]
		buf = binary.LittleEndian.AppendUint64(buf[:0], uint64(len(name)))
		buf = append(buf, name...)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(t.Shape)))
		for _, d := range t.Shape {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
		}
		h.Write(buf)
		const chunk = 1 << 14
		for lo := 0; lo < len(t.Data); lo += chunk {
			buf = buf[:0]
			for _, v := range t.Data[lo:min(lo+chunk, len(t.Data))] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			h.Write(buf)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
