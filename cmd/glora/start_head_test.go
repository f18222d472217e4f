package main

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/safetensors"
)

// startHead takes a classifier folder's head for data of the same classes
// by name, its rows put in the data's order, and leaves it out (nil, and
// a note saying so) for other classes.
func TestStartHeadMatchesClassesByName(t *testing.T) {
	m, err := llama.New(llama.Tiny(), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := llama.NewClassifier(m, 2, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := llama.SaveClassifier(c, dir, llama.Checkpoint{}, []string{"food", "computers"}, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	lm, ck, err := llama.LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, w := m.Cfg.Dim, c.Score.W.Value.Data
	head, note, err := startHead(lm, ck, dir, []string{"computers", "food"})
	if err != nil || head == nil || !strings.Contains(note, "starts from its head") {
		t.Fatalf("same classes: %v, %q, %v", head, note, err)
	}
	if !slices.Equal(head.Data[:d], w[d:]) || !slices.Equal(head.Data[d:], w[:d]) {
		t.Fatal("the head's rows are not in the data's class order")
	}
	for _, classes := range [][]string{{"computers", "drinks"}, {"computers", "food", "drinks"}, {"food"}} {
		head, note, err := startHead(lm, ck, dir, classes)
		if err != nil || head != nil || !strings.Contains(note, "is a classifier of food, computers, not of the data's classes") {
			t.Fatalf("classes %v: %v, %q, %v", classes, head, note, err)
		}
	}
}
