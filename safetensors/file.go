// Package safetensors reads and writes the Hugging Face safetensors format:
//
//	[8 bytes: little-endian u64 N][N bytes: JSON header][data buffer]
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (offsets into the data buffer) plus an optional
// "__metadata__" object of strings. Reading validates the whole header
// before any tensor is touched and trusts nothing in the file; writing
// produces the same bytes as the reference implementation
// (safetensors.torch.save_file) for the same tensors.
package safetensors

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sync"

	"github.com/glora/glora/tensor"
)

// File is an opened safetensors file, memory-mapped where the platform
// allows it. Its methods are safe for concurrent use.
type File struct {
	name   string // file path, or "" for Parse
	hdr    *header
	mu     sync.RWMutex
	data   []byte // whole file; nil after Close
	mapped bool
}

// Open maps the file at path and validates its header and layout.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	data, mapped, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	var hdr *header
	func() {
		// A file truncated while mapped faults on access; report it as an error.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("reading mapped file: %v: %w", r, ErrInvalid)
			}
		}()
		if mapped {
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		}
		hdr, err = parseHeader(data)
	}()
	if err != nil {
		if mapped {
			_ = unmapFile(data)
		}
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return &File{name: path, hdr: hdr, data: data, mapped: mapped}, nil
}

// Parse validates data, a whole safetensors file in memory, and returns a
// File reading from it (data is not copied and must not be modified).
func Parse(data []byte) (*File, error) {
	hdr, err := parseHeader(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return &File{hdr: hdr, data: data}, nil
}

func readAll(f *os.File, size int64) ([]byte, bool, error) {
	if size > math.MaxInt {
		return nil, false, fmt.Errorf("file of %d bytes is too large for this platform", size)
	}
	data, err := io.ReadAll(f)
	return data, false, err
}

// errorf prefixes an error with the package and, for opened files, the path.
func (f *File) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if f.name != "" {
		return fmt.Errorf("safetensors: %s: %w", f.name, err)
	}
	return fmt.Errorf("safetensors: %w", err)
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return append([]string(nil), f.hdr.names...) }

// Info returns the header entry of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.hdr.infos[name]
	if !ok {
		return Info{}, false
	}
	in.Shape = append([]int{}, in.Shape...)
	return in, true
}

// Metadata returns a copy of the "__metadata__" map, or nil when the file
// has none.
func (f *File) Metadata() map[string]string {
	if f.hdr.meta == nil {
		return nil
	}
	m := make(map[string]string, len(f.hdr.meta))
	for k, v := range f.hdr.meta {
		m[k] = v
	}
	return m
}

// Tensor returns a float32 copy of the named tensor, converting from its
// stored dtype (exactly for F16/BF16/F32, rounded to nearest for F64 and
// wide integers).
func (f *File) Tensor(name string) (t *tensor.Tensor, err error) {
	in, ok := f.hdr.infos[name]
	if !ok {
		return nil, f.errorf("tensor %q: %w", name, ErrNotFound)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.data == nil {
		return nil, f.errorf("tensor %q: file is closed", name)
	}
	// Validation guarantees End-Begin == numel·size ≤ len(data), so numel fits.
	numel := tensor.Numel(in.Shape)
	out := make([]float32, numel)
	src := f.data[f.hdr.dataStart+in.Begin : f.hdr.dataStart+in.End]
	if f.mapped {
		defer func() {
			if r := recover(); r != nil {
				t, err = nil, f.errorf("tensor %q: reading mapped file: %v", name, r)
			}
		}()
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	}
	if err := decode(out, src, in.DType); err != nil {
		return nil, f.errorf("tensor %q: %w", name, err)
	}
	return &tensor.Tensor{Shape: append([]int{}, in.Shape...), Data: out}, nil
}

// Close releases the mapping. Tensors already returned stay valid; later
// Tensor calls fail. Closing twice is harmless.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	data := f.data
	f.data = nil
	if data != nil && f.mapped {
		if err := unmapFile(data); err != nil {
			return f.errorf("close: %w", err)
		}
	}
	return nil
}

// ReadFile loads every tensor of the file at path as float32, and its
// metadata (nil when absent).
func ReadFile(path string) (map[string]*tensor.Tensor, map[string]string, error) {
	f, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	out := make(map[string]*tensor.Tensor, len(f.hdr.names))
	for _, name := range f.hdr.names {
		t, err := f.Tensor(name)
		if err != nil {
			return nil, nil, err
		}
		out[name] = t
	}
	return out, f.Metadata(), nil
}
