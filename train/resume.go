package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// Resuming a run: which settings a resumed run may change, and the saved
// options a resume starts from.

// ResumeMayChange are the state.json option names a resumed run may
// change: the number of epochs (the cosine schedule is then recomputed for
// the new total from the current step; it may not drop below the epochs
// already done), the checkpoint interval, and the base a trainable-only
// checkpoint was trained over (base_ref: the base may have moved; its frozen
// tensors are checked against the digest recorded at saving instead). Every
// other recorded option
// (data, scheme, split seed, model, head, batch, learning rates, warm-up,
// weight decay, label smoothing, clipping, seed, augmentation, drop-path)
// defines the run and must stay as saved.
var ResumeMayChange = map[string]bool{"epochs": true, "checkpoint_every": true, "base_ref": true}

// identityKeys are the options recorded in state.json since resume began to
// check the data: a state.json without "scheme" predates them and is not
// checked on these.
var identityKeys = map[string]bool{"data": true, "scheme": true, "split_seed": true,
	"model": true, "new_head": true, "drop_path": true}

// ResumeConflict is one setting a resumed run asks to change.
type ResumeConflict struct {
	Setting string // the state.json option name, e.g. "split_seed"
	Saved   any    // the value the run was saved with
	Given   any    // the value asked for now
	Reason  string // why it may not change
}

// ResumeError lists the settings that stop a resume.
type ResumeError struct{ Conflicts []ResumeConflict }

func (e *ResumeError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = fmt.Sprintf("the run was saved with %s %v, this one asks for %s %v (%s)", c.Setting, c.Saved, c.Setting, c.Given, c.Reason)
	}
	return "cannot resume: " + strings.Join(parts, "; ")
}

// optionFields calls f for every Options field recorded in state.json,
// with its JSON name and field index.
func optionFields(f func(key string, i int)) {
	rt := reflect.TypeOf(Options{})
	for i := 0; i < rt.NumField(); i++ {
		key, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if key == "" || key == "-" {
			continue
		}
		f(key, i)
	}
}

// recorded reports whether saved holds a value for key (state.json files
// written before the data was recorded lack the identity settings).
func recorded(saved *Options, key string) bool {
	return !identityKeys[key] || saved.Scheme != ""
}

// CheckResume compares the options of a run about to resume with the
// state it was saved in: every recorded setting outside ResumeMayChange
// must be equal, and Epochs may not drop below the epochs already done. It
// returns a *ResumeError naming each difference.
func CheckResume(st State, o Options) error {
	saved := st.Options
	savedV, oV := reflect.ValueOf(saved), reflect.ValueOf(o)
	var cs []ResumeConflict
	optionFields(func(key string, i int) {
		if ResumeMayChange[key] || !recorded(&saved, key) {
			return
		}
		sv, v := savedV.Field(i), oV.Field(i)
		if !reflect.DeepEqual(sv.Interface(), v.Interface()) {
			cs = append(cs, ResumeConflict{Setting: key, Saved: sv.Interface(), Given: v.Interface(),
				Reason: "it defines the run; start a new run in another folder to change it"})
		}
	})
	if o.Epochs < st.Epoch {
		cs = append(cs, ResumeConflict{Setting: "epochs", Saved: saved.Epochs, Given: o.Epochs,
			Reason: fmt.Sprintf("the run has already done %d epochs", st.Epoch)})
	}
	if len(cs) > 0 {
		return &ResumeError{Conflicts: cs}
	}
	return nil
}

// MergeResume returns o with every recorded setting that given reports as
// not given (by state.json name) replaced by saved's: a resume that repeats
// no flag continues with the saved settings. Settings given explicitly are
// kept, for CheckResume to compare.
func MergeResume(saved, o Options, given func(key string) bool) Options {
	savedV, oV := reflect.ValueOf(saved), reflect.ValueOf(&o).Elem()
	optionFields(func(key string, i int) {
		if !given(key) && recorded(&saved, key) {
			oV.Field(i).Set(savedV.Field(i))
		}
	})
	return o
}

// StateFile is where a run in outDir keeps its resume state.
func StateFile(outDir string) string { return filepath.Join(outDir, "checkpoint", "state.json") }

// ReadState reads the resume state of the run in outDir (its
// checkpoint/state.json), without loading any weights.
func ReadState(outDir string) (State, error) {
	var st State
	path := StateFile(outDir)
	js, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("resume: %w", err)
	}
	if err := json.Unmarshal(js, &st); err != nil {
		return st, fmt.Errorf("resume: %s: %w", path, err)
	}
	return st, nil
}

// checkState refuses a resume state that cannot have been saved by a run
// with perEpoch batches an epoch (a damaged or edited state.json): the
// position (epoch, batch, step) must agree, one history record per
// finished epoch, and the running sums of the epoch in progress must be
// possible. Resuming from it would train silently wrong.
func checkState(st State, perEpoch int, path string) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("resume: %s is not a state this run could have saved: %s; start the run again (--overwrite) or restore the file", path, fmt.Sprintf(format, a...))
	}
	switch {
	case st.Epoch < 0 || st.Batch < 0 || st.Batch > perEpoch:
		return bad("epoch %d, batch %d (an epoch has %d batches)", st.Epoch, st.Batch, perEpoch)
	case st.Step != st.Epoch*perEpoch+st.Batch:
		return bad("step %d, but epoch %d batch %d at %d batches an epoch is step %d", st.Step, st.Epoch, st.Batch, perEpoch, st.Epoch*perEpoch+st.Batch)
	case len(st.History) != st.Epoch:
		return bad("%d epoch records for %d finished epochs", len(st.History), st.Epoch)
	case st.BestEpoch < 0 || st.BestEpoch > st.Epoch:
		return bad("best epoch %d of %d finished", st.BestEpoch, st.Epoch)
	case st.Seen < 0 || st.Correct < 0 || st.Correct > st.Seen || !(st.LossSum >= 0) || math.IsInf(st.LossSum, 0) || !(st.EpochSecs >= 0):
		return bad("the epoch in progress has %d images seen, %d correct, loss sum %g, %g s", st.Seen, st.Correct, st.LossSum, st.EpochSecs)
	}
	return nil
}
