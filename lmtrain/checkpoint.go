package lmtrain

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/models/llama"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/plot"
	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

// A run's folder:
//
//	best/                   the model with the lowest validation loss (Hugging Face folder)
//	checkpoint/model/       the latest step's model (when its own parameters train)
//	checkpoint/extra.safetensors   Options.Extra's tensors (when there are any)
//	checkpoint/optim.safetensors   AdamW's moments and step counts
//	checkpoint/state.json   options, step, best, history
//	curves.png              losses and validation perplexity by step
const (
	checkpointDir = "checkpoint"
	stateFile     = "state.json"
	optimFile     = "optim.safetensors"
	extraFile     = "extra.safetensors" // Options.Extra's tensors
)

func bestDir(out string) string { return filepath.Join(out, "best") }

// StateFile is where a run in outDir keeps its resume state.
func StateFile(outDir string) string { return filepath.Join(outDir, checkpointDir, stateFile) }

// state is what a checkpoint records besides the tensors.
type state struct {
	Options  Options  `json:"options"`
	Step     int      `json:"step"` // optimiser steps taken
	BestLoss float64  `json:"best_val_loss"`
	BestStep int      `json:"best_step"`
	History  []Record `json:"history"`
	// the training loss since the last validation (a run stopped between two)
	LossSum float64 `json:"loss_sum"`
	LossN   int     `json:"loss_n"`
}

// saveModel writes m as a Hugging Face folder in dir, then extra's files.
func saveModel(m *llama.Model, ck llama.Checkpoint, dir string, extra func(string) error) error {
	if err := llama.SaveHF(m, dir, ck, safetensors.F32); err != nil {
		return err
	}
	if extra != nil {
		return extra(dir)
	}
	return nil
}

// trainsModel tells whether any of the model's own parameters trains (a
// frozen base under an adapter is not checkpointed).
func trainsModel(m *llama.Model) bool {
	for _, v := range m.Params() {
		if v.RequiresGrad {
			return true
		}
	}
	return false
}

// saveCheckpoint replaces OutDir/checkpoint with the current step's model,
// optimiser state and state.json, all or nothing.
func saveCheckpoint(m *llama.Model, ck llama.Checkpoint, opt *optim.AdamW, st state, o Options) error {
	return atomicfile.WriteDir(filepath.Join(o.OutDir, checkpointDir), func(tmp string) error {
		if trainsModel(m) {
			if err := saveModel(m, ck, filepath.Join(tmp, "model"), o.SaveExtra); err != nil {
				return err
			}
		}
		if len(o.Extra) > 0 {
			ext := map[string]*tensor.Tensor{}
			for _, v := range o.Extra {
				ext[v.Name] = v.Value
			}
			if err := safetensors.WriteFile(filepath.Join(tmp, extraFile), ext, safetensors.F32, nil); err != nil {
				return err
			}
		}
		if err := safetensors.WriteFile(filepath.Join(tmp, optimFile), opt.State(), safetensors.F32, nil); err != nil {
			return err
		}
		return atomicfile.WriteJSON(filepath.Join(tmp, stateFile), st)
	})
}

// resume loads OutDir/checkpoint into m and opt and returns its state,
// after checking that the run's options are the checkpoint's (StopAfter
// aside).
func resume(m *llama.Model, opt *optim.AdamW, o Options) (state, error) {
	dir := filepath.Join(o.OutDir, checkpointDir)
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return state{}, fmt.Errorf("lmtrain: resume: %w", err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return state{}, fmt.Errorf("lmtrain: resume: %s: %w", filepath.Join(dir, stateFile), err)
	}
	if diff := optionDiff(st.Options, o); diff != "" {
		return state{}, fmt.Errorf("lmtrain: resume: the run in %s was started with other settings: %s", o.OutDir, diff)
	}
	if st.Step < 0 || st.Step > o.Steps {
		return state{}, fmt.Errorf("lmtrain: resume: %s: step %d is outside the run's %d", filepath.Join(dir, stateFile), st.Step, o.Steps)
	}
	if trainsModel(m) {
		saved, _, err := llama.LoadHF(filepath.Join(dir, "model"))
		if err != nil {
			return state{}, fmt.Errorf("lmtrain: resume: %w", err)
		}
		if saved.Cfg != m.Cfg {
			return state{}, fmt.Errorf("lmtrain: resume: the checkpoint's model (%+v) is not this run's (%+v)", saved.Cfg, m.Cfg)
		}
		if err := m.Store.Load(saved.Store.Tensors(), false); err != nil {
			return state{}, fmt.Errorf("lmtrain: resume: %w", err)
		}
	}
	if len(o.Extra) > 0 {
		ext, _, err := safetensors.ReadFile(filepath.Join(dir, extraFile))
		if err != nil {
			return state{}, fmt.Errorf("lmtrain: resume: %w", err)
		}
		for _, v := range o.Extra {
			t, ok := ext[v.Name]
			if !ok || !tensor.SameShape(t.Shape, v.Value.Shape) {
				return state{}, fmt.Errorf("lmtrain: resume: %s has no tensor %q of shape %s", filepath.Join(dir, extraFile), v.Name, tensor.ShapeString(v.Value.Shape))
			}
			copy(v.Value.Data, t.Data)
		}
	}
	ot, _, err := safetensors.ReadFile(filepath.Join(dir, optimFile))
	if err != nil {
		return state{}, fmt.Errorf("lmtrain: resume: %w", err)
	}
	if err := opt.Load(ot); err != nil {
		return state{}, fmt.Errorf("lmtrain: resume: %s: %w", filepath.Join(dir, optimFile), err)
	}
	return st, nil
}

// optionDiff names the recorded options that differ between a saved run
// and this one ("" when none do).
func optionDiff(saved, now Options) string {
	a, b := reflect.ValueOf(saved), reflect.ValueOf(now)
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			return fmt.Sprintf("%s was %v, now %v", tag, a.Field(i).Interface(), b.Field(i).Interface())
		}
	}
	return ""
}

// writeCurves plots the run's losses and validation perplexity by step
// (OutDir/curves.png).
func writeCurves(path string, h []Record) error {
	var c curves
	for _, r := range h {
		c.add(r.Step, r.TrainLoss, r.ValLoss, r.ValPPL)
	}
	return c.write(path, "next-token loss (nats)", "validation perplexity")
}

// WriteClassifyCurves writes a classification run's curves as a PNG at
// path: training and validation loss, and validation accuracy, by step.
func WriteClassifyCurves(path string, h []ClassifyRecord) error {
	var c curves
	for _, r := range h {
		c.add(r.Step, r.TrainLoss, r.ValLoss, r.ValAcc)
	}
	return c.write(path, "cross-entropy loss", "validation accuracy")
}

// curves are a run's validation points: step, training and validation
// loss, and one validation score.
type curves struct{ x, train, val, score []float64 }

func (c *curves) add(step int, train, val, score float64) {
	c.x, c.train = append(c.x, float64(step)), append(c.train, train)
	c.val, c.score = append(c.val, val), append(c.score, score)
}

// write draws the losses and the score, two panels side by side.
func (c *curves) write(path, lossTitle, scoreTitle string) error {
	markers := len(c.x) < 12
	return plot.WritePNG(path,
		plot.Panel{Title: lossTitle, XLabel: "step", Series: []plot.Series{
			{Name: "train", X: c.x, Y: c.train}, {Name: "validation", X: c.x, Y: c.val}}, Markers: markers},
		plot.Panel{Title: scoreTitle, XLabel: "step", Series: []plot.Series{
			{Name: "validation", X: c.x, Y: c.score}}, Markers: markers})
}
