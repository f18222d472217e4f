// Package bench measures glora's engine: SGEMM throughput and ViT training
// and inference speed, with peak memory. `glora bench` prints its results;
// bench/compare.sh runs the same shapes in PyTorch and prints the ratios.
package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/tensor"
	"github.com/glora/glora/train"
)

// Result is one benchmark's outcome; its JSON form is one line of
// `glora bench --json`.
type Result struct {
	Bench        string  `json:"bench"`
	Kernel       string  `json:"kernel"`
	Precision    string  `json:"precision"` // of the matrix products: f32 or bf16 (tensor.Precision)
	Threads      int     `json:"threads"`
	Batch        int     `json:"batch,omitempty"`
	Steps        int     `json:"steps,omitempty"`
	Seconds      float64 `json:"seconds"`
	GFLOPS       float64 `json:"gflops,omitempty"`
	ImgPerS      float64 `json:"img_per_s,omitempty"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
}

// String is the human table row.
func (r Result) String() string {
	rate := fmt.Sprintf("%8.1f GFLOP/s", r.GFLOPS)
	if r.ImgPerS > 0 {
		rate = fmt.Sprintf("%8.1f img/s  (%6.1f GFLOP/s)", r.ImgPerS, r.GFLOPS)
	}
	took := fmt.Sprintf("%5.2fs", r.Seconds)
	if r.Seconds < 0.1 { // one product (sgemm): its best time
		took = fmt.Sprintf("%5.2fms", r.Seconds*1e3)
	}
	return fmt.Sprintf("%-16s %s  %s  threads=%d  peak RSS %6.1f MiB  %s kernel=%s",
		r.Bench, rate, took, r.Threads, float64(r.PeakRSSBytes)/(1<<20), r.Precision, r.Kernel)
}

// Kernel names the matrix-product kernel at precision p.
func Kernel(p tensor.Precision) string {
	if p == tensor.BF16 {
		return tensor.BF16Kernel()
	}
	return tensor.SgemmKernel()
}

// SGEMM times C = A·B for n×n×n float32 matrices at precision p, best of
// iters runs.
func SGEMM(n, iters int, p tensor.Precision) Result {
	rng := rand.New(rand.NewPCG(1, 1))
	a, b, c := randSlice(rng, n*n), randSlice(rng, n*n), make([]float32, n*n)
	p.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n) // warm-up
	best := time.Duration(1 << 62)
	for i := 0; i < max(iters, 1); i++ {
		t0 := time.Now()
		p.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		best = min(best, time.Since(t0))
	}
	s := best.Seconds()
	return Result{Bench: "sgemm", Kernel: Kernel(p), Precision: p.String(), Threads: runtime.GOMAXPROCS(0),
		Seconds: s, GFLOPS: 2 * float64(n) * float64(n) * float64(n) / s / 1e9, PeakRSSBytes: PeakRSS()}
}

// ViTOptions configures the ViT benchmarks.
type ViTOptions struct {
	Config        vit.Config
	Name          string // bench name, e.g. "vit-train"
	Batch         int
	Steps, Warmup int
	Train         bool
	Precision     tensor.Precision // of the matrix products
	TraceGEMM     bool             // record the timed steps' matrix products by shape (tensor.GEMMShapes)
}

// ViT times training steps (train.Trainer.Step: forward, cross-entropy,
// backward, AdamW) or inference forward passes on random images and labels.
// Drop-path is off, as on the PyTorch side of bench/compare.sh.
func ViT(o ViTOptions) (Result, error) {
	step, err := vitStep(o)
	if err != nil {
		return Result{}, err
	}
	s, err := timeSteps(o.Warmup, o.Steps, o.TraceGEMM, step)
	if err != nil {
		return Result{}, err
	}
	flops := ViTFlops(o.Config, o.Batch)
	if o.Train {
		flops *= 3
	}
	return stepResult(o.Name, o.Precision, o.Batch, o.Steps, s, flops), nil
}

// vitStep builds ViT's model and returns its step i: a training step of
// every parameter, or a forward pass without gradients.
func vitStep(o ViTOptions) (func(i int) error, error) {
	rng := rand.New(rand.NewPCG(42, 42))
	c := o.Config
	c.DropPath = 0
	m, err := vit.New(c, rng)
	if err != nil {
		return nil, err
	}
	img := ag.NewVar(tensor.New(o.Batch, c.InChans, c.ImageSize, c.ImageSize), false)
	copy(img.Value.Data, randSlice(rng, img.Value.Numel()))
	labels := make([]int, o.Batch)
	for i := range labels {
		labels[i] = rng.IntN(max(c.NumClasses, 1))
	}
	tr := train.NewTrainer(m, optim.NewAdamW(optim.DecayGroups(m.Params(), 0.05, nil), 1e-4, 0.9, 0.999, 1e-8))
	tr.Precision = o.Precision
	tp := ag.NewTape()
	tp.NoGrad, tp.Precision = true, o.Precision
	return func(i int) error {
		if o.Train {
			_, err := tr.Step(i, img, labels)
			return err
		}
		tp.Reset()
		m.Forward(tp, img, nil)
		return tp.Err()
	}, nil
}

// timeSteps runs step(0 … warmup-1) untimed, then step(warmup …
// warmup+steps-1), and returns the seconds the timed steps took.
func timeSteps(warmup, steps int, trace bool, step func(i int) error) (float64, error) {
	for i := 0; i < warmup; i++ {
		if err := step(i); err != nil {
			return 0, err
		}
	}
	if trace {
		tensor.TraceGEMM(true)
		defer tensor.TraceGEMM(false)
	}
	t0 := time.Now()
	for i := 0; i < steps; i++ {
		if err := step(warmup + i); err != nil {
			return 0, err
		}
	}
	return time.Since(t0).Seconds(), nil
}

// stepResult is the Result of steps timed steps of batch images taking
// secs seconds, flops FLOPs a step, at precision p.
func stepResult(name string, p tensor.Precision, batch, steps int, secs, flops float64) Result {
	return Result{Bench: name, Kernel: Kernel(p), Precision: p.String(), Threads: runtime.GOMAXPROCS(0),
		Batch: batch, Steps: steps, Seconds: secs, ImgPerS: float64(batch*steps) / secs,
		GFLOPS: flops * float64(steps) / secs / 1e9, PeakRSSBytes: PeakRSS()}
}

// ViTFlops is the forward pass's multiply-add FLOPs (×2) for one batch:
// the patch embedding, the four Linears and the two attention matmuls of
// each block, and the head. It is the model's nominal count, what timm
// computes; glora's last block computes the cls token's output alone
// (vit.Block), which skips 65% (the shipped backbone) to 78% (ViT-Tiny)
// of that block's products, so GFLOP/s read from it is the rate of an
// implementation that does all the work, not the rate glora's kernels ran.
func ViTFlops(c vit.Config, batch int) float64 {
	T, D, H := float64(c.Tokens()), float64(c.Dim), float64(c.MLPDim())
	P := float64(c.PatchSize * c.PatchSize * c.InChans)
	perImg := 2 * (T - 1) * P * D                              // patch embedding
	perImg += float64(c.Depth) * 2 * T * (3*D*D + D*D + 2*D*H) // qkv, proj, fc1, fc2
	perImg += float64(c.Depth) * 2 * 2 * T * T * D             // QKᵀ and PV
	perImg += 2 * D * float64(c.NumClasses)
	return perImg * float64(batch)
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// PeakRSS is the process's peak resident set size in bytes (VmHWM from
// /proc/self/status), or 0 where that is not available.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
