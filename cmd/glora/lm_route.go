package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/glora/glora/backbones"
)

// The image commands finetune, run, supernet and search also take a
// language model: a --base that is a LLaMA-style decoder (shipped-lm, a
// Llama folder, a llama2.c file), or a text --data spec with no --base,
// hands the command to finetune-lm (run: finetune-lm --method searched,
// GLoRA's whole chain on the decoder), --base read as --model.

// flagValue is the value of --name in args (--name V, --name=V, one dash
// or two), and whether it was given.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		t := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if t == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(t, name+"="); ok && t != a {
			return v, true
		}
	}
	return "", false
}

// isTextSpec tells whether a --data spec names a text corpus.
func isTextSpec(spec string) bool {
	name, _, _ := strings.Cut(spec, ",")
	name, _, _ = strings.Cut(name, ":")
	return name == "spam" || name == "fortune" || name == "man" || name == "text"
}

// lmBase tells whether args make cmd a language-model run, and the model.
func lmBase(args []string) (string, bool) {
	base, given := flagValue(args, "base")
	if !given {
		data, _ := flagValue(args, "data")
		return backbones.ShippedLM, isTextSpec(data)
	}
	ext := strings.ToLower(filepath.Ext(base))
	return base, ext != ".safetensors" && ext != ".json" && isLlama(base)
}

// routeLM runs cmd as finetune-lm when args make it a language-model run
// (handled true), with --base renamed --model; run adds --method searched;
// supernet and search, whose stages finetune-lm runs as one chain, say so.
func routeLM(cmd string, args []string, stdout, stderr io.Writer) (handled bool, err error) {
	base, ok := lmBase(args)
	if !ok {
		return false, nil
	}
	switch cmd {
	case "supernet", "search":
		return true, fmt.Errorf("--base %s is a language model: its GLoRA chain (supernet, search, retraining) runs as one command, glora run --base %s --data … (which is glora finetune-lm --method searched)", base, base)
	}
	var lm []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		t := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case t == "base" && t != a:
			lm = append(lm, "--model")
		case strings.HasPrefix(t, "base=") && t != a:
			lm = append(lm, "--model="+strings.TrimPrefix(t, "base="))
		default:
			lm = append(lm, a)
		}
	}
	how := "glora finetune-lm"
	if cmd == "run" {
		if _, given := flagValue(args, "method"); given {
			return true, fmt.Errorf("--base %s is a language model, for which run is finetune-lm --method searched: run takes no --method (glora finetune-lm --method … runs the others)", base)
		}
		lm = append([]string{"--method", "searched"}, lm...)
		how += " --method searched"
	}
	fmt.Fprintf(stderr, "glora %s: %s is a language model: running %s (its flags: glora help finetune-lm)\n", cmd, base, how)
	return true, runFinetuneLM(lm, stdout, stderr)
}
