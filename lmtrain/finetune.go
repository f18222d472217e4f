package lmtrain

import (
	"fmt"
	"path/filepath"
	"slices"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/method/glora"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// Methods are the ways Finetune adapts a decoder. Llama's projections have
// no bias, so GLoRA's C, D and E (which act on a bias) are left out unless
// FinetuneOptions.AddBias gives each adapted projection one (zero at the
// start; the merged model then has attention_bias / mlp_bias); ssf and
// bitfit, which are about biases, always do:
//
//	full         every parameter trains
//	lora         B = lora_r on every projection
//	glora-fixed  A = B = lora_r; with AddBias also C = lora_r, D = E = constant (PEFT's default GLoRA)
//	ia3          A = vector: a learnt scale per output row (and D = vector with AddBias)
//	ssf          A = D = E = vector: a scale and a shift per output row
//	bitfit       E = vector: a bias per output row
//	glora        a given structure (a search's structure.json)
//	linear       nothing but a classifier's head (Classify only)
var Methods = []string{"full", "lora", "glora-fixed", "ia3", "ssf", "bitfit", "glora", "linear"}

// FinetuneOptions configure Finetune: the training run and the method.
type FinetuneOptions struct {
	Options
	Method    string
	Rank      int             // lora rank of lora and glora-fixed
	Targets   []string        // PEFT target_modules rules; empty: all-linear (the seven projections)
	Exclude   []string        //
	Structure glora.Structure // method glora
	// AddBias lets C, D and E act on the bias-less projections (see
	// Methods); ssf and bitfit set it themselves.
	AddBias bool
	// Base names the base model in the adapter (base_model_name_or_path).
	Base string
	// Head is, for classification (Classify, SearchClassify), the head to
	// start from: (classes, D), row i class i's (a classifier folder's
	// score.weight in the data's class order); nil: a fresh head.
	Head *tensor.Tensor
}

// Tuned is a decoder being adapted: the model and, for every method but
// full, the GLoRA layers wrapped around its projections.
type Tuned struct {
	Model  *llama.Model
	Net    *glora.Supernet // nil for full
	Method string
}

// Attach prepares m for a method: full leaves every parameter trainable;
// the others freeze the model and wrap its selected projections in GLoRA
// layers whose structure is the method's, training exactly the support
// tensors it reads.
func Attach(m *llama.Model, fo FinetuneOptions) (*Tuned, error) {
	if !slices.Contains(Methods, fo.Method) {
		return nil, fmt.Errorf("lmtrain: unknown method %q (want %v)", fo.Method, Methods)
	}
	t := &Tuned{Model: m, Method: fo.Method}
	if fo.Method == "full" {
		m.Store.SetTrainable(func(string, *ag.Var) bool { return true })
		return t, nil
	}
	m.Store.SetTrainable(func(string, *ag.Var) bool { return false })
	if fo.Method == "linear" {
		return t, nil
	}
	rank := max(fo.Rank, 1)
	if fo.Method == "glora" {
		if len(fo.Structure) == 0 {
			return nil, fmt.Errorf("lmtrain: method glora needs a structure")
		}
		rank = max(1, fo.Structure.MaxRank())
	}
	addBias := fo.AddBias || fo.Method == "ssf" || fo.Method == "bitfit"
	net, err := glora.Attach(m, glora.Options{Targets: fo.Targets, Exclude: fo.Exclude, Space: glora.Space{Ranks: []int{rank}, AddBias: addBias}, Seed: fo.Seed})
	if err != nil {
		return nil, fmt.Errorf("lmtrain: %w", err)
	}
	st := fo.Structure
	if fo.Method != "glora" {
		if st, err = glora.Named(fo.Method, net.Targets(), rank, addBias); err != nil {
			net.Detach()
			return nil, fmt.Errorf("lmtrain: %w", err)
		}
	}
	if err := net.TrainStructure(st); err != nil {
		net.Detach()
		return nil, fmt.Errorf("lmtrain: %w", err)
	}
	t.Net = net
	return t, nil
}

// Trainable counts the parameters that train (a classifier's head aside):
// for the GLoRA methods, the support parameters the structure reads (a
// rank-4 path of a rank-8 stored tensor counts 4 columns).
func (t *Tuned) Trainable() int {
	if t.Net == nil {
		return t.Model.Store.Count(true)
	}
	return glora.Params(t.Net.Structure(), t.Net.Targets())
}

// extra is what trains outside the model's Store.
func (t *Tuned) extra() []*ag.Var {
	if t.Net == nil {
		return nil
	}
	return t.Net.Trainable()
}

// Save writes dir/merged (a plain Hugging Face Llama folder: the structure
// folded into the projections' weights and, where it tuned biases, into
// biases its config declares; the base's shape and cost) and,
// for the GLoRA methods, dir/adapter (PEFT's layout for a causal LM:
// base_model.model.model.layers.N.self_attn.q_proj.glora_Ad …). The model
// is left as it was. extra, if set, is called with the merged folder.
func (t *Tuned) Save(dir string, ck llama.Checkpoint, base string, extra func(string) error) error {
	if t.Net != nil {
		layers := map[string]*glora.LayerTensors{}
		for _, l := range t.Net.Layers() {
			lt := l.Tensors()
			layers[l.Path()] = &lt
		}
		a, err := glora.NewAdapter(t.Net.Structure(), layers, nil)
		if err != nil {
			return err
		}
		task := "CAUSAL_LM"
		a.BaseModel, a.Config = base, &glora.AdapterConfig{TaskType: &task}
		if err := glora.Save(filepath.Join(dir, "adapter"), a, glora.SaveOptions{}); err != nil {
			return err
		}
	}
	merged := filepath.Join(dir, "merged")
	return t.withMerged(func(m *llama.Model) error {
		if err := llama.SaveHF(m, merged, ck, safetensors.F32); err != nil {
			return err
		}
		if extra != nil {
			return extra(merged)
		}
		return nil
	})
}

// SaveClassifier writes c, the tuned model with a classification head, as
// a plain Hugging Face LlamaForSequenceClassification folder in dir (the
// adapter merged, as Save merges it; labels name the classes). The model is
// left as it was.
func (t *Tuned) SaveClassifier(dir string, c *llama.Classifier, ck llama.Checkpoint, labels []string) error {
	return t.withMerged(func(m *llama.Model) error {
		return llama.SaveClassifier(&llama.Classifier{LM: m, Score: c.Score}, dir, ck, labels, safetensors.F32)
	})
}

// withMerged calls fn with the tuned model as one plain Llama: the
// adapter folded in (and biases it gave bias-less projections declared,
// WithBiases), then undone.
func (t *Tuned) withMerged(fn func(*llama.Model) error) error {
	if t.Net != nil {
		if err := t.Net.Merge(); err != nil {
			return err
		}
		defer t.Net.Unmerge()
	}
	m, err := t.Model.WithBiases()
	if err != nil {
		return err
	}
	return fn(m)
}

// Finetune adapts m to the token streams with a method (Attach), trains it
// (Train; the best model by validation loss is saved by Tuned.Save in
// OutDir/best) and returns the run's summary and the tuned model, left
// with the last step's weights.
func Finetune(m *llama.Model, ck llama.Checkpoint, trainTok, valTok []int32, fo FinetuneOptions) (Summary, *Tuned, error) {
	if fo.Method == "linear" {
		return Summary{}, nil, fmt.Errorf("lmtrain: method linear trains a classifier's head only: it has nothing to train on next-token prediction")
	}
	t, err := Attach(m, fo)
	if err != nil {
		return Summary{}, nil, err
	}
	o := fo.Options
	o.Extra = t.extra()
	extra := o.SaveExtra
	o.SaveBest = func(dir string) error { return t.Save(dir, ck, fo.Base, extra) }
	s, err := Train(m, ck, trainTok, valTok, o)
	return s, t, err
}
