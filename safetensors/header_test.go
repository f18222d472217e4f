package safetensors

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// build assembles a file from a raw header string and a data buffer.
func build(hdr string, buf []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	out = append(out, hdr...)
	return append(out, buf...)
}

func TestParseValid(t *testing.T) {
	// Tensors listed out of offset order, with padding, an unknown field and
	// a zero-size tensor sharing an offset: all accepted by the reference.
	hdr := ` {"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12],"extra":{"x":[1,{"y":null}]}},` +
		`"a":{"shape":[],"dtype":"U8","data_offsets":[0,1]},` +
		`"z":{"dtype":"F16","shape":[0,5],"data_offsets":[4,4]},` +
		`"__metadata__":{"k":"v"},"c":{"dtype":"I8","shape":[3],"data_offsets":[1,4]}}` + "   \n"
	buf := []byte{7, 1, 2, 0xff, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}
	f, err := Parse(build(hdr, buf))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Names(), ","); got != "a,b,c,z" {
		t.Errorf("Names = %s", got)
	}
	if m := f.Metadata(); len(m) != 1 || m["k"] != "v" {
		t.Errorf("Metadata = %v", m)
	}
	in, ok := f.Info("b")
	if !ok || in.DType != F32 || in.Begin != 4 || in.End != 12 || len(in.Shape) != 1 || in.Shape[0] != 2 {
		t.Errorf("Info(b) = %+v, %v", in, ok)
	}
	b, err := f.Tensor("b")
	if err != nil || b.Data[0] != 1 || b.Data[1] != -2 {
		t.Errorf("Tensor(b) = %v, %v", b, err)
	}
	c, _ := f.Tensor("c")
	if c.Data[2] != -1 {
		t.Errorf("Tensor(c) = %v", c.Data)
	}
	z, err := f.Tensor("z")
	if err != nil || len(z.Data) != 0 || z.Shape[1] != 5 {
		t.Errorf("Tensor(z) = %v, %v", z, err)
	}
	if _, err := f.Tensor("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing tensor error = %v", err)
	}
	if f2, err := Parse(build(`{}`, nil)); err != nil || len(f2.Names()) != 0 || f2.Metadata() != nil {
		t.Errorf("empty file: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	f32 := func(name, shape, offs string) string {
		return `"` + name + `":{"dtype":"F32","shape":` + shape + `,"data_offsets":` + offs + `}`
	}
	buf8 := make([]byte, 8)
	cases := []struct {
		name string
		data []byte
		want string // substring of the error: the tensor name or the problem
	}{
		{"short file", []byte{1, 2, 3}, "shorter than"},
		{"header length 0", build("", nil), "minimum"},
		{"header length 1", build("{", nil), "minimum"},
		{"header length huge", binary.LittleEndian.AppendUint64(nil, 1<<62), "limit"},
		{"header length past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "exceeds"},
		{"header over 100MB", binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1), "limit"},
		{"not utf8", build("{\"\xff\":1}", nil), "UTF-8"},
		{"not json", build(`{"a":`, nil), `"a"`},
		{"bad json", build(`{1:2}`, nil), "JSON"},
		{"not object", build(`[1, 2]`, nil), "not a JSON object"},
		{"trailing garbage", build(`{}x`, nil), "after the header"},
		{"second object", build(`{}{}`, nil), "after the header"},
		{"entry not object", build(`{"w":[1]}`, nil), `"w"`},
		{"unknown dtype", build(`{"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}`, buf8), `"w": unknown dtype`},
		{"dtype not string", build(`{"w":{"dtype":3,"shape":[2],"data_offsets":[0,8]}}`, buf8), `"w"`},
		{"negative dim", build(`{`+f32("w", "[-2]", "[0,8]")+`}`, buf8), `"w": shape`},
		{"fractional dim", build(`{`+f32("w", "[2.0]", "[0,8]")+`}`, buf8), `"w": shape`},
		{"exponent dim", build(`{`+f32("w", "[2e0]", "[0,8]")+`}`, buf8), `"w": shape`},
		{"string dim", build(`{`+f32("w", `["2"]`, "[0,8]")+`}`, buf8), `"w": shape`},
		{"dim overflows u64", build(`{`+f32("w", "[99999999999999999999]", "[0,8]")+`}`, buf8), `"w": shape`},
		{"shape not array", build(`{`+f32("w", "2", "[0,8]")+`}`, buf8), `"w": shape`},
		{"numel overflow", build(`{`+f32("w", "[4294967296,4294967296]", "[0,8]")+`}`, buf8), `"w": element count`},
		{"huge shape", build(`{`+f32("w", "[1099511627776]", "[0,8]")+`}`, buf8), `"w": shape [1099511627776] of F32 needs 4398046511104 bytes`},
		{"bytes overflow", build(`{`+f32("w", "[4611686018427387904]", "[0,8]")+`}`, buf8), `"w": byte size`},
		{"one offset", build(`{`+f32("w", "[2]", "[0]")+`}`, buf8), `"w": data_offsets`},
		{"three offsets", build(`{`+f32("w", "[2]", "[0,8,8]")+`}`, buf8), `"w": data_offsets`},
		{"negative offset", build(`{`+f32("w", "[2]", "[-1,8]")+`}`, buf8), `"w": data_offsets`},
		{"begin after end", build(`{`+f32("w", "[0]", "[8,0]")+`}`, buf8), `"w": data_offsets [8, 0] begin after end`},
		{"end past buffer", build(`{`+f32("w", "[4]", "[0,16]")+`}`, buf8), `"w": data_offsets [0, 16] beyond`},
		{"huge end", build(`{`+f32("w", "[2]", "[0,18446744073709551615]")+`}`, buf8), `"w": data_offsets`},
		{"size mismatch", build(`{`+f32("w", "[3]", "[0,8]")+`}`, buf8), `"w": shape [3] of F32 needs 12 bytes`},
		{"gap at start", build(`{`+f32("w", "[1]", "[4,8]")+`}`, buf8), `"w": data_offsets [4, 8] leave a gap`},
		{"overlap", build(`{`+f32("w", "[2]", "[0,8]")+`,`+f32("v", "[1]", "[4,8]")+`}`, buf8), `"v": data_offsets [4, 8] overlap`},
		{"identical offsets", build(`{`+f32("w", "[2]", "[0,8]")+`,`+f32("v", "[2]", "[0,8]")+`}`, buf8), "overlap"},
		{"trailing buffer bytes", build(`{`+f32("w", "[1]", "[0,4]")+`}`, buf8), `"w": tensors end at offset 4`},
		{"no tensors but data", build(`{}`, buf8), "no tensors"},
		{"duplicate tensor", build(`{`+f32("w", "[1]", "[0,4]")+`,`+f32("w", "[1]", "[4,8]")+`}`, buf8), `"w": duplicate name`},
		{"duplicate field", build(`{"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}`, buf8), `"w": duplicate field "dtype"`},
		{"missing dtype", build(`{"w":{"shape":[2],"data_offsets":[0,8]}}`, buf8), `"w": missing dtype`},
		{"missing shape", build(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, buf8), `"w": missing shape`},
		{"missing offsets", build(`{"w":{"dtype":"F32","shape":[2]}}`, buf8), `"w": missing data_offsets`},
		{"metadata not object", build(`{"__metadata__":[1]}`, nil), "__metadata__ is not an object"},
		{"metadata number value", build(`{"__metadata__":{"a":1}}`, nil), `value of "a" is not a string`},
		{"metadata object value", build(`{"__metadata__":{"a":{}}}`, nil), `value of "a" is not a string`},
		{"metadata duplicate key", build(`{"__metadata__":{"a":"1","a":"2"}}`, nil), `duplicate key "a"`},
		{"duplicate metadata", build(`{"__metadata__":{},"__metadata__":{}}`, nil), "duplicate __metadata__"},
		{"sub-byte partial", build(`{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, buf8[:1]), `"w": shape [3] of F4 does not fill whole bytes`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.data)
			if err == nil {
				t.Fatalf("Parse accepted %q: %v", c.data, f.Names())
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestOpenErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	data := build(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"w"`) || !errors.Is(err, ErrInvalid) {
		t.Errorf("Open error = %v; want file path and tensor name", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Open(empty); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(empty file) = %v", err)
	}
}
