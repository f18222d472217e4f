package vit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Helpers for config.json objects decoded with UseNumber: numbers stay
// json.Number so that fields glora does not interpret are written back with
// the same literal text.

// decodeObject parses data as one JSON object.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("invalid JSON: top level is not an object")
	}
	return m, nil
}

// encodeObject writes v as indented JSON (keys sorted, as transformers'
// json.dumps(sort_keys=True) does) with a final newline.
func encodeObject(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// copyJSON deep-copies decoded JSON.
func copyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = copyJSON(e)
		}
		return s
	}
	return v
}

func copyObject(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return copyJSON(m).(map[string]any)
}

func numInt(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// numF32 is the shortest decimal that reads back as f.
func numF32(f float32) json.Number {
	return json.Number(strconv.FormatFloat(float64(f), 'g', -1, 32))
}

func numF64(f float64) json.Number { return json.Number(strconv.FormatFloat(f, 'g', -1, 64)) }

func listF32(fs []float32) []any {
	out := make([]any, len(fs))
	for i, f := range fs {
		out[i] = numF32(f)
	}
	return out
}

// getFloat reads a number field; ok is false when absent or null.
func getFloat(m map[string]any, key string) (float64, bool, error) {
	v, present := m[key]
	if !present || v == nil {
		return 0, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return 0, false, fmt.Errorf("field %q: want a number, have %s", key, jsonText(v))
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, fmt.Errorf("field %q: bad number %s", key, n)
	}
	return f, true, nil
}

// getInt reads an integer field.
func getInt(m map[string]any, key string) (int, bool, error) {
	f, ok, err := getFloat(m, key)
	if err != nil || !ok {
		return 0, ok, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, false, fmt.Errorf("field %q: want an integer, have %v", key, m[key])
	}
	return int(f), true, nil
}

// getSize reads an image size given as N or [N, N].
func getSize(m map[string]any, key string) (int, bool, error) {
	if l, isList := m[key].([]any); isList {
		if len(l) != 2 {
			return 0, false, fmt.Errorf("field %q: want N or [N, N], have %s", key, jsonText(l))
		}
		h, _, err1 := getInt(map[string]any{"h": l[0]}, "h")
		w, _, err2 := getInt(map[string]any{"w": l[1]}, "w")
		if err := errors.Join(err1, err2); err != nil {
			return 0, false, fmt.Errorf("field %q: %w", key, err)
		}
		if h != w {
			return 0, false, fmt.Errorf("field %q: non-square size %d×%d is not supported", key, h, w)
		}
		return h, true, nil
	}
	return getInt(m, key)
}

func getBool(m map[string]any, key string) (bool, bool, error) {
	v, present := m[key]
	if !present || v == nil {
		return false, false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, false, fmt.Errorf("field %q: want true or false, have %s", key, jsonText(v))
	}
	return b, true, nil
}

func getString(m map[string]any, key string) (string, bool, error) {
	v, present := m[key]
	if !present || v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, fmt.Errorf("field %q: want a string, have %s", key, jsonText(v))
	}
	return s, true, nil
}

func getObject(m map[string]any, key string) (map[string]any, bool, error) {
	v, present := m[key]
	if !present || v == nil {
		return nil, false, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("field %q: want an object, have %s", key, jsonText(v))
	}
	return o, true, nil
}

// getFloats reads a list of numbers (or, with n > 0, a single number
// repeated n times).
func getFloats(m map[string]any, key string, n int) ([]float32, bool, error) {
	v, present := m[key]
	if !present || v == nil {
		return nil, false, nil
	}
	if _, isNum := v.(json.Number); isNum && n > 0 {
		f, _, err := getFloat(m, key)
		if err != nil {
			return nil, false, err
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(f)
		}
		return out, true, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false, fmt.Errorf("field %q: want a list of numbers, have %s", key, jsonText(v))
	}
	out := make([]float32, len(l))
	for i, e := range l {
		f, _, err := getFloat(map[string]any{key: e}, key)
		if err != nil {
			return nil, false, err
		}
		out[i] = float32(f)
	}
	return out, true, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}
