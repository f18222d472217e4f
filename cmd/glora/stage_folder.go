package main

// A pipeline command's run folder: its settings file, claiming it (new,
// --resume or --overwrite), the saved settings against the flags given
// again, and the message of an interrupted run.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// settingsFile is the file each pipeline command keeps its settings in,
// in its output folder: it marks the folder as that command's run.
func settingsFile(dir, cmd string) string { return filepath.Join(dir, cmd+".settings.json") }

// claimOut applies the --out rules before any work: a new or empty folder
// starts a run; one holding this command's run needs --resume (continue)
// or --overwrite (start again); anything else is refused. It returns the
// saved settings' raw JSON when resuming.
func claimOut(flag, dir, cmd string, resume, overwrite bool) ([]byte, error) {
	if resume && overwrite {
		return nil, fmt.Errorf("--resume and --overwrite contradict each other: continue the run, or start it again")
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("%s %s is a file, not a folder: name a new or empty folder for the run", flag, dir)
	}
	saved, err := os.ReadFile(settingsFile(dir, cmd))
	if err == nil {
		switch {
		case resume:
			return saved, nil
		case overwrite:
			return nil, nil
		}
		return nil, fmt.Errorf("%s %s holds a run of glora %s (%s): continue it with --resume, start it again with --overwrite, or choose another folder",
			flag, dir, cmd, filepath.Base(settingsFile(dir, cmd)))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	if resume {
		return nil, fmt.Errorf("--resume: nothing to continue in %s (no %s, which glora %s writes); leave out --resume to start one", dir, filepath.Base(settingsFile(dir, cmd)), cmd)
	}
	ents, err := os.ReadDir(dir)
	if err == nil && len(ents) > 0 && !overwrite {
		return nil, fmt.Errorf("%s %s is not empty and holds no run of glora %s: choose a new or empty folder", flag, dir, cmd)
	}
	if err == nil && len(ents) > 0 && overwrite {
		return nil, fmt.Errorf("%s %s is not empty and holds no run of glora %s: --overwrite replaces only a run of this command; choose a new or empty folder", flag, dir, cmd)
	}
	return nil, nil
}

// mergeSaved returns saved with every explicitly given flag checked
// against it: flagKeys maps a flag to its JSON key in the settings; a
// given flag whose value differs is an error naming it. given holds the
// settings built from this invocation's flags.
func mergeSaved[T any](saved []byte, given T, explicit map[string]bool, flagKeys map[string]string, out string) (T, error) {
	var s T
	if err := json.Unmarshal(saved, &s); err != nil {
		return s, fmt.Errorf("--resume: %s: %w", out, err)
	}
	sm, gm := toMap(s), toMap(given)
	var conflicts []string
	for f := range explicit {
		k, ok := flagKeys[f]
		if !ok {
			continue
		}
		if !reflect.DeepEqual(sm[k], gm[k]) {
			conflicts = append(conflicts, fmt.Sprintf("--%s %v, but the run was saved with %v", f, show(gm[k]), show(sm[k])))
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return s, fmt.Errorf("--resume: cannot continue the run in %s: %s; leave a flag out to use the saved value, or start a new run in another folder",
			out, strings.Join(conflicts, "; "))
	}
	return s, nil
}

func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	m := map[string]any{}
	json.Unmarshal(b, &m)
	return m
}

func show(v any) string {
	if v == nil {
		return "none"
	}
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// startOut prepares the output folder of a run that passed claimOut: a
// fresh one (overwrite: the previous run removed) with the settings saved,
// and beside them the precision of the run's matrix products, which
// --resume continues at (resumePrecision).
func startOut(dir, cmd string, overwrite, resume bool, settings any, prec tensor.Precision) error {
	if overwrite && !resume {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := withPrecision(settings, prec)
	if err != nil {
		return err
	}
	return writeJSONAtomic(settingsFile(dir, cmd), js)
}

// precisionKey is the settings files' key for the run's precision.
const precisionKey = "precision"

// withPrecision is settings' JSON object with the precision's key first.
func withPrecision(settings any, prec tensor.Precision) (json.RawMessage, error) {
	b, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("settings of type %T are not a JSON object", settings)
	}
	head := fmt.Sprintf("{%q:%q", precisionKey, prec.String())
	if string(b) == "{}" {
		return json.RawMessage(head + "}"), nil
	}
	return json.RawMessage(head + "," + string(b[1:])), nil
}

// resumePrecision is the precision a resumed run of cmd in out continues
// at (saved: its settings file's JSON): the one it was started with, unless --precision, given
// again (explicit), differs, which is refused. A run saved before the
// precision was recorded takes this invocation's (given). When the saved
// precision replaces the flag's default, log hears how it runs here.
func resumePrecision(saved []byte, given tensor.Precision, explicit bool, out, cmd string, log io.Writer) (tensor.Precision, error) {
	file := settingsFile(out, cmd)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(saved, &m); err != nil {
		return given, fmt.Errorf("--resume: %s: %w", file, err)
	}
	raw, ok := m[precisionKey]
	if !ok {
		return given, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return given, fmt.Errorf("--resume: %s: %s: %w", file, precisionKey, err)
	}
	p, err := tensor.ParsePrecision(v)
	if err != nil {
		return given, fmt.Errorf("--resume: %s: %s: %w", file, precisionKey, err)
	}
	switch {
	case p == given:
		return p, nil
	case explicit:
		return given, fmt.Errorf("--resume: cannot continue the run in %s: --precision %s, but the run was started with %s; leave the flag out to continue in %s, or start a new run in another folder",
			out, given, p, p)
	}
	return applyPrecision(p.String(), log)
}

// hasCheckpoint reports whether a stage in dir saved a checkpoint.
func hasCheckpoint(dir string) bool { return fileExists(train.StateFile(dir)) }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// interrupted is the error of a command stopped by Ctrl-C or SIGTERM
// (exit 130 or 143) and how to continue.
func interrupted(ctx context.Context, cmd, out string) error {
	return &exitError{code: interruptCode(ctx), err: fmt.Errorf("interrupted; the checkpoint is saved: continue with glora %s --resume %s", cmd, out)}
}
