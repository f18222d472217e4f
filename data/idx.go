package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// IDX is a decoded IDX array (the MNIST file format): unsigned bytes with
// Dims, row-major, len(Data) = ∏ Dims.
type IDX struct {
	Dims []int
	Data []uint8
}

// maxIDXBytes bounds the payload a header may announce (16 GiB); real files
// are far smaller and the payload is never allocated from the header alone.
const maxIDXBytes = 1 << 34

// ReadIDX reads an IDX file of unsigned bytes (type 0x08), raw or gzip'ed
// (detected from the content, not the name). The header is checked against
// the data actually present: a truncated, over-long or corrupt file is an
// error naming the file and the fault.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: idx: %w", ErrData, err)
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return decodeIDX(f, path, size)
}

// DecodeIDX decodes an IDX array from r (raw or gzip'ed); name is used in
// error messages.
func DecodeIDX(r io.Reader, name string) (*IDX, error) {
	return decodeIDX(r, name, -1)
}

// decodeIDX decodes from r; size is the byte length of r if known (raw, not
// gzip'ed), else -1.
func decodeIDX(r io.Reader, name string, size int64) (*IDX, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: idx file %s: %s", ErrData, name, fmt.Sprintf(format, args...))
	}
	br := bufio.NewReader(r)
	if sig, err := br.Peek(2); err == nil && sig[0] == 0x1f && sig[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fail("bad gzip header: %v", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
		size = -1
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fail("cannot read the 4-byte magic number: %v", readErr(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fail("bad magic number % x (want 00 00 TYPE NDIMS): not an IDX file", magic)
	}
	if magic[2] != 0x08 {
		return nil, fail("data type 0x%02x not supported (only 0x08, unsigned byte)", magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, fail("zero dimensions")
	}
	hdr := make([]byte, 4*nd)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fail("truncated header: want %d dimension sizes: %v", nd, readErr(err))
	}
	dims := make([]int, nd)
	total := int64(1)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(hdr[4*i:]))
		if dims[i] == 0 {
			total = 0
		} else if total != 0 {
			if total > maxIDXBytes/int64(dims[i]) {
				return nil, fail("dimensions %v announce more than %d bytes", dims, int64(maxIDXBytes))
			}
			total *= int64(dims[i])
		}
	}
	if size >= 0 {
		if have := size - 4 - int64(4*nd); have != total {
			return nil, fail("dimensions %v need %d data bytes but the file holds %d (%s)", dims, total, have, shortOrLong(have, total))
		}
	}
	// Read at most total+1 bytes; the buffer grows with the data actually
	// present, never past what the header claims, and starts at no more
	// than idxFirstBuffer whatever the header claims.
	payload, err := readUpTo(br, total+1, idxFirstBuffer)
	if err != nil {
		return nil, fail("reading data: %v", readErr(err))
	}
	if int64(len(payload)) != total {
		return nil, fail("dimensions %v need %d data bytes but the file holds %s (%s)", dims, total, countDesc(len(payload), total), shortOrLong(int64(len(payload)), total))
	}
	// For gzip, read to EOF so the CRC and length trailer are verified.
	if _, err := io.Copy(io.Discard, io.LimitReader(br, 1)); err != nil {
		return nil, fail("reading trailer: %v", readErr(err))
	}
	return &IDX{Dims: dims, Data: payload}, nil
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("file truncated (%w)", err)
	}
	return err
}

func shortOrLong(have, want int64) string {
	if have < want {
		return "truncated"
	}
	return "trailing bytes"
}

func countDesc(have int, want int64) string {
	if int64(have) > want {
		return fmt.Sprintf("more than %d", want)
	}
	return fmt.Sprint(have)
}

// LoadIDX loads an image IDX file, (N,H,W) for grayscale or (N,H,W,C) with
// C ∈ {1,3} (stored HWC, converted to CHW), and a label IDX file, (N).
// classes names the labels (nil: "0", "1", …).
func LoadIDX(name, imagesPath, labelsPath string, classes []string) (*Dataset, error) {
	im, err := ReadIDX(imagesPath)
	if err != nil {
		return nil, err
	}
	lb, err := ReadIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	return idxDataset(name, im, lb, imagesPath, labelsPath, classes)
}

func idxDataset(name string, im, lb *IDX, imagesPath, labelsPath string, classes []string) (*Dataset, error) {
	if len(lb.Dims) != 1 {
		return nil, dataErr("idx file %s: labels must be 1-d, got dimensions %v", labelsPath, lb.Dims)
	}
	var n, h, w, c int
	switch len(im.Dims) {
	case 3:
		n, h, w, c = im.Dims[0], im.Dims[1], im.Dims[2], 1
	case 4:
		n, h, w, c = im.Dims[0], im.Dims[1], im.Dims[2], im.Dims[3]
		if c != 1 && c != 3 {
			return nil, dataErr("idx file %s: images (N,H,W,C) with C=%d, want 1 or 3", imagesPath, c)
		}
	default:
		return nil, dataErr("idx file %s: images must be (N,H,W) or (N,H,W,C), got dimensions %v", imagesPath, im.Dims)
	}
	if n != lb.Dims[0] {
		return nil, dataErr("idx files %s and %s: %d images but %d labels", imagesPath, labelsPath, n, lb.Dims[0])
	}
	if n > 0 && (h == 0 || w == 0) {
		return nil, dataErr("idx file %s: empty images %dx%d", imagesPath, h, w)
	}
	labels := make([]int, n)
	for i, v := range lb.Data {
		labels[i] = int(v)
	}
	if classes == nil {
		classes = numberedClasses(labels)
	}
	for i, l := range labels {
		if l >= len(classes) {
			return nil, dataErr("idx file %s: label %d of image %d outside the %d classes", labelsPath, l, i, len(classes))
		}
	}
	pix := im.Data
	if c == 3 { // HWC → CHW
		pix = make([]uint8, len(im.Data))
		hw := h * w
		for i := 0; i < n; i++ {
			src, dst := im.Data[i*3*hw:(i+1)*3*hw], pix[i*3*hw:(i+1)*3*hw]
			for p := 0; p < hw; p++ {
				dst[p], dst[hw+p], dst[2*hw+p] = src[3*p], src[3*p+1], src[3*p+2]
			}
		}
	}
	d := &Dataset{Name: name, Classes: classes, C: c, H: h, W: w, Pixels: pix, Labels: labels}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("idx files %s, %s: %w", imagesPath, labelsPath, err)
	}
	return d, nil
}

// idxFirstBuffer is the largest buffer an IDX payload's read starts with,
// whatever its header announces (MNIST's training images: 47 MB). A
// smaller one grows by doubling as data arrives, as io.ReadAll's does;
// starting at the announced size, up to this bound, spares a real file's
// read the dozen regrowths (each zeroed and copied: half a second of a
// quick run on MNIST) while a lying header costs at most this much.
const idxFirstBuffer = 64 << 20

// readUpTo reads r until EOF or limit bytes, into a buffer that starts at
// min(limit, first) bytes and doubles (never past limit) while data keeps
// coming.
func readUpTo(r io.Reader, limit, first int64) ([]byte, error) {
	buf := make([]byte, 0, max(1, min(limit, first)))
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(limit, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):min(int64(cap(buf)), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}
