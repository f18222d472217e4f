package vit

import (
	"encoding/json"
	"strconv"
)

// Class names in config.json (Checkpoint.Labels):
//
//	timm          "label_names": ["cat", "dog", …] at the top level (as
//	              timm's save_config_for_hf writes it) or in
//	              pretrained_cfg (where timm keeps it once loaded); a list,
//	              or an object {"0": "cat", …}. The top level wins, as in
//	              timm's load_model_config_from_hf.
//	transformers  "id2label": {"0": "cat", …} and "label2id": {"cat": 0, …};
//	              names LABEL_0, LABEL_1, … are transformers' placeholders.
//
// Names are read only when there is one per class; otherwise the field
// stays uninterpreted in Extra.

// labelPlace records where a timm config held label_names.
type labelPlace uint8

const (
	labelsTop labelPlace = 1 << iota // config.json's top level
	labelsPC                         // pretrained_cfg
)

// labelList reads a list of n names, or an object with the keys "0"…"n-1".
func labelList(v any, n int) ([]string, bool) {
	if n <= 0 {
		return nil, false
	}
	out := make([]string, n)
	switch l := v.(type) {
	case []any:
		if len(l) != n {
			return nil, false
		}
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
	case map[string]any:
		if !labelsFit(l, n) {
			return nil, false
		}
		for i := range out {
			s, ok := l[strconv.Itoa(i)].(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
	default:
		return nil, false
	}
	return out, true
}

// takeTimmLabels moves label_names out of a timm Extra (top level and
// pretrained_cfg) when they name the n classes.
func takeTimmLabels(extra map[string]any, n int) ([]string, labelPlace) {
	var labels []string
	var at labelPlace
	if l, ok := labelList(extra["label_names"], n); ok {
		labels, at = l, labelsTop
		delete(extra, "label_names")
	}
	if pc, ok := extra["pretrained_cfg"].(map[string]any); ok {
		if l, ok := labelList(pc["label_names"], n); ok {
			if labels == nil {
				labels = l
			}
			at |= labelsPC
			delete(pc, "label_names")
		}
	}
	return labels, at
}

// putTimmLabels writes labels as label_names where they were read (the top
// level for a new folder, as timm writes them), when there is one per class.
func putTimmLabels(out, pc map[string]any, labels []string, at labelPlace, n int) {
	if n <= 0 || len(labels) != n {
		return
	}
	if at == 0 {
		at = labelsTop
	}
	if at&labelsTop != 0 {
		out["label_names"] = anyStrings(labels)
	}
	if at&labelsPC != 0 {
		pc["label_names"] = anyStrings(labels)
	}
}

// takeHFLabels moves id2label out of a transformers Extra when it names the
// n classes; placeholder names LABEL_i give nil. label2id stays in Extra
// (hfLabelMaps keeps it while it matches).
func takeHFLabels(extra map[string]any, n int) []string {
	l, ok := labelList(extra["id2label"], n)
	if !ok {
		return nil
	}
	delete(extra, "id2label")
	for i, s := range l {
		if s != "LABEL_"+strconv.Itoa(i) {
			return l
		}
	}
	return nil
}

// hfLabelMaps are the id2label and label2id objects for n classes: from
// labels when there is one per class, else the uninterpreted id2label of
// Extra when it fits, else transformers' placeholders LABEL_i. A label2id
// of Extra is kept when it names exactly id2label's names.
func hfLabelMaps(extra map[string]any, labels []string, n int) (id2label, label2id map[string]any) {
	id2label = map[string]any{}
	switch old, _ := extra["id2label"].(map[string]any); {
	case len(labels) == n:
		for i, s := range labels {
			id2label[strconv.Itoa(i)] = s
		}
	case labelsFit(old, n):
		id2label = old
	default:
		for i := 0; i < n; i++ {
			id2label[strconv.Itoa(i)] = "LABEL_" + strconv.Itoa(i)
		}
	}
	names := map[string]string{} // name → id
	for i := n - 1; i >= 0; i-- {
		k := strconv.Itoa(i)
		if s, ok := id2label[k].(string); ok {
			names[s] = k
		}
	}
	if old, _ := extra["label2id"].(map[string]any); len(old) == len(names) {
		same := true
		for s := range names {
			if _, ok := old[s]; !ok {
				same = false
			}
		}
		if same {
			return id2label, old
		}
	}
	label2id = map[string]any{}
	for s, k := range names {
		label2id[s] = json.Number(k)
	}
	return id2label, label2id
}

func anyStrings(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
