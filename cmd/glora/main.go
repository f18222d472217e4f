// Command glora fine-tunes transformers with GLoRA (Generalized LoRA).
//
// Usage: glora <command> [flags]. Run `glora help` for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"version":         {"print glora's version", runVersion},
		"help":            {"list the commands, or show one command's flags", runHelp},
		"average":         {"average checkpoints of one architecture (a uniform model soup)", runAverage},
		"bench":           {"measure the engine (sgemm, vit-train, …, merged-forward) or, with bench transfer, every method on the transfer suite", runBench},
		"convert":         {"rewrite a checkpoint in another dialect (timm, transformers) or dtype", runConvert},
		"demo":            {"adapt the shipped backbone to MNIST-1k: linear probe, LoRA, GLoRA fixed and searched (--synthetic: the tiny generated-image demo)", runDemo},
		"eval-lm":         {"perplexity of a language model on a text corpus split, and its tokens per second (of a classifier: its accuracy)", runEvalLM},
		"eval":            {"top-1 and per-class accuracy of a model on a dataset split (--plot: confusion matrix)", runEval},
		"inspect":         {"show a checkpoint (config, tensors, parameter counts) or an adapter (structure, trainable params)", runInspect},
		"merge":           {"fold a GLoRA adapter into its base model and write a plain model folder", runMerge},
		"predict":         {"label images: each image's most probable classes under a model", runPredict},
		"train-tokenizer": {"train a BPE tokenizer (byte fallback, LLaMA's layout) on a text corpus: tokenizer.json, tokenizer_config.json, tokenizer.bin", runTrainTokenizer},
		"pretrain-lm":     {"train a LLaMA-style language model on a text corpus (a BPE tokenizer trained too), with checkpoints, resume and curves", runPretrainLM},
		"pretrain":        {"train a ViT (from scratch or a checkpoint) with checkpoints, resume and curves", runPretrain},
		"supernet":        {"train a GLoRA supernet on a base model and data (the first step of GLoRA); a language-model --base or a text --data runs finetune-lm --stage supernet", runSupernet},
		"search":          {"evolutionary search of a supernet run for the best structure under a parameter budget (validation only); a language-model supernet's folder runs finetune-lm --stage search", runSearch},
		"generate":        {"continue a prompt with a LLaMA-style language model (key/value cache; greedy, temperature, top-p), streaming the text", runGenerate},
		"finetune-lm":     {"adapt a language model to a text corpus with one method (full, lora, glora-fixed, ia3, ssf, bitfit, glora, searched): a merged model and a PEFT adapter; --task classify learns its labels", runFinetuneLM},
		"finetune":        {"fine-tune a base with one method (glora, glora-fixed, lora, ssf, ia3, bitfit, linear, full); a language-model --base or a text --data runs finetune-lm", runFinetune},
		"run":             {"the whole GLoRA chain: supernet, search, retrain, merge, test evaluation; a language-model --base or a text --data runs finetune-lm --method searched", runRun},
	}
}

// exitError ends glora with an exit code other than 1, printing err when
// it is not nil (e.g. 130 after Ctrl-C, as shells expect).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitInterrupted is the exit code after Ctrl-C (128 + SIGINT).
const exitInterrupted = 130

// interruptCode is the exit code of a command whose context a signal
// ended, as shells report one: 128 + the signal's number (143 for
// SIGTERM, 130 for Ctrl-C and anything else).
func interruptCode(ctx context.Context) int {
	if c := context.Cause(ctx); c != nil && strings.HasPrefix(c.Error(), syscall.SIGTERM.String()+" ") {
		return 128 + int(syscall.SIGTERM)
	}
	return exitInterrupted
}

// errUsage marks errors that come with usage text already printed.
var errUsage = errors.New("usage")

func main() {
	leanGC(os.Getenv)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help":
		name = "help"
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "glora: unknown command %q", name)
		if near := nearestCommand(name); near != "" {
			fmt.Fprintf(stderr, " (did you mean %s?)", near)
		}
		fmt.Fprint(stderr, "\n\n")
		usage(stderr)
		return 2
	}
	stopProfile, err := startEnvProfile(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "glora %s: %v\n", name, err)
		return 1
	}
	err = cmd.run(args[1:], stdout, stderr)
	stopProfile()
	if err != nil {
		if name == "bench" && len(args) > 1 && args[1] == "transfer" {
			name = "bench transfer" // its errors name the subcommand
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintf(stderr, "glora %s: %v\n", name, ee.err)
			}
			return ee.code
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "glora %s: %v\n", name, err)
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "glora: GLoRA (Generalized LoRA) fine-tuning of transformers, in Go.")
	fmt.Fprintln(w, "\nUsage: glora <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `glora help <command>` for a command's flags.")
}

// nearestCommand is the command within edit distance 2 of name (a typo),
// the closest first and then the first in order; "" when none is.
func nearestCommand(name string) string {
	best, bestD := "", 3
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	if err := parseFlags(newFlags("version", "version", stderr), args, 0); err != nil {
		return err
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		fmt.Fprintf(stdout, "glora %s %s\n", v, bi.GoVersion)
		return nil
	}
	fmt.Fprintf(stdout, "glora %s\n", v)
	return nil
}

func runHelp(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stdout)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok || args[0] == "help" {
		if !ok {
			return fmt.Errorf("unknown command %q", args[0])
		}
		usage(stdout)
		return nil
	}
	return cmd.run([]string{"-h"}, stdout, stdout)
}

// newFlags returns a FlagSet that prints its usage to w and returns errors.
func newFlags(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: glora %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, rejecting stray positional arguments unless
// allowed. Flags may follow positional arguments (`glora bench sgemm --n 512`);
// afterwards fs.Args() holds the positional ones.
//
// -h prints the command's usage; a bad flag or argument prints what is
// wrong and where the flags are listed, not the whole list.
func parseFlags(fs *flag.FlagSet, args []string, maxPositional int) error {
	out, full := fs.Output(), fs.Usage
	// flag reports an error itself and then calls Usage (also for -h):
	// silence both, and say it here.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = full }()
	hint := func(err error) error {
		fmt.Fprintf(out, "glora %s: %v\n(glora %s --help lists its flags)\n", fs.Name(), err, fs.Name())
		return errUsage
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				full()
				return err
			}
			return hint(err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if err := fs.Parse(append([]string{"--"}, pos...)); err != nil {
		return hint(err)
	}
	if fs.NArg() > maxPositional {
		return hint(fmt.Errorf("unexpected argument %q", fs.Arg(maxPositional)))
	}
	return nil
}
