package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/glora/glora/backbones"
)

// The image commands finetune, run, supernet and search also take a
// language model: a --base that is a LLaMA-style decoder (shipped-lm, a
// Llama folder, a llama2.c file), or a text --data spec with no --base,
// hands the command to finetune-lm, --base read as --model: run is
// finetune-lm --method searched (GLoRA's whole chain on the decoder),
// supernet its first stage (--stage supernet), and search --run DIR on
// such a supernet's folder its second (--stage search).

// flagValue is the value of --name in args (--name V, --name=V, one dash
// or two), and whether it was given.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		t, isFlag := dashless(a)
		if !isFlag {
			continue
		}
		if t == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(t, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// dashless is a command-line argument without its one or two leading
// dashes, and whether it had any (a flag, "name" or "name=value").
func dashless(a string) (string, bool) {
	t := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	return t, t != a
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
// (handled true), with --base renamed --model (see above).
func routeLM(cmd string, args []string, stdout, stderr io.Writer) (handled bool, err error) {
	if cmd == "search" {
		return routeSearch(args, stdout, stderr)
	}
	base, ok := lmBase(args)
	if !ok {
		return false, nil
	}
	lm := renameFlag(args, "base", "--model")
	how := "glora finetune-lm"
	switch cmd {
	case "run", "supernet":
		if _, given := flagValue(args, "method"); given {
			return true, fmt.Errorf("--base %s is a language model, for which %s is finetune-lm --method searched: %s takes no --method (glora finetune-lm --method … runs the others)", base, cmd, cmd)
		}
		lm = append([]string{"--method", "searched"}, lm...)
		how += " --method searched"
		if cmd == "supernet" {
			lm = append([]string{"--stage", "supernet"}, lm...)
			how += " --stage supernet"
		} else if task, _ := flagValue(args, "task"); task != "classify" {
			// run, as the image chain: the test split read once at the end
			// (a classification run always reads it)
			lm = append([]string{"--test"}, lm...)
			how += " --test"
		}
	}
	fmt.Fprintf(stderr, "glora %s: %s is a language model: running %s (its flags: glora help finetune-lm)\n", cmd, base, how)
	return true, runFinetuneLM(lm, stdout, stderr)
}

// renameFlag is args with the flag --from (one dash or two, "--from V" or
// "--from=V") spelled to instead.
func renameFlag(args []string, from, to string) []string {
	var out []string
	for _, a := range args {
		t, isFlag := dashless(a)
		switch {
		case isFlag && t == from:
			out = append(out, to)
		case isFlag && strings.HasPrefix(t, from+"="):
			out = append(out, to+"="+strings.TrimPrefix(t, from+"="))
		default:
			out = append(out, a)
		}
	}
	return out
}

// routeSearch runs glora search --run DIR as finetune-lm --stage search
// when DIR holds a language-model supernet run (glora supernet's on a
// decoder).
func routeSearch(args []string, stdout, stderr io.Writer) (bool, error) {
	dir, ok := flagValue(args, "run")
	if !ok {
		return false, nil
	}
	if _, err := os.Stat(settingsFile(dir, "finetune-lm")); err != nil {
		return false, nil
	}
	// The image search's own flags, which finetune-lm does not define, get
	// the decoder search's answer rather than "flag provided but not
	// defined"; finetune-lm --stage search refuses the others it does
	// define (searchStageSettings).
	for _, a := range args {
		if a == "--" {
			break
		}
		t, isFlag := dashless(a)
		name, _, _ := strings.Cut(t, "=")
		if !isFlag {
			continue // a flag's value
		}
		switch name {
		case "budget":
			return true, fmt.Errorf("--budget: a language-model search's budget is LoRA's at the largest rank of the supernet in %s (glora supernet --ranks, --min-params set it and its floor)", dir)
		case "topk", "mutations", "crossovers", "mutation-prob", "recipe", "seed-named":
			return true, fmt.Errorf("--%s is an image search's setting: a language-model search (the supernet in %s) has its own, fixed when the supernet was trained (glora help finetune-lm)", name, dir)
		}
	}
	fmt.Fprintf(stderr, "glora search: %s holds a language-model supernet: running glora finetune-lm --stage search\n", dir)
	return true, runFinetuneLM(append([]string{"--stage", "search"}, renameFlag(args, "run", "--out")...), stdout, stderr)
}
