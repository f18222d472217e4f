package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
)

// ConfigJSON is a Hugging Face tokenizer_config.json for the tokenizer:
// the class PreTrainedTokenizerFast (which takes the normalizer,
// pre-tokenizer, BOS-adding post-processor and decoder from tokenizer.json
// as they are, so transformers encodes as glora does), the BOS, EOS and
// unknown tokens' pieces where the vocabulary has them, and
// model_max_length (the model's context; 0 leaves it out).
func (t *Tokenizer) ConfigJSON(maxLen int) ([]byte, error) {
	cfg := map[string]any{
		"tokenizer_class":              "PreTrainedTokenizerFast",
		"clean_up_tokenization_spaces": false,
	}
	for key, id := range map[string]int{"bos_token": t.bos, "eos_token": t.eos, "unk_token": t.unk} {
		switch {
		case id < 0 || id >= len(t.pieces):
		case t.keep == nil: // spelled as tokenizer.json writes it (llamaPieces)
			cfg[key] = t.llamaPiece(id)
		default:
			cfg[key] = t.pieces[id]
		}
	}
	if maxLen > 0 {
		cfg["model_max_length"] = maxLen
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<s>", not "\u003cs\u003e"
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer_config.json: %w", err)
	}
	return b.Bytes(), nil
}

// WriteHF writes tokenizer.json (WriteJSON) and tokenizer_config.json
// (ConfigJSON) into dir, each atomically: what AutoTokenizer.from_pretrained
// reads from a model folder.
func (t *Tokenizer) WriteHF(dir string, maxLen int) error {
	if err := t.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		return err
	}
	data, err := t.ConfigJSON(maxLen)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "tokenizer_config.json"), data)
}
