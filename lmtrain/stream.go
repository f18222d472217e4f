package lmtrain

import "fmt"

// Encoder turns text into token ids (tokenizer.Tokenizer is one).
type Encoder interface {
	Encode(text string, bos, eos bool) ([]int, error)
}

// Stream tokenises documents into one training stream, each document
// preceded by BOS (as llama2.c pretokenises TinyStories): a model trained
// on it learns that BOS starts a document, and generation stops when it
// predicts one.
func Stream(enc Encoder, docs []string) ([]int32, error) {
	var out []int32
	for i, d := range docs {
		ids, err := enc.Encode(d, true, false)
		if err != nil {
			return nil, fmt.Errorf("lmtrain: document %d: %w", i, err)
		}
		for _, id := range ids {
			out = append(out, int32(id))
		}
	}
	return out, nil
}
