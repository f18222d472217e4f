package safetensors

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/tensor"
)

// Writer collects tensors and writes them as one safetensors file laid out
// exactly like the reference implementation: tensors ordered by descending
// dtype rank (F32 before BF16 before F16) then by name, packed without gaps,
// the compact JSON header padded with spaces to a multiple of 8 bytes.
//
// Tensors are referenced, not copied: do not modify them before writing.
type Writer struct {
	entries []wentry
	names   map[string]struct{}
	meta    map[string]string
}

type wentry struct {
	name  string
	t     *tensor.Tensor
	dtype DType
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer { return &Writer{names: map[string]struct{}{}} }

// Add queues t to be stored under name as dtype (F32, F16 or BF16; F16 and
// BF16 round to nearest even).
func (w *Writer) Add(name string, t *tensor.Tensor, dtype DType) error {
	switch {
	case !dtype.writable():
		return fmt.Errorf("safetensors: add %q: cannot write dtype %q (want F32, F16 or BF16)", name, dtype)
	case name == "__metadata__":
		return fmt.Errorf("safetensors: add %q: name is reserved for metadata", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("safetensors: add %q: name is not valid UTF-8", name)
	case t == nil:
		return fmt.Errorf("safetensors: add %q: nil tensor", name)
	}
	if _, dup := w.names[name]; dup {
		return fmt.Errorf("safetensors: add %q: duplicate tensor name", name)
	}
	if err := checkTensor(t, dtype); err != nil {
		return fmt.Errorf("safetensors: add %q: %w", name, err)
	}
	w.names[name] = struct{}{}
	w.entries = append(w.entries, wentry{name, t, dtype})
	return nil
}

// checkTensor verifies that t's data matches its shape.
func checkTensor(t *tensor.Tensor, dtype DType) error {
	for _, d := range t.Shape {
		if d < 0 {
			return tensor.Errorf("safetensors.Add", "negative dimension", t.Shape)
		}
	}
	size, err := byteSize(t.Shape, dtype)
	if err != nil {
		return err
	}
	if size/uint64(dtype.Bits()/8) != uint64(len(t.Data)) {
		return tensor.Errorf("safetensors.Add", fmt.Sprintf("%d values for shape", len(t.Data)), t.Shape)
	}
	return nil
}

// SetMetadata sets the "__metadata__" map (copied). A nil map writes no
// metadata entry; an empty non-nil map writes an empty object.
func (w *Writer) SetMetadata(m map[string]string) {
	if m == nil {
		w.meta = nil
		return
	}
	w.meta = make(map[string]string, len(m))
	for k, v := range m {
		w.meta[k] = v
	}
}

// sorted returns the entries in file order: dtype rank descending, then name.
func (w *Writer) sorted() []wentry {
	es := append([]wentry(nil), w.entries...)
	sort.Slice(es, func(i, j int) bool {
		ri, rj := dtypes[es[i].dtype].rank, dtypes[es[j].dtype].rank
		if ri != rj {
			return ri > rj
		}
		return es[i].name < es[j].name
	})
	return es
}

// header builds the padded JSON header for entries in file order, as
// serde_json writes it: no whitespace, metadata keys sorted (the reference
// iterates a hash map; sorting makes the output deterministic).
func (w *Writer) header(es []wentry) ([]byte, error) {
	b := []byte{'{'}
	if w.meta != nil {
		keys := make([]string, 0, len(w.meta))
		for k, v := range w.meta {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("metadata %q: not valid UTF-8", k)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, `"__metadata__":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, w.meta[k])
		}
		b = append(b, '}')
		if len(es) > 0 {
			b = append(b, ',')
		}
	}
	var off uint64
	for i, e := range es {
		if err := checkTensor(e.t, e.dtype); err != nil {
			return nil, fmt.Errorf("tensor %q changed after Add: %w", e.name, err)
		}
		size, _ := byteSize(e.t.Shape, e.dtype)
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, e.name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(e.dtype))
		b = append(b, `,"shape":[`...)
		for j, d := range e.t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendUint(b, off, 10)
		b = append(b, ',')
		off += size
		b = strconv.AppendUint(b, off, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b, nil
}

// appendJSONString quotes s as serde_json does: escapes '"', '\\' and
// control characters (\b \t \n \f \r, others as \u00xx); everything else,
// including non-ASCII, is written as is.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteTo writes the file to out and returns the number of bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	es := w.sorted()
	hdr, err := w.header(es)
	if err != nil {
		return 0, fmt.Errorf("safetensors: write: %w", err)
	}
	cw := &countWriter{w: out}
	bw := bufio.NewWriterSize(cw, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	bw.Write(lenBuf[:])
	bw.Write(hdr)
	const chunk = 1 << 14 // elements per encode step
	scratch := make([]byte, chunk*4)
	for _, e := range es {
		size := e.dtype.Bits() / 8
		for lo := 0; lo < len(e.t.Data); lo += chunk {
			hi := min(lo+chunk, len(e.t.Data))
			buf := scratch[:(hi-lo)*size]
			encode(buf, e.t.Data[lo:hi], e.dtype)
			if _, err := bw.Write(buf); err != nil {
				return cw.n, fmt.Errorf("safetensors: write tensor %q: %w", e.name, err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("safetensors: write: %w", err)
	}
	return cw.n, nil
}

// wrapForTest, when set by a test, wraps the temporary file's writer.
var wrapForTest func(io.Writer) io.Writer

// WriteFile writes the file atomically (internal/atomicfile): into a
// temporary file in the same directory, synced, then renamed over path, and
// the directory synced. On any error the temporary file is removed and path
// is left as it was; the error names path.
func (w *Writer) WriteFile(path string) error {
	err := atomicfile.WriteFile(path, func(out io.Writer) error {
		if wrapForTest != nil {
			out = wrapForTest(out)
		}
		_, err := w.WriteTo(out)
		return err
	})
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// WriteFile stores tensors, all as dtype, with metadata (nil for none) at
// path atomically; see Writer.
func WriteFile(path string, tensors map[string]*tensor.Tensor, dtype DType, metadata map[string]string) error {
	w := NewWriter()
	for name, t := range tensors {
		if err := w.Add(name, t, dtype); err != nil {
			return err
		}
	}
	w.SetMetadata(metadata)
	return w.WriteFile(path)
}
