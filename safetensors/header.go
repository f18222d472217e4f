package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header accepted, as in the reference
// implementation (100 MB).
const MaxHeaderSize = 100_000_000

// ErrInvalid is wrapped by every error about malformed file contents.
var ErrInvalid = errors.New("invalid safetensors data")

// ErrNotFound is wrapped when a requested tensor is not in the file.
var ErrNotFound = errors.New("tensor not found")

// Info describes one stored tensor. Begin and End are byte offsets into the
// data buffer that follows the header.
type Info struct {
	Name  string
	DType DType
	Shape []int
	Begin int64
	End   int64
}

// header is a parsed and fully validated header.
type header struct {
	infos     map[string]Info
	names     []string          // sorted
	meta      map[string]string // nil when the file has no __metadata__
	dataStart int64             // 8 + header length
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

// parseHeader validates the whole file layout in data: the header length,
// the JSON header and every tensor entry against the data buffer. It never
// allocates in proportion to a declared shape.
func parseHeader(data []byte) (*header, error) {
	if len(data) < 8 {
		return nil, invalidf("%d bytes is shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	switch {
	case n < 2:
		return nil, invalidf("header length %d is below the minimum of 2", n)
	case n > MaxHeaderSize:
		return nil, invalidf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	case n > uint64(len(data)-8):
		return nil, invalidf("header length %d exceeds the %d bytes that follow it", n, len(data)-8)
	}
	raw := data[8 : 8+n]
	if !utf8.Valid(raw) {
		return nil, invalidf("header is not valid UTF-8")
	}
	h, err := decodeHeader(raw)
	if err != nil {
		return nil, err
	}
	h.dataStart = int64(8 + n)
	if err := h.validate(int64(len(data)) - h.dataStart); err != nil {
		return nil, err
	}
	return h, nil
}

// decodeHeader reads the JSON object token by token so that duplicate keys
// (which encoding/json would silently merge) are detected.
func decodeHeader(raw []byte) (*header, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidf("header is not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalidf("header is not a JSON object")
	}
	h := &header{infos: map[string]Info{}}
	sawMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidf("header is not valid JSON: %v", err)
		}
		key, _ := tok.(string)
		if key == "__metadata__" {
			if sawMeta {
				return nil, invalidf("duplicate __metadata__ key")
			}
			sawMeta = true
			if h.meta, err = decodeMeta(dec); err != nil {
				return nil, err
			}
			continue
		}
		if _, dup := h.infos[key]; dup {
			return nil, invalidf("tensor %q: duplicate name in header", key)
		}
		info, err := decodeInfo(dec, key)
		if err != nil {
			return nil, err
		}
		h.infos[key] = info
		h.names = append(h.names, key)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, invalidf("header is not valid JSON: %v", err)
	}
	for _, b := range raw[dec.InputOffset():] {
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return nil, invalidf("unexpected data after the header object")
		}
	}
	sort.Strings(h.names)
	return h, nil
}

// decodeMeta reads the __metadata__ value: null or an object of strings.
func decodeMeta(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidf("__metadata__: %v", err)
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalidf("__metadata__ is not an object")
	}
	m := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidf("__metadata__: %v", err)
		}
		k, _ := tok.(string)
		if _, dup := m[k]; dup {
			return nil, invalidf("__metadata__: duplicate key %q", k)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, invalidf("__metadata__: %v", err)
		}
		v, ok := tok.(string)
		if !ok {
			return nil, invalidf("__metadata__: value of %q is not a string", k)
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalidf("__metadata__: %v", err)
	}
	return m, nil
}

