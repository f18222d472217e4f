package data

import (
	"slices"
	"testing"
)

func TestLoaderOrder(t *testing.T) {
	ds := synthetic(103, 5, false)
	l, err := NewLoader(ds, LoaderConfig{BatchSize: 10, Shuffle: true, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	if l.NumBatches() != 11 {
		t.Fatalf("NumBatches %d, want 11", l.NumBatches())
	}
	o0, o1 := l.Order(0), l.Order(1)
	if !slices.Equal(slices.Sorted(slices.Values(o0)), l2(103)) {
		t.Fatal("order is not a permutation")
	}
	if slices.Equal(o0, o1) || slices.Equal(o0, l2(103)) {
		t.Fatal("epochs share an order, or the order is not shuffled")
	}
	// A fresh loader (a resumed run) reproduces epoch 1 without epoch 0.
	l2nd, _ := NewLoader(ds, LoaderConfig{BatchSize: 10, Shuffle: true, Seed: 42})
	if !slices.Equal(l2nd.Order(1), o1) || !slices.Equal(l2nd.Order(0), o0) {
		t.Fatal("order is not a function of (seed, epoch)")
	}
	other, _ := NewLoader(ds, LoaderConfig{BatchSize: 10, Shuffle: true, Seed: 43})
	if slices.Equal(other.Order(0), o0) {
		t.Fatal("different seeds, same order")
	}
	plain, _ := NewLoader(ds, LoaderConfig{BatchSize: 10})
	if !slices.Equal(plain.Order(3), l2(103)) {
		t.Fatal("Shuffle=false is not index order")
	}
}

func l2(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

func TestLoaderEpochAndDropLast(t *testing.T) {
	ds := synthetic(25, 5, false)
	for _, drop := range []bool{false, true} {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 8, DropLast: drop, Shuffle: true, Seed: 1,
			Preprocess: Preprocess{Height: 4, Width: 4}})
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		var seen []int
		for b, err := range l.Epoch(2, 0) {
			if err != nil {
				t.Fatal(err)
			}
			if b.Shape != [4]int{len(b.Labels), 1, 4, 4} || len(b.X) != len(b.Labels)*16 {
				t.Fatalf("shape %v, len %d", b.Shape, len(b.X))
			}
			for i, j := range b.Indices {
				if b.Labels[i] != ds.Labels[j] || !near(float64(b.X[i*16]), float64(ds.Image(j)[0])/255, 1e-6) {
					t.Fatalf("batch %d item %d does not match image %d", b.Index, i, j)
				}
			}
			sizes = append(sizes, len(b.Labels))
			seen = append(seen, b.Indices...)
		}
		want := []int{8, 8, 8, 1}
		if drop {
			want = want[:3]
		}
		if !slices.Equal(sizes, want) {
			t.Fatalf("drop_last=%v: batch sizes %v, want %v", drop, sizes, want)
		}
		if !slices.Equal(seen, l.Order(2)[:len(seen)]) {
			t.Fatal("batches do not follow the epoch order")
		}
	}
}

func TestLoaderResumeWithAugmentation(t *testing.T) {
	ds := synthetic(40, 4, false)
	for i := range ds.Pixels {
		ds.Pixels[i] = uint8(i * 37)
	}
	cfg := LoaderConfig{BatchSize: 16, Shuffle: true, Seed: 9,
		Preprocess: Preprocess{Channels: 3, Height: 6, Width: 6, PadCrop: 1, HFlip: true}}
	l, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var full [][]float32
	for b, err := range l.Epoch(3, 0) {
		if err != nil {
			t.Fatal(err)
		}
		full = append(full, slices.Clone(b.X))
	}
	// Resume at batch 1 with a fresh loader.
	r, _ := NewLoader(ds, cfg)
	k := 1
	for b, err := range r.Epoch(3, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(b.X, full[k]) {
			t.Fatalf("resumed batch %d differs", k)
		}
		k++
	}
	if k != len(full) {
		t.Fatalf("resumed run yielded %d batches, want %d", k-1, len(full)-1)
	}
	// Augmentation differs between epochs for the same images.
	same, _ := NewLoader(ds, LoaderConfig{BatchSize: 40, Seed: 9, Preprocess: cfg.Preprocess})
	a, _ := same.Batch(0, 0, nil)
	b, _ := same.Batch(1, 0, nil)
	if slices.Equal(a.X, b.X) {
		t.Fatal("augmentation identical across epochs")
	}
}

func TestLoaderErrors(t *testing.T) {
	ds := synthetic(5, 5, false)
	if _, err := NewLoader(ds, LoaderConfig{BatchSize: 0}); err == nil {
		t.Error("batch size 0: no error")
	}
	if _, err := NewLoader(ds, LoaderConfig{BatchSize: 6, DropLast: true}); err == nil {
		t.Error("no full batch: no error")
	}
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 2})
	if _, err := l.Batch(0, 3, nil); err == nil {
		t.Error("batch out of range: no error")
	}
}
