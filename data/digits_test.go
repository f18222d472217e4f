package data

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hashOf is a hex SHA-256 of a dataset's pixels and labels.
func hashOf(d *Dataset) string {
	h := sha256.New()
	h.Write(d.Pixels)
	for _, l := range d.Labels {
		h.Write([]byte{byte(l), byte(l >> 8)})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func digitsLine(label, v int) string {
	f := make([]string, 65)
	for i := range 64 {
		f[i] = "0"
	}
	f[0], f[63], f[64] = "16", string(rune('0'+v%10)), string(rune('0'+label))
	return strings.Join(f, ",")
}

func TestLoadDigitsCSV(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := range 30 {
		lines = append(lines, digitsLine(i%10, i))
	}
	text := strings.Join(lines, "\n") + "\n"
	plain := filepath.Join(dir, "digits.csv")
	if err := os.WriteFile(plain, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	zipped := filepath.Join(dir, "digits.csv.gz")
	f, err := os.Create(zipped)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(strings.ReplaceAll(text, ",0,", ",0.0,")))
	zw.Close()
	f.Close()
	for _, p := range []string{plain, zipped} {
		d, err := LoadDigitsCSV(p)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != 30 || d.H != 8 || d.W != 8 || d.C != 1 || len(d.Classes) != 10 || d.Classes[3] != "3" {
			t.Fatalf("%s: %v", p, d)
		}
		// 16 → 255, 0 → 0, 8 → 128 (v·255/16 rounded).
		if im := d.Image(8); im[0] != 255 || im[1] != 0 || im[63] != 128 || d.Labels[8] != 8 {
			t.Fatalf("%s: image 8 starts %v, ends %v, label %d", p, im[:2], im[63], d.Labels[8])
		}
	}
	for name, bad := range map[string]string{
		"fields": "1,2,3\n",
		"pixel":  strings.Replace(digitsLine(1, 1), "16", "17", 1),
		"label":  digitsLine(1, 1)[:len(digitsLine(1, 1))-1] + "10",
		"frac":   strings.Replace(digitsLine(1, 1), "16", "1.5", 1),
		"empty":  "\n",
	} {
		p := filepath.Join(dir, name+".csv")
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := LoadDigitsCSV(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
}

func TestDigitsMissingNamesThePackage(t *testing.T) {
	_, _, err := digitsFrom([]string{filepath.Join(t.TempDir(), "digits.csv.gz")})
	if err == nil || !strings.Contains(err.Error(), "python3-sklearn") || !strings.Contains(err.Error(), DigitsEnv) {
		t.Fatalf("error %v does not name the Debian package and %s", err, DigitsEnv)
	}
}

// TestDigitsFile loads the real file when python3-sklearn is installed.
func TestDigitsFile(t *testing.T) {
	if _, err := os.Stat(DigitsFile); err != nil && os.Getenv(DigitsEnv) == "" {
		t.Skip("scikit-learn's digits not installed (apt-get install python3-sklearn)")
	}
	tr, te, err := Resolve("digits")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != DigitsTrain || te.Len() != 797 || tr.H != 8 || tr.W != 8 || tr.C != 1 || len(tr.Classes) != 10 {
		t.Fatalf("train %v, test %v", tr, te)
	}
	for c := range 10 {
		if n, m := tr.ClassCounts()[c], te.ClassCounts()[c]; n < 95 || n > 105 || m < 70 {
			t.Fatalf("class %d: %d train, %d test images", c, n, m)
		}
	}
	// The split is fixed: these bytes are the same on every machine.
	if h, g := hashOf(tr), hashOf(te); h != goldenDigitsTrain || g != goldenDigitsTest {
		t.Fatalf("digits hashes %s %s, want %s %s", h, g, goldenDigitsTrain, goldenDigitsTest)
	}
	// Train and test are disjoint and together the whole file.
	all, err := LoadDigitsCSV(DigitsFile)
	if err != nil {
		t.Skip(err)
	}
	seen := map[string]int{}
	for i := range all.Len() {
		seen[string(all.Image(i))]++
	}
	for _, d := range []*Dataset{tr, te} {
		for i := range d.Len() {
			seen[string(d.Image(i))]--
		}
	}
	for k, n := range seen {
		if n != 0 {
			t.Fatalf("image %x: count off by %d", k[:8], n)
		}
	}
}

const goldenDigitsTrain, goldenDigitsTest = "c8fee7de56630192", "3539360117f95300"
