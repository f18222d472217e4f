package vit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var tenNames = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// readFiles returns the bytes of every file in dir.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// Labels are written in each dialect's field, read back, and a second save
// writes the same bytes; converting between the dialects keeps them.
func TestLabelsRoundTrip(t *testing.T) {
	m := microModel(t, 1)
	for _, d := range []Dialect{Timm, Transformers} {
		t.Run(string(d), func(t *testing.T) {
			a, b := t.TempDir(), t.TempDir()
			if err := Save(m, a, Checkpoint{Dialect: d, Labels: tenNames}, ""); err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(filepath.Join(a, ConfigFile))
			obj, _ := decodeObject(raw)
			if d == Timm {
				if l, _ := labelList(obj["label_names"], 10); !slices.Equal(l, tenNames) {
					t.Fatalf("label_names: %v\n%s", obj["label_names"], raw)
				}
			} else {
				if l, _ := labelList(obj["id2label"], 10); !slices.Equal(l, tenNames) {
					t.Fatalf("id2label: %v\n%s", obj["id2label"], raw)
				}
				if l2i, _ := obj["label2id"].(map[string]any); l2i["Ankle boot"] != json.Number("9") {
					t.Fatalf("label2id: %v", obj["label2id"])
				}
			}
			m2, ck, err := Load(a)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ck.Labels, tenNames) {
				t.Fatalf("labels read back: %q", ck.Labels)
			}
			if err := Save(m2, b, ck, ""); err != nil {
				t.Fatal(err)
			}
			fa, fb := readFiles(t, a), readFiles(t, b)
			for name, data := range fa {
				if !bytes.Equal(data, fb[name]) {
					t.Errorf("%s differs after save → load → save:\n%s\n%s", name, data, fb[name])
				}
			}
			// The other dialect.
			other := Transformers
			if d == Transformers {
				other = Timm
			}
			ck.Dialect, ck.Naming = other, other
			c := t.TempDir()
			if err := Save(m2, c, ck, ""); err != nil {
				t.Fatal(err)
			}
			if _, ck3, err := Load(c); err != nil || !slices.Equal(ck3.Labels, tenNames) {
				t.Fatalf("after %s → %s: labels %q (%v)", d, other, ck3.Labels, err)
			}
		})
	}
}

// timm keeps label_names in pretrained_cfg once loaded: a config that has
// them there is read, and written back there.
func TestLabelsInTimmPretrainedCfg(t *testing.T) {
	m := microModel(t, 1)
	dir := t.TempDir()
	if err := Save(m, dir, Checkpoint{}, ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ConfigFile)
	raw, _ := os.ReadFile(path)
	obj, _ := decodeObject(raw)
	obj["pretrained_cfg"].(map[string]any)["label_names"] = anyStrings(tenNames)
	raw, _ = encodeObject(obj)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	m2, ck, err := Load(dir)
	if err != nil || !slices.Equal(ck.Labels, tenNames) {
		t.Fatalf("labels %q (%v)", ck.Labels, err)
	}
	out := t.TempDir()
	if err := Save(m2, out, ck, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, ConfigFile)); !bytes.Equal(got, raw) {
		t.Fatalf("written:\n%s\nwant:\n%s", got, raw)
	}
}

func TestLabelsFromHubConfigs(t *testing.T) {
	ck, err := LoadConfig("testdata/hf_vit_base_beans")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ck.Labels, []string{"angular_leaf_spot", "bean_rust", "healthy"}) {
		t.Fatalf("beans labels %q", ck.Labels)
	}
	id2label, label2id := hfLabelMaps(ck.Extra, ck.Labels, 3)
	if id2label["2"] != "healthy" || label2id["healthy"] != "2" { // the file's string ids are kept
		t.Fatalf("id2label %v label2id %v", id2label, label2id)
	}
	ck, err = LoadConfig("testdata/timm_finetuned_model_args")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ck.Labels, []string{"cat", "dog", "bird"}) || ck.Extra["label_names"] != nil {
		t.Fatalf("timm labels %q, extra %v", ck.Labels, ck.Extra["label_names"])
	}
}

// Placeholder names are no names; names that no longer fit the head are
// not written.
func TestLabelsPlaceholdersAndMisfits(t *testing.T) {
	m := microModel(t, 1)
	dir := t.TempDir()
	if err := Save(m, dir, Checkpoint{Dialect: Transformers}, ""); err != nil {
		t.Fatal(err)
	}
	_, ck, err := Load(dir)
	if err != nil || ck.Labels != nil {
		t.Fatalf("LABEL_i placeholders read as labels %q (%v)", ck.Labels, err)
	}
	for _, d := range []Dialect{Timm, Transformers} {
		out := t.TempDir()
		if err := Save(m, out, Checkpoint{Dialect: d, Labels: []string{"a", "b"}}, ""); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(filepath.Join(out, ConfigFile))
		if strings.Contains(string(raw), `"b"`) {
			t.Fatalf("%s: 2 labels written for 10 classes:\n%s", d, raw)
		}
	}
}
