package backbones

// Model specs: what --model and --base name. One place resolves them for
// the CLI and for Go programs.

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/glora/glora/models/vit"
)

// Shipped is the model spec of the pretrained backbone embedded in the
// binary (DefaultName); it is the default of every command that takes a
// model.
const Shipped = "shipped"

// oldFmnistPreset is the former name of the preset vit-fmnist-arch, which
// was easy to take for the shipped backbone of the same name.
const oldFmnistPreset = "vit-fmnist"

// modelHelp is the --model flag's help text.
const modelHelp = "model: shipped (the pretrained backbone embedded in glora), a checkpoint folder (config.json + model.safetensors), or a preset for a randomly initialised model (vit-micro, vit-fmnist-arch, vit-tiny, vit-small, vit-base)"

// Resolve loads a model spec: "shipped" (or "") is the shipped backbone,
// a folder is a checkpoint (config.json + model.safetensors, timm or
// transformers dialect), anything else a preset name (randomly initialised
// from seed; classes > 0 gives it that many classes instead of its own).
// from describes the model for messages; fresh reports a preset.
func Resolve(spec string, seed uint64, classes int) (m *vit.Model, ck vit.Checkpoint, from string, fresh bool, err error) {
	if spec == "" || spec == Shipped {
		m, ck, err := Default()
		return m, ck, "the shipped backbone (" + DefaultName + ")", false, err
	}
	if err := CheckSpec(spec); err != nil {
		return nil, ck, "", false, err
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		m, ck, err := vit.Load(spec)
		return m, ck, spec, false, err
	}
	cfg, err := vit.Preset(spec)
	if err != nil {
		return nil, ck, "", false, err
	}
	if classes > 0 {
		cfg.NumClasses = classes
	}
	m, err = vit.New(cfg, rand.New(rand.NewPCG(seed, 0x76697420)))
	if err != nil {
		return nil, ck, "", false, err
	}
	return m, vit.NewCheckpoint(spec, cfg), "preset " + spec + " (random init)", true, nil
}

// InputConfig is the configuration of the model spec names (its input
// size, channels and normalisation), read without loading any weights when
// the model is a folder or a preset.
func InputConfig(spec string) (vit.Config, error) {
	if spec == "" || spec == Shipped {
		_, ck, err := Default()
		return ck.Config, err
	}
	if err := CheckSpec(spec); err != nil {
		return vit.Config{}, err
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		ck, err := vit.LoadConfig(spec)
		return ck.Config, err
	}
	return vit.Preset(spec)
}

// CheckSpec checks a model spec without loading anything: the shipped
// backbone, a checkpoint folder or a known preset; it explains the usual
// mistakes (see CheckFolder, and the old preset name vit-fmnist).
func CheckSpec(spec string) error {
	if spec == "" || spec == Shipped {
		return nil
	}
	if spec == ShippedLM {
		return fmt.Errorf("model %s is the shipped language model, and this takes an image model (a ViT): --model %s is the shipped image backbone", spec, Shipped)
	}
	if st, err := os.Stat(spec); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("model %s is a file; want a checkpoint folder (config.json + model.safetensors)", spec)
		}
		return CheckFolder(spec)
	}
	if spec == oldFmnistPreset {
		return fmt.Errorf("model %q is ambiguous: the pretrained backbone shipped with glora is --model %s; "+
			"its architecture, randomly initialised, is the preset vit-fmnist-arch", spec, Shipped)
	}
	if _, err := vit.Preset(spec); err != nil {
		if strings.ContainsAny(spec, `/\`) || strings.HasPrefix(spec, ".") {
			return fmt.Errorf("model %s: no such checkpoint folder", spec)
		}
		return fmt.Errorf("model %q is neither a checkpoint folder, nor %q (the shipped backbone), nor a preset: %w", spec, Shipped, err)
	}
	return nil
}

// CheckFolder explains folders that are not checkpoints: a training
// run's checkpoint/ (state.json, no config.json), a run's own folder (its
// model in best/ or merged/; a supernet run), an adapter folder, or a
// folder without config.json.
func CheckFolder(dir string) error {
	has := func(name string) bool { return inFolder(dir, name) }
	if has(vit.ConfigFile) {
		return nil
	}
	run := filepath.Dir(filepath.Clean(dir))
	switch {
	case has("state.json"):
		return fmt.Errorf("model %s is a training checkpoint (model and optimiser state, for resuming): %s", dir, checkpointHint(run))
	case has(filepath.Join("best", vit.ConfigFile)):
		return fmt.Errorf("model %s is a training run's folder: its model is %s", dir, filepath.Join(dir, "best"))
	case has(filepath.Join("merged", vit.ConfigFile)):
		return fmt.Errorf("model %s is a fine-tuning run's folder: its merged model is %s", dir, filepath.Join(dir, "merged"))
	case has("supernet.settings.json"):
		return fmt.Errorf("model %s is a supernet run, not a model: search it (glora search --run %s), then retrain the structure it finds (glora finetune --structure %s)",
			dir, dir, filepath.Join(dir, "structure.json"))
	case has("adapter_config.json"):
		return fmt.Errorf("model %s is an adapter, not a model: use its run's merged model, or merge it (glora merge --adapter %s --out DIR)", dir, dir)
	}
	if _, err := os.ReadDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("model %s: %w", dir, err)
	}
	return fmt.Errorf("model %s is not a checkpoint folder: it has no %s (want %s + %s)", dir, vit.ConfigFile, vit.ConfigFile, vit.WeightsFile)
}

// checkpointHint says what to use instead of the checkpoint/ folder of the
// training run in run: the run's model (merged/ for a fine-tuning run,
// best/ for pretraining) and the command that resumes it, told by its
// settings file (COMMAND.settings.json).
func checkpointHint(run string) string {
	has := func(name string) bool { return inFolder(run, name) }
	cmd := "pretrain"
	for _, c := range []string{"finetune", "supernet"} {
		if has(c + ".settings.json") {
			cmd = c
			break
		}
	}
	resume := fmt.Sprintf("continue the run with glora %s --resume --out %s", cmd, run)
	for _, m := range []string{"merged", "best"} {
		if has(filepath.Join(m, vit.ConfigFile)) {
			return fmt.Sprintf("use %s as a model, or %s", filepath.Join(run, m), resume)
		}
	}
	if cmd == "supernet" {
		return fmt.Sprintf("a supernet is searched, not used as a model (glora search --run %s), or %s", run, resume)
	}
	return resume
}

// inFolder reports whether dir holds name (a file or folder).
func inFolder(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}
