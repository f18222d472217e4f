package llama

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glora/glora/safetensors"
)

// FuzzLlama2c feeds arbitrary bytes to the llama2.c reader: it must never
// panic, and never allocate past what the file's length allows.
//
//	go test ./models/llama -run '^$' -fuzz FuzzLlama2c -fuzztime 60s
func FuzzLlama2c(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(refDir, "random-tied", "model.bin")); err == nil {
		f.Add(b)
		f.Add(b[:len(b)-4])
	}
	hdr := func(v ...int32) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, v)
		return b.Bytes()
	}
	f.Add(hdr(8, 8, 1, 2, 2, -4, 2))
	f.Add(hdr(1<<30, 1<<30, 1<<30, 1, 1, 1<<30, 1<<30))
	f.Add(hdr(-1, 0, 0, 0, 0, -2147483648, 0))
	for _, name := range []string{"model-v1.bin", "model-v2.bin"} { // the versioned files' headers, and a little more
		if raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ref", "llama", "trained", name)); err == nil {
			f.Add(raw[:300])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := readLlama2c(bufio.NewReader(bytes.NewReader(data)), int64(len(data)))
		if err != nil {
			return
		}
		if len(data) >= 4 && binary.LittleEndian.Uint32(data) == llama2cMagic {
			return // versioned: readVersioned checked its own size
		}
		if want, _ := llama2cSize(m.Cfg); want != int64(len(data)) {
			t.Fatalf("accepted a %d-byte file for a %d-byte config", len(data), want)
		}
	})
}

// FuzzConfig feeds arbitrary config.json text to ParseConfig: no panics,
// and what it accepts validates and survives a write and a reread.
func FuzzConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(refDir, "random-untied", "config.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"vocab_size":8,"hidden_size":4,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":2,"eos_token_id":[2,3]}`))
	f.Add([]byte(`{"vocab_size":8,"hidden_size":4,"intermediate_size":4,"num_hidden_layers":1,"num_attention_heads":3}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, extra, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		out, err := encodeConfig(cfg, extra, "float32", nil)
		if err != nil {
			return // e.g. an extra key holding invalid JSON numbers cannot occur; nothing to check
		}
		cfg2, _, err := ParseConfig(out)
		if err != nil || cfg2 != cfg {
			t.Fatalf("round trip: %+v → %s → %+v, %v", cfg, out, cfg2, err)
		}
	})
}

// TestBadFiles: each broken input gets an error naming the file and what is
// wrong, never a panic.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(refDir, "random-tied")
	bin, err := os.ReadFile(filepath.Join(src, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	cfgJSON, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	weights, err := os.ReadFile(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	folder := func(name string, cfg []byte, files map[string][]byte) string {
		write(filepath.Join(name, "config.json"), cfg)
		for n, b := range files {
			write(filepath.Join(name, n), b)
		}
		return filepath.Join(dir, name)
	}
	cases := []struct {
		path string
		want []string
	}{
		{write("short.bin", bin[:len(bin)-1]), []string{"short.bin", "byte"}},
		{write("long.bin", append(append([]byte(nil), bin...), 0)), []string{"long.bin", "byte"}},
		{write("hdr.bin", bin[:10]), []string{"hdr.bin", "header"}},
		{write("zero.bin", make([]byte, 28)), []string{"zero.bin", "dim"}},
		{folder("noweights", cfgJSON, nil), []string{"noweights", "model.safetensors"}},
		{folder("badjson", []byte(`{"vocab_size":`), map[string][]byte{"model.safetensors": weights}), []string{"config.json"}},
		{folder("biased", []byte(strings.Replace(string(cfgJSON), `"hidden_act"`, `"attention_bias": true, "hidden_act"`, 1)),
			map[string][]byte{"model.safetensors": weights}), []string{"missing", "self_attn.k_proj.bias"}},
		{folder("shape", []byte(strings.Replace(string(cfgJSON), `"intermediate_size": 40`, `"intermediate_size": 41`, 1)),
			map[string][]byte{"model.safetensors": weights}), []string{"model.safetensors", "mlp.", "the config says"}},
		{folder("layers", []byte(strings.Replace(string(cfgJSON), `"num_hidden_layers": 2`, `"num_hidden_layers": 1`, 1)),
			map[string][]byte{"model.safetensors": weights}), []string{"unexpected tensor", "model.layers.1"}},
		{folder("missing", []byte(strings.Replace(string(cfgJSON), `"num_hidden_layers": 2`, `"num_hidden_layers": 3`, 1)),
			map[string][]byte{"model.safetensors": weights}), []string{"missing", "model.layers.2"}},
		{folder("index", cfgJSON, map[string][]byte{"model.safetensors.index.json": []byte(`{"weight_map":{"a":"../x.safetensors"}}`)}),
			[]string{"index.json", "not a file in the folder"}},
		{folder("trunc", cfgJSON, map[string][]byte{"model.safetensors": weights[:len(weights)/2]}), []string{"model.safetensors"}},
	}
	for _, c := range cases {
		_, _, err := Load(c.path)
		if err == nil {
			t.Errorf("%s: loaded", c.path)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", filepath.Base(c.path), err, w)
			}
		}
	}
}

// TestSharded: a folder whose weights are split over shards listed by
// model.safetensors.index.json loads to the same logits.
func TestSharded(t *testing.T) {
	src := filepath.Join(refDir, "random-untied")
	m, _, err := LoadHF(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	index := `{"metadata":{"total_size":0},"weight_map":{`
	for i, v := range m.Params() {
		shard := "model-00001-of-00002.safetensors"
		if strings.Contains(v.Name, "layers.1") || v.Name == "lm_head.weight" {
			shard = "model-00002-of-00002.safetensors"
		}
		if i > 0 {
			index += ","
		}
		index += `"` + v.Name + `":"` + shard + `"`
	}
	os.WriteFile(filepath.Join(dir, IndexFile), []byte(index+"}}"), 0o644)
	// the shards: split the reference file's tensors
	one := map[string]bool{}
	for _, v := range m.Params() {
		one[v.Name] = !(strings.Contains(v.Name, "layers.1") || v.Name == "lm_head.weight")
	}
	if err := writeSplit(m, filepath.Join(dir, "model-00001-of-00002.safetensors"), func(n string) bool { return one[n] }); err != nil {
		t.Fatal(err)
	}
	if err := writeSplit(m, filepath.Join(dir, "model-00002-of-00002.safetensors"), func(n string) bool { return !one[n] }); err != nil {
		t.Fatal(err)
	}
	m2, _, err := LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{1, 2, 3, 40}
	a, b := logitsOf(t, m, ids, 1, 4), logitsOf(t, m2, ids, 1, 4)
	checkClose(t, "sharded", b, a, 0)
}

func writeSplit(m *Model, path string, keep func(string) bool) error {
	w := safetensors.NewWriter()
	for _, v := range m.Params() {
		if keep(v.Name) {
			if err := w.Add(v.Name, v.Value, safetensors.F32); err != nil {
				return err
			}
		}
	}
	return w.WriteFile(path)
}
