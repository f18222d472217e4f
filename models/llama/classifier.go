package llama

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/nn"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// Classifier is a decoder with a classification head on the final hidden
// state of each sequence's last token, as Hugging Face's
// LlamaForSequenceClassification: logits = score(RMSNorm(h[last])), score
// a bias-less Linear (classes, D) named "score". In a causal model the
// last token is the only one that has read the whole sequence.
type Classifier struct {
	LM    *Model
	Score *nn.Linear
	// Extra are parameters outside the model and the head that the
	// forward pass uses (an adapter's), listed by Params.
	Extra []*ag.Var
}

// PadID marks the positions after a sequence's last token in a Classifier
// batch (sequences are padded on the right; causal attention keeps the
// padding out of every real position).
const PadID = -1

// NewClassifier puts a fresh head for classes on m, initialised N(0, 0.02²)
// from rng; the head lives in its own store (score.weight) and trains.
func NewClassifier(m *Model, classes int, rng *rand.Rand) (*Classifier, error) {
	if classes < 2 {
		return nil, fmt.Errorf("llama: a classifier needs at least 2 classes, not %d", classes)
	}
	st := nn.NewStore()
	score, err := nn.NewLinear(nn.NewBuilder(st, rng).Sub("score"), m.Cfg.Dim, classes, false, normal02)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	return &Classifier{LM: m, Score: score}, nil
}

// Params lists the model's parameters, the head's, then Extra.
func (c *Classifier) Params() []*ag.Var {
	ps := append([]*ag.Var(nil), c.LM.Params()...)
	return append(append(ps, c.Score.W), c.Extra...)
}

// Forward maps padded token sequences to class logits.
//
//	x: (B, T) token ids as float32, PadID after each sequence's end   →   logits (B, classes)
//
// Every row must hold at least one token; rng is unused.
func (c *Classifier) Forward(tp *ag.Tape, x *ag.Var, _ *rand.Rand) *ag.Var {
	if !tp.OK(x) {
		return tp.Dead()
	}
	s := x.Value.Shape
	if len(s) != 2 {
		return tp.Fail(fmt.Errorf("llama: classifier input %v: want token ids (B, T)", s))
	}
	B, T := s[0], s[1]
	ids := make([]int, B*T)
	last := make([]int, B) // row b's last token's position
	pad := max(c.LM.Cfg.EOS, 0)
	for b := 0; b < B; b++ {
		n := T
		for t := 0; t < T; t++ {
			v := x.Value.Data[b*T+t]
			switch {
			case v == PadID:
				if n == T {
					n = t
				}
				ids[b*T+t] = pad
			case n < T:
				return tp.Fail(fmt.Errorf("llama: classifier row %d has a token after its padding", b))
			default:
				ids[b*T+t] = int(v)
			}
		}
		if n == 0 {
			return tp.Fail(fmt.Errorf("llama: classifier row %d is empty", b))
		}
		last[b] = n - 1
	}
	if byLength {
		lens := make([]int, B)
		for b, l := range last {
			lens[b] = l + 1
		}
		if groups := lengthGroups(lens); groups != nil {
			return c.Score.Forward(tp, c.hiddenGroups(tp, ids, T, last, groups))
		}
	}
	return c.Score.Forward(tp, c.hidden(tp, ids, B, T, last))
}

// hidden is the final hidden states (B, D) at position last[b] of each
// row b of ids (B, T).
func (c *Classifier) hidden(tp *ag.Tape, ids []int, B, T int, last []int) *ag.Var {
	if lastOnly {
		return c.LM.HiddenLast(tp, ids, B, T, last) // (B, D): each row's last token
	}
	rows := make([]int, B)
	for b, l := range last {
		rows[b] = b*T + l // as a row of the (B·T, D) hidden states
	}
	h := c.LM.Hidden(tp, ids, B, T)                             // (B, T, D)
	return tp.Embedding(tp.Reshape(h, B*T, c.LM.Cfg.Dim), rows) // (B, D)
}

// scoreName is the classification head's tensor in a Hugging Face
// LlamaForSequenceClassification checkpoint.
const scoreName = "score.weight"

// SaveClassifier writes c as a Hugging Face LlamaForSequenceClassification
// folder: the decoder's tensors as SaveHF writes them, plus score.weight;
// config.json with that architecture, id2label / label2id from labels (one
// per class) and pad_token_id the EOS id. transformers takes each row's
// last token that is not pad_token_id, the token Forward reads when the
// sequences hold no EOS (EncodeLabelled's do not).
func SaveClassifier(c *Classifier, dir string, ck Checkpoint, labels []string, dtype safetensors.DType) error {
	classes := c.Score.W.Value.Shape[0]
	if len(labels) != classes {
		return fmt.Errorf("llama: save classifier: %d labels for %d classes", len(labels), classes)
	}
	id2label, label2id := map[string]string{}, map[string]int{}
	for i, l := range labels {
		if _, dup := label2id[l]; dup || l == "" {
			return fmt.Errorf("llama: save classifier: label %q is empty or repeated", l)
		}
		id2label[strconv.Itoa(i)], label2id[l] = l, i
	}
	keys := map[string]any{"architectures": []string{"LlamaForSequenceClassification"},
		"id2label": id2label, "label2id": label2id}
	if c.LM.Cfg.EOS >= 0 {
		keys["pad_token_id"] = c.LM.Cfg.EOS
	}
	return saveHF(c.LM, dir, ck, dtype, map[string]*tensor.Tensor{scoreName: c.Score.W.Value}, keys)
}

// LoadClassifier reads a folder SaveClassifier (or transformers' save of a
// LlamaForSequenceClassification) wrote: the classifier and its labels
// (id2label; "0", "1", … where absent).
func LoadClassifier(dir string) (*Classifier, Checkpoint, []string, error) {
	m, ck, err := LoadHF(dir)
	if err != nil {
		return nil, Checkpoint{}, nil, err
	}
	c, labels, err := AsClassifier(m, ck, dir)
	if err != nil {
		return nil, Checkpoint{}, nil, err
	}
	return c, ck, labels, nil
}

// AsClassifier is the classifier a loaded folder holds (LoadHF read dir
// into m and ck): m with ck.Score as its head, and the labels (id2label;
// "0", "1", … where absent).
func AsClassifier(m *Model, ck Checkpoint, dir string) (*Classifier, []string, error) {
	if ck.Score == nil {
		return nil, nil, fmt.Errorf("llama: %s has no %s: a language model, not a sequence classifier", dir, scoreName)
	}
	classes := ck.Score.Shape[0]
	labels := make([]string, classes)
	for i := range labels {
		labels[i] = strconv.Itoa(i)
	}
	if raw, ok := ck.Extra["id2label"]; ok {
		var id2label map[string]string
		if err := json.Unmarshal(raw, &id2label); err != nil {
			return nil, nil, fmt.Errorf("llama: %s: id2label: %w", filepath.Join(dir, ConfigFile), err)
		}
		for k, v := range id2label {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= classes {
				return nil, nil, fmt.Errorf("llama: %s: id2label key %q is not a class of the %d the head has", filepath.Join(dir, ConfigFile), k, classes)
			}
			labels[i] = v
		}
	}
	c, err := NewClassifier(m, classes, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, nil, err
	}
	copy(c.Score.W.Value.Data, ck.Score.Data)
	return c, labels, nil
}
