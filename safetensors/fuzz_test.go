package safetensors

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and
// whatever it accepts must be fully readable and consistent.
//
//	go test ./safetensors -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	if fix, err := os.ReadFile("testdata/fixture.safetensors"); err == nil {
		f.Add(fix)
	}
	var buf bytes.Buffer
	w := NewWriter()
	w.Add("a", mustTensorF([]float32{1, 2, 3}, 3), F16)
	w.Add("b", mustTensorF([]float32{-1}, 1), F32)
	w.SetMetadata(map[string]string{"k": "v"})
	w.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add(build(`{}`, nil))
	f.Add(build(`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"__metadata__":null}`, make([]byte, 8)))
	f.Add(build(`{"w":{"dtype":"F8_E4M3","shape":[2,1],"data_offsets":[0,2]},"z":{"dtype":"F4","shape":[0],"data_offsets":[2,2]}}`, []byte{0x7f, 0x38}))
	f.Add(build(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, '{', '}'})

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		var total int64
		for _, name := range file.Names() {
			in, ok := file.Info(name)
			if !ok || in.Begin < 0 || in.End < in.Begin || in.End > int64(len(data)) {
				t.Fatalf("accepted bad info %+v", in)
			}
			total += in.End - in.Begin
			x, err := file.Tensor(name)
			if err != nil {
				if in.DType == C64 || in.DType == F4 || in.DType == F6E2M3 || in.DType == F6E3M2 {
					continue
				}
				t.Fatalf("Tensor(%q): %v", name, err)
			}
			if len(x.Data)*in.DType.Bits() != int(in.End-in.Begin)*8 {
				t.Fatalf("%q: %d elements for %d bytes of %s", name, len(x.Data), in.End-in.Begin, in.DType)
			}
		}
		if total != int64(len(data))-file.hdr.dataStart {
			t.Fatalf("tensors cover %d bytes of a %d-byte buffer", total, int64(len(data))-file.hdr.dataStart)
		}
	})
}
