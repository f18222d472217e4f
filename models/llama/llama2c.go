package llama

// llama2.c's checkpoint format (the "legacy", version-0 file of Karpathy's
// llama2.c, read by its run.c; versions 1 and 2 are read too, see
// llama2c_versioned.go):
//
//	header: 7 little-endian int32   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//	        vocab_size < 0 means an untied classifier (|vocab_size| tokens)
//	then float32, row-major, PyTorch's (out, in) layouts:
//	        token_embedding (V, D)
//	        rms_att (L, D)   wq (L, H·hd, D)   wk (L, Hkv·hd, D)   wv (L, Hkv·hd, D)   wo (L, D, H·hd)
//	        rms_ffn (L, D)   w1 (L, F, D)   w2 (L, D, F)   w3 (L, F, D)
//	        rms_final (D)    freq_cis_real (seq_len, hd/2)   freq_cis_imag (seq_len, hd/2)
//	        wcls (V, D) when untied
//
// w1, w2, w3 are gate_proj, down_proj, up_proj. run.c fixes rms_norm_eps at
// 1e-5 and rope_theta at 10000, and rotates interleaved pairs (2i, 2i+1)
// where Hugging Face rotates (i, i+hd/2): wq's and wk's rows are permuted
// per head between the two (as llama2.c's export.py and Hugging Face's
// conversion script do). The freq_cis tables are not read (glora computes
// the rotation) and are written as run.c's export writes them.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/safetensors"
)

// llama2.c's fixed hyperparameters.
const (
	llama2cEps   = 1e-5
	llama2cTheta = 10000
)

// llama2cHeaderSize is the 7 int32 of the header.
const llama2cHeaderSize = 7 * 4

// LoadLlama2c reads a llama2.c checkpoint (see the file comment). The file
// must be exactly as long as its header says.
func LoadLlama2c(path string) (*Model, Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("llama: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("llama: %w", err)
	}
	m, err := readLlama2c(bufio.NewReaderSize(f, 1<<20), st.Size())
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("llama: %s: %w", path, err)
	}
	return m, Checkpoint{Config: m.Cfg, DType: safetensors.F32, Format: "llama2c"}, nil
}

// llama2cConfig turns the header into a Config.
func llama2cConfig(h [7]int32) (Config, error) {
	for i, v := range h {
		if i != 5 && v <= 0 {
			return Config{}, fmt.Errorf("llama2.c header: %s = %d must be positive", llama2cFields[i], v)
		}
	}
	if h[5] == 0 || h[5] == math.MinInt32 {
		return Config{}, fmt.Errorf("llama2.c header: vocab_size = %d", h[5])
	}
	vocab := int(h[5])
	if vocab < 0 {
		vocab = -vocab
	}
	cfg := Config{Dim: int(h[0]), Hidden: int(h[1]), Layers: int(h[2]), Heads: int(h[3]), KVHeads: int(h[4]),
		VocabSize: vocab, MaxSeq: int(h[6]), TiedEmbed: h[5] > 0, NormEps: llama2cEps, RopeTheta: llama2cTheta,
		BOS: 1, EOS: 2}
	if vocab <= 2 {
		cfg.BOS, cfg.EOS = -1, -1
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("llama2.c header %v: %s", h, strings.TrimPrefix(err.Error(), "llama: config: "))
	}
	return cfg, nil
}

var llama2cFields = [7]string{"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"}

// llama2cSize is the byte size of a checkpoint with this config, or an
// error when it would overflow.
func llama2cSize(c Config) (int64, error) {
	hd := int64(c.Head())
	D, F, L, V := int64(c.Dim), int64(c.Hidden), int64(c.Layers), int64(c.VocabSize)
	H, K, S := int64(c.Heads), int64(c.KVHeads), int64(c.MaxSeq)
	var n int64
	for _, t := range [][2]int64{
		{V, D}, {L, D}, {L, H * hd * D}, {L, 2 * K * hd * D}, {L, D * H * hd}, {L, D}, {L, 3 * F * D}, {1, D}, {S, hd},
	} {
		if t[0] > 0 && t[1] > (math.MaxInt64/8-n)/t[0] {
			return 0, errors.New("llama2.c header: sizes overflow")
		}
		n += t[0] * t[1]
	}
	if !c.TiedEmbed {
		n += V * D
	}
	return llama2cHeaderSize + 4*n, nil
}