// decodeInfo reads one tensor entry {"dtype", "shape", "data_offsets"};
// unknown fields are skipped, as the reference implementation does.
func decodeInfo(dec *json.Decoder, name string) (Info, error) {
	info := Info{Name: name}
	bad := func(format string, args ...any) (Info, error) {
		return Info{}, invalidf("tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	if err := expectDelim(dec, '{'); err != nil {
		return bad("entry: %v", err)
	}
	var haveDType, haveShape, haveOffsets bool
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		field, _ := tok.(string)
		if seen[field] {
			return bad("duplicate field %q", field)
		}
		seen[field] = true
		switch field {
		case "dtype":
			tok, err := dec.Token()
			if err != nil {
				return bad("dtype: %v", err)
			}
			s, ok := tok.(string)
			if !ok {
				return bad("dtype is not a string")
			}
			if !DType(s).Valid() {
				return bad("unknown dtype %q", s)
			}
			info.DType, haveDType = DType(s), true
		case "shape":
			dims, err := decodeUints(dec, -1)
			if err != nil {
				return bad("shape: %v", err)
			}
			info.Shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return bad("shape dimension %d too large", d)
				}
				info.Shape[i] = int(d)
			}
			haveShape = true
		case "data_offsets":
			offs, err := decodeUints(dec, 2)
			if err != nil {
				return bad("data_offsets: %v", err)
			}
			if offs[0] > math.MaxInt64 || offs[1] > math.MaxInt64 {
				return bad("data_offsets [%d, %d] out of range", offs[0], offs[1])
			}
			info.Begin, info.End, haveOffsets = int64(offs[0]), int64(offs[1]), true
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bad("field %q: %v", field, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return bad("%v", err)
	}
	switch {
	case !haveDType:
		return bad("missing dtype")
	case !haveShape:
		return bad("missing shape")
	case !haveOffsets:
		return bad("missing data_offsets")
	}
	return info, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// decodeUints reads an array of non-negative integers; want ≥ 0 fixes its length.
func decodeUints(dec *json.Decoder, want int) ([]uint64, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var out []uint64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("element %v is not a number", tok)
		}
		v, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("element %s is not a non-negative integer", num)
		}
		out = append(out, v)
		if want >= 0 && len(out) > want {
			return nil, fmt.Errorf("more than %d elements", want)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if want >= 0 && len(out) != want {
		return nil, fmt.Errorf("%d elements, want %d", len(out), want)
	}
	return out, nil
}

// byteSize is numel(shape)·bits/8, or an error on overflow or a partial byte.
func byteSize(shape []int, d DType) (uint64, error) {
	n := uint64(1)
	for _, dim := range shape {
		hi, lo := bits.Mul64(n, uint64(dim))
		if hi != 0 {
			return 0, fmt.Errorf("element count of shape %v overflows", shape)
		}
		n = lo
	}
	hi, nbits := bits.Mul64(n, uint64(d.Bits()))
	if hi != 0 {
		return 0, fmt.Errorf("byte size of shape %v overflows", shape)
	}
	if nbits%8 != 0 {
		return 0, fmt.Errorf("shape %v of %s does not fill whole bytes", shape, d)
	}
	return nbits / 8, nil
}

// validate checks each entry against a data buffer of bufLen bytes, then
// that the entries, ordered by offset, tile the buffer exactly: no gap, no
// overlap, nothing left over.
func (h *header) validate(bufLen int64) error {
	order := make([]Info, 0, len(h.names))
	for _, name := range h.names {
		in := h.infos[name]
		if in.Begin > in.End {
			return invalidf("tensor %q: data_offsets [%d, %d] begin after end", name, in.Begin, in.End)
		}
		if in.End > bufLen {
			return invalidf("tensor %q: data_offsets [%d, %d] beyond the %d-byte data buffer", name, in.Begin, in.End, bufLen)
		}
		size, err := byteSize(in.Shape, in.DType)
		if err != nil {
			return invalidf("tensor %q: %v", name, err)
		}
		if uint64(in.End-in.Begin) != size {
			return invalidf("tensor %q: shape %v of %s needs %d bytes, data_offsets [%d, %d] hold %d",
				name, in.Shape, in.DType, size, in.Begin, in.End, in.End-in.Begin)
		}
		order = append(order, in)
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].Begin != order[j].Begin {
			return order[i].Begin < order[j].Begin
		}
		return order[i].End < order[j].End
	})
	var pos int64
	for _, in := range order {
		if in.Begin < pos {
			return invalidf("tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", in.Name, in.Begin, in.End, pos)
		}
		if in.Begin > pos {
			return invalidf("tensor %q: data_offsets [%d, %d] leave a gap after offset %d", in.Name, in.Begin, in.End, pos)
		}
		pos = in.End
	}
	if pos != bufLen {
		if len(order) == 0 {
			return invalidf("no tensors, but %d data bytes follow the header", bufLen)
		}
		return invalidf("tensor %q: tensors end at offset %d but the data buffer holds %d bytes", order[len(order)-1].Name, pos, bufLen)
	}
	return nil
}
