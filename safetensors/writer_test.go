package safetensors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/tensor"
)

func mustTensor(t *testing.T, data []float32, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromSlice(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func writeBytes(t *testing.T, w *Writer) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

// TestReferenceVectors checks byte-for-byte against the expected outputs in
// the reference implementation's own tests (safetensors/src/tensor.rs).
func TestReferenceVectors(t *testing.T) {
	w := NewWriter()
	if err := w.Add("attn.0", mustTensor(t, []float32{0, 1, 2, 3, 4, 5}, 1, 2, 3), F32); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
		116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
		58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
		101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
		0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
	}
	if got := writeBytes(t, w); !bytes.Equal(got, want) {
		t.Errorf("attn.0:\n got %q\nwant %q", got, want)
	}

	w = NewWriter()
	w.Add("attn0", mustTensor(t, []float32{0, 1, 2, 3, 4, 5}, 1, 1, 2, 3), F32)
	got := writeBytes(t, w)
	wantHdr := `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `
	if string(got[8:80]) != wantHdr || got[0] != 72 || len(got) != 80+24 {
		t.Errorf("forced alignment: got %q", got)
	}

	if got := writeBytes(t, NewWriter()); !bytes.Equal(got, []byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', 32, 32, 32, 32, 32, 32}) {
		t.Errorf("empty: got %v", got)
	}
	w = NewWriter()
	w.SetMetadata(map[string]string{"framework": "pt"})
	want = append([]byte{40, 0, 0, 0, 0, 0, 0, 0}, `{"__metadata__":{"framework":"pt"}}     `...)
	if got := writeBytes(t, w); !bytes.Equal(got, want) {
		t.Errorf("empty with metadata: got %q", got)
	}
}

// fixtureWriter rebuilds, from float32 inputs, the tensors that
// testdata/gen_fixture.py stored with torch.
func fixtureWriter(t *testing.T) *Writer {
	w := NewWriter()
	add := func(name string, d DType, data []float32, shape ...int) {
		if err := w.Add(name, mustTensor(t, data, shape...), d); err != nil {
			t.Fatal(err)
		}
	}
	// Insertion order deliberately differs from file order.
	add("empty", F16, []float32{}, 0, 3)
	add("emb", F16, []float32{0.1, -1.0 / 3, 6e-8, 70000}, 2, 2)
	add("model.b", BF16, []float32{0.1, -1.0 / 3, 65504, 1e30}, 4)
	add("model.w", F32, []float32{0, 1, -2.5, 3.1415927, 1e-40, float32(math.Copysign(0, -1))}, 2, 3)
	add("héllo", BF16, []float32{1.5, -7.25}, 2)
	add("scalar", F32, []float32{42})
	w.SetMetadata(map[string]string{"format": "pt"})
	return w
}

func TestTorchFixture(t *testing.T) {
	want, err := os.ReadFile("testdata/fixture.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if got := writeBytes(t, fixtureWriter(t)); !bytes.Equal(got, want) {
		t.Errorf("writer output differs from the torch fixture:\n got %q\nwant %q", got, want)
	}

	tensors, meta, err := ReadFile("testdata/fixture.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(meta) != 1 || meta["format"] != "pt" || len(tensors) != 6 {
		t.Fatalf("meta %v, %d tensors", meta, len(tensors))
	}
	checks := map[string][]float32{
		"model.w": {0, 1, -2.5, 3.1415927, 1e-40, 0},
		"emb":     {0.0999755859375, -0.333251953125, 5.960464477539063e-08, float32(math.Inf(1))},
		"model.b": {0.10009765625, -0.333984375, 65536, math.Float32frombits(0x714a0000)},
		"héllo":   {1.5, -7.25},
		"scalar":  {42},
		"empty":   {},
	}
	for name, vals := range checks {
		x := tensors[name]
		if x == nil || len(x.Data) != len(vals) {
			t.Fatalf("%s = %v", name, x)
		}
		for i, v := range vals {
			if x.Data[i] != v {
				t.Errorf("%s[%d] = %v, want %v", name, i, x.Data[i], v)
			}
		}
	}
	if s := tensors["scalar"].Shape; len(s) != 0 {
		t.Errorf("scalar shape %v", s)
	}
	if math.Signbit(float64(tensors["model.w"].Data[5])) != true {
		t.Error("-0 lost its sign")
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, 3*50000) // larger than one encode chunk
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	dir := t.TempDir()
	for _, d := range []DType{F32, F16, BF16} {
		path := filepath.Join(dir, string(d)+".safetensors")
		src := mustTensor(t, data, 3, 50000)
		if err := WriteFile(path, map[string]*tensor.Tensor{"x": src, "y": tensor.Scalar(0.5)}, d, nil); err != nil {
			t.Fatal(err)
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Metadata() != nil {
			t.Errorf("%s: metadata %v, want nil", d, f.Metadata())
		}
		if in, _ := f.Info("x"); in.DType != d {
			t.Errorf("stored dtype %s, want %s", in.DType, d)
		}
		x, err := f.Tensor("x")
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range data {
			var want float32
			switch d {
			case F32:
				want = v
			case F16:
				want = F16ToF32(F32ToF16(v))
			case BF16:
				want = BF16ToF32(F32ToBF16(v))
			}
			if x.Data[i] != want {
				t.Fatalf("%s: x[%d] = %v, want %v", d, i, x.Data[i], want)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Tensor("x"); err == nil {
			t.Error("Tensor after Close succeeded")
		}
		f.Close()
	}
}

func TestSaveLoadSaveIdentical(t *testing.T) {
	first := writeBytes(t, fixtureWriter(t))
	f, err := Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter()
	for _, name := range f.Names() {
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := f.Info(name)
		if err := w.Add(name, x, in.DType); err != nil {
			t.Fatal(err)
		}
	}
	w.SetMetadata(f.Metadata())
	if second := writeBytes(t, w); !bytes.Equal(first, second) {
		t.Errorf("save->load->save changed the bytes:\n%q\n%q", first, second)
	}
}

func TestWriterOrderAndEscaping(t *testing.T) {
	w := NewWriter()
	w.Add("b", tensor.Scalar(1), F16)
	w.Add("a", tensor.Scalar(1), F16)
	w.Add("c", tensor.Scalar(1), BF16)
	w.Add("z", tensor.Scalar(1), F32)
	w.Add("q\"\\\n\x01/<é", tensor.Scalar(1), F32)
	w.SetMetadata(map[string]string{"b": "2", "a": "tab\there"})
	got := string(writeBytes(t, w))
	wantOrder := []string{`"__metadata__":{"a":"tab\there","b":"2"}`, `"q\"\\\n\u0001/<é"`, `"z":{`, `"c":{`, `"a":{`, `"b":{`}
	pos := -1
	for _, s := range wantOrder {
		i := strings.Index(got, s)
		if i <= pos {
			t.Fatalf("%q not found after position %d in %q", s, pos, got)
		}
		pos = i
	}
	f, err := Parse([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Info("q\"\\\n\x01/<é"); !ok {
		t.Errorf("escaped name did not round-trip: %q", f.Names())
	}
	if f.Metadata()["a"] != "tab\there" {
		t.Errorf("metadata %q", f.Metadata())
	}
}

func TestAddRejects(t *testing.T) {
	w := NewWriter()
	ok := tensor.New(2, 2)
	if err := w.Add("w", ok, F32); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		t     *tensor.Tensor
		dtype DType
		want  string
	}{
		{"w", ok, F32, "duplicate"},
		{"x", ok, I32, "cannot write dtype"},
		{"__metadata__", ok, F32, "reserved"},
		{"bad\xff", ok, F32, "UTF-8"},
		{"nil", nil, F32, "nil tensor"},
		{"short", &tensor.Tensor{Shape: []int{2, 2}, Data: make([]float32, 3)}, F32, "3 values"},
		{"neg", &tensor.Tensor{Shape: []int{-1, -2}, Data: make([]float32, 2)}, F32, "negative"},
	}
	for _, c := range cases {
		err := w.Add(c.name, c.t, c.dtype)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.name)) {
			t.Errorf("Add(%q) = %v, want error mentioning %q", c.name, err, c.want)
		}
	}
}

// failAfter fails every write once limit bytes have passed.
type failAfter struct {
	w     io.Writer
	limit int
}

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.w.Write(p[:f.limit])
		f.limit = 0
		return n, errDiskFull
	}
	f.limit -= len(p)
	return f.w.Write(p)
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	big := mustTensor(t, make([]float32, 1<<19), 1<<19) // 2 MiB: spans several buffer flushes
	w := NewWriter()
	w.Add("big", big, F32)

	wrapForTest = func(out io.Writer) io.Writer { return &failAfter{w: out, limit: 1 << 20} }
	err := w.WriteFile(path)
	wrapForTest = nil
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteFile with failing writer = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("failed write left a file at the destination: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed write left files behind: %v", ents)
	}

	// An existing file survives a failed overwrite untouched.
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	big.Data = big.Data[:10] // now inconsistent with its shape: WriteTo must fail
	if err := w.WriteFile(path); err == nil || !strings.Contains(err.Error(), `"big"`) {
		t.Errorf("WriteFile with a corrupted tensor = %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed overwrite changed the existing file")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
	if err := w.WriteFile(filepath.Join(dir, "no-such-dir", "x.safetensors")); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

// mustTensorF is mustTensor for contexts without a *testing.T.
func mustTensorF(data []float32, shape ...int) *tensor.Tensor {
	x, err := tensor.FromSlice(data, shape...)
	if err != nil {
		panic(err)
	}
	return x
}
