package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/glora/glora/tensor"
)

// precisionHelp is the --precision flag's text (pretrain, eval, bench,
// supernet, search, finetune, run).
const precisionHelp = "arithmetic of the matrix products (Linear, attention, patch embedding, forward and backward): f32, or bf16 (bfloat16 operands, float32 accumulation, as PyTorch's CPU autocast; weights, optimiser state, LayerNorm, softmax, the loss, merges and products of fewer than 16 rows or columns stay float32; native AMX or AVX512-BF16 kernels where the CPU has them). A run folder keeps it: --resume of run, supernet, finetune and the language-model training commands continues at the run's precision (another given again is refused); pretrain and search take it from each invocation"

// precisionFlag registers --precision (default f32).
func precisionFlag(fs *flag.FlagSet) *string { return fs.String("precision", "f32", precisionHelp) }

// applyPrecision reads the flag's value (the precision the command then
// passes to the library with its work) and, for bf16, tells log how it
// runs on this CPU.
func applyPrecision(v string, log io.Writer) (tensor.Precision, error) {
	p, err := tensor.ParsePrecision(v)
	if err != nil {
		return tensor.F32, fmt.Errorf("--precision: %w", err)
	}
	if name := os.Getenv("GLORA_BF16_KERNEL"); name != "" {
		if err := tensor.UseBF16Kernel(name); err != nil {
			return tensor.F32, fmt.Errorf("GLORA_BF16_KERNEL: %w", err)
		}
	}
	if p == tensor.BF16 {
		cpu := tensor.BF16CPU()
		kern := tensor.BF16Kernel()
		switch {
		case !strings.HasPrefix(kern, "emulated"):
			fmt.Fprintf(log, "precision bf16: bfloat16 operands, float32 accumulation, on the %s kernel (CPU: %s)\n", kern, cpu)
		case cpu.AVX512BF16 || cpu.AMXBF16:
			fmt.Fprintf(log, "precision bf16: bfloat16 operands, float32 accumulation, %s: the native kernels are turned off (GLORA_BF16_KERNEL); the numerics of bf16, not its speed\n", kern)
		default:
			fmt.Fprintf(log, "precision bf16: bfloat16 operands, float32 accumulation, %s: the numerics of bf16, not its speed (this CPU has no AVX512-BF16 or AMX; expect it slower than f32)\n", kern)
		}
	}
	return p, nil
}

// precisionArg is the flag a command that takes its precision from each
// invocation (pretrain, search) must be given again to continue at p:
// " --precision bf16", or "" for f32.
func precisionArg(p tensor.Precision) string {
	if p == tensor.F32 {
		return ""
	}
	return " --precision " + p.String()
}

// parseWithPrecision parses args (at most nargs positional arguments) and
// then reads the parsed --precision (precision is precisionFlag's result).
func parseWithPrecision(fs *flag.FlagSet, args []string, nargs int, precision *string, log io.Writer) (tensor.Precision, error) {
	if err := parseFlags(fs, args, nargs); err != nil {
		return tensor.F32, err
	}
	return applyPrecision(*precision, log)
}