// readLlama2c decodes a checkpoint of size bytes from r: the legacy format,
// or a versioned one (llama2c_versioned.go) when it starts with "ak42".
func readLlama2c(r *bufio.Reader, size int64) (*Model, error) {
	if magic, err := r.Peek(4); err == nil && binary.LittleEndian.Uint32(magic) == llama2cMagic {
		return readVersioned(r, size)
	}
	var h [7]int32
	if err := binary.Read(r, binary.LittleEndian, &h); err != nil {
		return nil, fmt.Errorf("llama2.c header (7 int32): %w", err)
	}
	cfg, err := llama2cConfig(h)
	if err != nil {
		return nil, fmt.Errorf("not a llama2.c checkpoint: %w", err)
	}
	want, err := llama2cSize(cfg)
	if err != nil {
		return nil, err
	}
	if want != size {
		return nil, fmt.Errorf("the header (dim %d, hidden %d, %d layers, %d/%d heads, vocab %d, seq_len %d) makes a %d-byte file, this one has %d",
			h[0], h[1], h[2], h[3], h[4], h[5], h[6], want, size)
	}
	m, err := New(cfg, rand.New(rand.NewPCG(0, 0))) // every value is overwritten
	if err != nil {
		return nil, err
	}
	for _, p := range llama2cPlan(m) {
		if p.skip > 0 {
			if _, err := io.CopyN(io.Discard, r, 4*int64(p.skip)); err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			continue
		}
		for l, t := range p.data {
			if err := binary.Read(r, binary.LittleEndian, t); err != nil {
				return nil, fmt.Errorf("%s (layer %d): %w", p.name, l, err)
			}
			if p.heads > 0 {
				fromInterleaved(t, p.heads, cfg.Head())
			}
		}
	}
	return m, nil
}

// llama2cPart is one run of the file: the tensors it fills (one per layer,
// or one), whose rows are interleaved per head (heads > 0), or skip floats
// to pass over.
type llama2cPart struct {
	name  string
	data  [][]float32
	heads int
	skip  int
}

// llama2cPlan lists the file's runs in order, pointing into m's tensors.
func llama2cPlan(m *Model) []llama2cPart {
	c := m.Cfg
	perLayer := func(name string, heads int, get func(i int) []float32) llama2cPart {
		p := llama2cPart{name: name, heads: heads}
		for i := range m.Layers {
			p.data = append(p.data, get(i))
		}
		return p
	}
	// w(j): each layer's j-th Linear weight, in linearNames order
	w := func(j int) func(int) []float32 {
		return func(i int) []float32 { return m.bases[i][j].W.Value.Data }
	}
	plan := []llama2cPart{
		{name: "token_embedding", data: [][]float32{m.Embed.Value.Data}},
		perLayer("rms_att_weight", 0, func(i int) []float32 { return m.Layers[i].AttnNorm.Value.Data }),
		perLayer("wq", c.Heads, w(0)),
		perLayer("wk", c.KVHeads, w(1)),
		perLayer("wv", 0, w(2)),
		perLayer("wo", 0, w(3)),
		perLayer("rms_ffn_weight", 0, func(i int) []float32 { return m.Layers[i].MLPNorm.Value.Data }),
		perLayer("w1", 0, w(4)),
		perLayer("w2", 0, w(6)),
		perLayer("w3", 0, w(5)),
		{name: "rms_final_weight", data: [][]float32{m.Norm.Value.Data}},
		{name: "freq_cis", skip: c.MaxSeq * c.Head()},
	}
	if !c.TiedEmbed {
		plan = append(plan, llama2cPart{name: "wcls", data: [][]float32{m.Head.W.Value.Data}})
	}
	return plan
}

// fromInterleaved reorders the rows of w (heads·hd, in) in place from
// llama2.c's rotary layout (pair i = rows 2i, 2i+1 of a head) to Hugging
// Face's (pair i = rows i, i+hd/2): HF row j·hd/2+i = llama2.c row 2i+j.
func fromInterleaved(w []float32, heads, hd int) { permuteRows(w, heads, hd, false) }

