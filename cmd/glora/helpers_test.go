package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeClasses writes an image folder of 8×8 gray PNGs, perClass per class,
// under dir/train and dir/test (split) or straight under dir.
func writeClasses(t *testing.T, dir string, classes []string, perClass int, split bool) {
	t.Helper()
	parts := []string{""}
	if split {
		parts = []string{"train", "test"}
	}
	for _, part := range parts {
		for c, name := range classes {
			d := filepath.Join(dir, part, name)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < perClass; i++ {
				img := image.NewGray(image.Rect(0, 0, 8, 8))
				for p := range img.Pix {
					img.Pix[p] = uint8(20 + (200*c)/len(classes) + (p*7+i*13)%30)
				}
				f, err := os.Create(filepath.Join(d, fmt.Sprintf("%d.png", i)))
				if err != nil {
					t.Fatal(err)
				}
				if err := png.Encode(f, img); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
		}
	}
}

func classNames(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = fmt.Sprintf("c%02d", i)
	}
	return c
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// jsonLines checks that out is one or more lines, each exactly one JSON
// object, and returns them.
func jsonLines(t *testing.T, what, out string) []map[string]any {
	t.Helper()
	if out == "" || !strings.HasSuffix(out, "\n") {
		t.Fatalf("%s: stdout %q is not newline-terminated JSON lines", what, out)
	}
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: stdout line %q is not a JSON object: %v", what, line, err)
		}
		objs = append(objs, m)
	}
	return objs
}
