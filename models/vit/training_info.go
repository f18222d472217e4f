package vit

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// TrainingKey is the config.json key (in either dialect) under which glora
// records how a model was trained: a small object with the data spec, the
// validation scheme and the split seed.
const TrainingKey = "glora_training"

// TrainingInfo records which images a model was trained on, so that later
// commands can default to the same split and refuse to score a "validation"
// split that held training images. Scheme "full" means the model has seen
// the whole training split of Data (no validation split is held out).
type TrainingInfo struct {
	Data      string `json:"data"`       // the --data spec, e.g. "fashion-mnist" or "folder:/path"
	Scheme    string `json:"scheme"`     // the --scheme: full, holdout[:F], vtab1k, Kshot
	SplitSeed uint64 `json:"split_seed"` // the --split-seed
}

// takeTrainingInfo removes TrainingKey from extra (a config.json object's
// uninterpreted fields) and returns its value; nil when absent.
func takeTrainingInfo(extra map[string]any) (*TrainingInfo, error) {
	v, ok := extra[TrainingKey]
	if !ok {
		return nil, nil
	}
	delete(extra, TrainingKey)
	obj, isObj := v.(map[string]any)
	if !isObj {
		return nil, fmt.Errorf("field %q: want an object {data, scheme, split_seed}, have %s", TrainingKey, jsonText(v))
	}
	var t TrainingInfo
	var err error
	if t.Data, _, err = getString(obj, "data"); err != nil {
		return nil, fmt.Errorf("field %q: %w", TrainingKey, err)
	}
	if t.Scheme, _, err = getString(obj, "scheme"); err != nil {
		return nil, fmt.Errorf("field %q: %w", TrainingKey, err)
	}
	if s, ok := obj["split_seed"]; ok {
		n, isNum := s.(json.Number)
		seed, perr := uint64(0), error(nil)
		if isNum {
			seed, perr = strconv.ParseUint(string(n), 10, 64)
		}
		if !isNum || perr != nil {
			return nil, fmt.Errorf("field %q: split_seed %s: want a whole number ≥ 0", TrainingKey, jsonText(s))
		}
		t.SplitSeed = seed
	}
	if t.Data == "" || t.Scheme == "" {
		return nil, fmt.Errorf("field %q: needs both \"data\" and \"scheme\"", TrainingKey)
	}
	return &t, nil
}

// trainingJSON is t as a config.json object.
func trainingJSON(t *TrainingInfo) map[string]any {
	return map[string]any{"data": t.Data, "scheme": t.Scheme,
		"split_seed": json.Number(strconv.FormatUint(t.SplitSeed, 10))}
}