// toInterleaved is the inverse of fromInterleaved.
func toInterleaved(w []float32, heads, hd int) { permuteRows(w, heads, hd, true) }

func permuteRows(w []float32, heads, hd int, inverse bool) {
	in := len(w) / (heads * hd)
	head := make([]float32, hd*in)
	half := hd / 2
	for h := 0; h < heads; h++ {
		blk := w[h*hd*in : (h+1)*hd*in]
		copy(head, blk)
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				hf, c := j*half+i, 2*i+j
				if inverse {
					copy(blk[c*in:(c+1)*in], head[hf*in:(hf+1)*in])
				} else {
					copy(blk[hf*in:(hf+1)*in], head[c*in:(c+1)*in])
				}
			}
		}
	}
}

// SaveLlama2c writes m as a llama2.c checkpoint that run.c reads, written
// to a temporary file and renamed into place. The format has no room for
// another rms_norm_eps than 1e-5, rope_theta than 10000, head size than
// dim/n_heads, biases, or token ids: a model with others is refused.
func SaveLlama2c(m *Model, path string) error {
	c := m.Cfg
	if err := c.Validate(); err != nil {
		return fmt.Errorf("llama: save %s: %w", path, err)
	}
	if c.AttnBias || c.MLPBias {
		return fmt.Errorf("llama: save %s: llama2.c's format has no biases; this model has attention_bias %v, mlp_bias %v (save it as a Hugging Face folder)",
			path, c.AttnBias, c.MLPBias)
	}
	if c.NormEps != llama2cEps || c.RopeTheta != llama2cTheta || c.Head()*c.Heads != c.Dim {
		return fmt.Errorf("llama: save %s: llama2.c's format fixes rms_norm_eps 1e-5, rope_theta 10000 and head size dim/n_heads; this model has %g, %g and %d",
			path, c.NormEps, c.RopeTheta, c.Head())
	}
	for _, v := range m.Store.Params() {
		if !isModelParam(v.Name) {
			return fmt.Errorf("llama: save %s: %q is not a Llama parameter (merge adapters first)", path, v.Name)
		}
	}
	for _, v := range []int{c.Dim, c.Hidden, c.Layers, c.Heads, c.KVHeads, c.VocabSize, c.MaxSeq} {
		if v > math.MaxInt32 {
			return fmt.Errorf("llama: save %s: size %d does not fit llama2.c's int32 header", path, v)
		}
	}
	vocab := int32(c.VocabSize)
	if !c.TiedEmbed {
		vocab = -vocab
	}
	hdr := [7]int32{int32(c.Dim), int32(c.Hidden), int32(c.Layers), int32(c.Heads), int32(c.KVHeads), vocab, int32(c.MaxSeq)}
	return atomicfile.WriteFile(path, func(out io.Writer) error {
		bw := bufio.NewWriterSize(out, 1<<20)
		if err := binary.Write(bw, binary.LittleEndian, hdr); err != nil {
			return err
		}
		for _, p := range llama2cPlan(m) {
			if p.skip > 0 {
				if err := writeFreqCis(bw, c); err != nil {
					return err
				}
				continue
			}
			for _, t := range p.data {
				if p.heads > 0 {
					t = append([]float32(nil), t...)
					toInterleaved(t, p.heads, c.Head())
				}
				if err := binary.Write(bw, binary.LittleEndian, t); err != nil {
					return err
				}
			}
		}
		return bw.Flush()
	})
}

// writeFreqCis writes the rotation tables export.py writes: cos then sin of
// pos·10000^(−2i/hd), (seq_len, hd/2) each, in float32 as torch computes them.
func writeFreqCis(w io.Writer, c Config) error {
	half := c.Head() / 2
	tab := make([]float32, c.MaxSeq*half)
	for _, fn := range []func(float64) float64{math.Cos, math.Sin} {
		for p := 0; p < c.MaxSeq; p++ {
			for i := 0; i < half; i++ {
				inv := float32(1 / math.Pow(llama2cTheta, float64(float32(2*i)/float32(c.Head()))))
				tab[p*half+i] = float32(fn(float64(float32(p) * inv)))
			}
		}
		if err := binary.Write(w, binary.LittleEndian, tab); err != nil {
			return err
		}
	}
	return nil
}
