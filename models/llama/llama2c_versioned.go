package llama

// llama2.c's versioned checkpoints (export.py --version 1 or 2, read by
// its runq.c for version 2):
//
//	header, 256 bytes: uint32 magic "ak42" (0x616b3432), int32 version,
//	        7 int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
//	        uint8 shared_classifier, version 2: int32 group_size; zeros to 256
//	version 1, float32:
//	        rms_att (L, D)  rms_ffn (L, D)  rms_final (D)  token_embedding (V, D)
//	        wq (L, …)  wk  wv  wo  w1  w2  w3   wcls (V, D) unless shared
//	version 2: the three norms in float32 as above, then each of
//	        token_embedding, wq (per layer), wk, wv, wo, w1, w2, w3, wcls unless shared
//	        as int8 values followed by one float32 scale per group_size values
//	        (Q8_0: value = int8 × scale).
//
// There are no rotation tables; the rows of wq and wk are interleaved per
// head as in the legacy file.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
)

const (
	llama2cMagic      = 0x616b3432 // "ak42", little-endian
	llama2cHeaderV1V2 = 256
)

// readVersioned decodes a version-1 or version-2 checkpoint of size bytes.
func readVersioned(r *bufio.Reader, size int64) (*Model, error) {
	hdr := make([]byte, llama2cHeaderV1V2)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("llama2.c header (256 bytes): %w", err)
	}
	version := int32(binary.LittleEndian.Uint32(hdr[4:]))
	if version != 1 && version != 2 {
		return nil, fmt.Errorf("llama2.c header: version %d (glora reads the legacy file and versions 1 and 2)", version)
	}
	var h [7]int32
	for i := range h {
		h[i] = int32(binary.LittleEndian.Uint32(hdr[8+4*i:]))
	}
	shared := hdr[36]
	if shared > 1 || h[5] <= 0 {
		return nil, fmt.Errorf("llama2.c version %d header: shared_classifier %d, vocab_size %d", version, shared, h[5])
	}
	if shared == 0 {
		h[5] = -h[5] // llama2cConfig's sign convention: an untied classifier
	}
	cfg, err := llama2cConfig(h)
	if err != nil {
		return nil, fmt.Errorf("not a llama2.c checkpoint: %w", err)
	}
	group := 0
	if version == 2 {
		group = int(int32(binary.LittleEndian.Uint32(hdr[37:])))
		if group <= 0 || group > maxDim {
			return nil, fmt.Errorf("llama2.c version 2 header: group_size %d", group)
		}
	}
	want, err := versionedSize(cfg, int(version), group) // before anything is allocated
	if err != nil {
		return nil, err
	}
	if want != size {
		return nil, fmt.Errorf("the version-%d header (dim %d, hidden %d, %d layers, %d/%d heads, vocab %d, seq_len %d, group %d) makes a %d-byte file, this one has %d",
			version, h[0], h[1], h[2], h[3], h[4], cfg.VocabSize, h[6], group, want, size)
	}
	m, err := New(cfg, rand.New(rand.NewPCG(0, 0))) // every value is overwritten
	if err != nil {
		return nil, err
	}
	norms, mats := versionedPlan(m)
	for _, p := range norms {
		if err := binary.Read(r, binary.LittleEndian, p.data); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	var q []int8
	var scales []float32
	for _, p := range mats {
		if version == 1 {
			if err := binary.Read(r, binary.LittleEndian, p.data); err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
		} else {
			q, scales = grow(q, p.n), grow(scales, p.n/group)
			if err := binary.Read(r, binary.LittleEndian, q); err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			if err := binary.Read(r, binary.LittleEndian, scales); err != nil {
				return nil, fmt.Errorf("%s scales: %w", p.name, err)
			}
			for i, v := range q {
				p.data[i] = float32(v) * scales[i/group]
			}
		}
		if p.heads > 0 {
			fromInterleaved(p.data, p.heads, cfg.Head())
		}
	}
	for _, v := range m.Store.Params() {
		for _, x := range v.Value.Data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, errors.New("llama2.c: " + v.Name + " holds NaN or Inf")
			}
		}
	}
	return m, nil
}

// versionedTensor is one tensor of a versioned file: where it goes, its
// size, and whether its rows are interleaved per head.
type versionedTensor struct {
	name  string
	data  []float32
	n     int
	heads int
}

// versionedPlan lists a versioned file's float32 norms and its weight
// matrices (float32 in version 1, Q8_0 in version 2), in file order.
func versionedPlan(m *Model) (norms, mats []versionedTensor) {
	c := m.Cfg
	t := func(name string, data []float32, heads int) versionedTensor {
		return versionedTensor{name: name, data: data, n: len(data), heads: heads}
	}
	for i, l := range m.Layers {
		norms = append(norms, t(fmt.Sprintf("rms_att_weight (layer %d)", i), l.AttnNorm.Value.Data, 0))
	}
	for i, l := range m.Layers {
		norms = append(norms, t(fmt.Sprintf("rms_ffn_weight (layer %d)", i), l.MLPNorm.Value.Data, 0))
	}
	norms = append(norms, t("rms_final_weight", m.Norm.Value.Data, 0))
	mats = append(mats, t("token_embedding", m.Embed.Value.Data, 0))
	for _, j := range []struct {
		name  string
		idx   int
		heads int
	}{{"wq", 0, c.Heads}, {"wk", 1, c.KVHeads}, {"wv", 2, 0}, {"wo", 3, 0}, {"w1", 4, 0}, {"w2", 6, 0}, {"w3", 5, 0}} {
		for i := range m.Layers {
			mats = append(mats, t(fmt.Sprintf("%s (layer %d)", j.name, i), m.bases[i][j.idx].W.Value.Data, j.heads))
		}
	}
	if !c.TiedEmbed {
		mats = append(mats, t("wcls", m.Head.W.Value.Data, 0))
	}
	return norms, mats
}

// versionedSize is the byte size of a version-1 or version-2 file of this
// config (group_size group for version 2), or an error when it overflows
// or a matrix does not split into groups.
func versionedSize(c Config, version, group int) (int64, error) {
	hd := int64(c.Head())
	D, F, L, V := int64(c.Dim), int64(c.Hidden), int64(c.Layers), int64(c.VocabSize)
	H, K := int64(c.Heads), int64(c.KVHeads)
	mats := []int64{V * D, H * hd * D, K * hd * D, K * hd * D, D * H * hd, F * D, D * F, F * D} // embedding, then one layer's
	counts := []int64{1, L, L, L, L, L, L, L}
	if !c.TiedEmbed {
		mats, counts = append(mats, V*D), append(counts, 1)
	}
	n := int64(llama2cHeaderV1V2) + 4*((2*L+1)*D)
	for i, sz := range mats {
		per := 4 * sz
		if version == 2 {
			if sz%int64(group) != 0 {
				return 0, fmt.Errorf("llama2.c version 2: a %d-value matrix does not split into groups of %d", sz, group)
			}
			per = sz + 4*(sz/int64(group))
		}
		if per > (math.MaxInt64/2-n)/counts[i] {
			return 0, errors.New("llama2.c header: sizes overflow")
		}
		n += per * counts[i]
	}
	return n, nil
}

// grow is s resized to n, reusing its array when it is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
