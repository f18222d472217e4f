package bench

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
)

// PEFTOptions configures `glora bench peft-train`.
type PEFTOptions struct {
	Config        vit.Config
	Batch         int
	Steps, Warmup int // timed steps of each method in a round; untimed ones before the first round
	Rounds        int
	Rank          int
	Seed          uint64
	Precision     tensor.Precision
}

// PEFTResult is the full step, the LoRA step and the GLoRA supernet step
// timed in one process, and how much faster each PEFT step is: of a ViT
// (peft-train, images a second) or of a decoder (lm-peft-train, tokens a
// second).
type PEFTResult struct {
	Bench     string `json:"bench"`
	Model     string `json:"model"`
	Kernel    string `json:"kernel"`
	Precision string `json:"precision"`
	Threads   int    `json:"threads"`
	Batch     int    `json:"batch"`
	SeqLen    int    `json:"seq_len,omitempty"` // lm-peft-train: tokens per sequence
	Steps     int    `json:"steps"`             // timed steps of each method, over all rounds
	// Unit is the rates': "img/s" or "tok/s".
	Unit    string  `json:"unit"`
	Full    float64 `json:"full_per_s"`
	LoRA    float64 `json:"lora_per_s"`
	GLoRA   float64 `json:"glora_per_s"`
	LoRAvs  float64 `json:"lora_vs_full"`
	GLoRAvs float64 `json:"glora_vs_full"`
	Spread  float64 `json:"spread"` // the largest (max − min)/median of a method's step times
	// GFLOP per step, each method's mean over its timed steps, of its
	// matrix products (tensor.GEMMFlops): the arithmetic that the
	// speed-ups could at most reach if all else cost the same.
	FullGFLOP  float64 `json:"full_gflop_per_step"`
	LoRAGFLOP  float64 `json:"lora_gflop_per_step"`
	GLoRAGFLOP float64 `json:"glora_gflop_per_step"`
	// LoRABound and GLoRABound are FullGFLOP over LoRAGFLOP and GLoRAGFLOP:
	// the speed-ups if each step ran its products at the same rate and
	// nothing else.
	LoRABound  float64 `json:"lora_flop_bound"`
	GLoRABound float64 `json:"glora_flop_bound"`
	// PeakRSSBytes is the process's, all three models' buffers together:
	// each method's own peak is its single benchmark's (vit-train,
	// lora-train, glora-train; lm-train, lm-lora-train, lm-glora-train).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
}

func (r PEFTResult) String() string {
	steps := fmt.Sprintf("%d steps", r.Steps)
	if r.Steps == 1 {
		steps = "1 step"
	}
	batch := fmt.Sprintf("batch %d", r.Batch)
	if r.SeqLen > 0 {
		batch += fmt.Sprintf(" × %d tokens", r.SeqLen)
	}
	return fmt.Sprintf("%-16s %s, %s, %s each (median step): full %.1f %s, LoRA %.1f (%.2f× full; products' arithmetic %.2f×), "+
		"GLoRA supernet %.1f (%.2f× full; arithmetic %.2f×); GFLOP a step %.3g, %.3g, %.3g; step times spread ≤ %.0f%%  threads=%d %s kernel=%s",
		r.Bench, r.Model, batch, steps, r.Full, r.Unit, r.LoRA, r.LoRAvs, r.LoRABound, r.GLoRA, r.GLoRAvs, r.GLoRABound,
		r.FullGFLOP, r.LoRAGFLOP, r.GLoRAGFLOP, 100*r.Spread, r.Threads, r.Precision, r.Kernel)
}

// PEFTTrain times vit-train's full step, lora-train's LoRA step and
// glora-train's supernet step (the same models, images and structures) in
// one process (alternate).
func PEFTTrain(o PEFTOptions) (PEFTResult, error) {
	full, err := vitStep(ViTOptions{Name: "vit-train", Config: o.Config, Batch: o.Batch, Train: true, Precision: o.Precision})
	if err != nil {
		return PEFTResult{}, err
	}
	g := GLoRAOptions{Config: o.Config, Batch: o.Batch, Rank: o.Rank, Seed: o.Seed, Precision: o.Precision}
	g.LoRA = true
	lora, _, err := gloraTrainStep(g)
	if err != nil {
		return PEFTResult{}, err
	}
	g.LoRA = false
	sup, _, err := gloraTrainStep(g)
	if err != nil {
		return PEFTResult{}, err
	}
	r, err := alternate([3]func(int) error{full, lora, sup}, o.Warmup, o.Steps, o.Rounds, float64(o.Batch), "img/s")
	if err != nil {
		return PEFTResult{}, err
	}
	r.Bench, r.Batch = "peft-train", o.Batch
	r.Model = fmt.Sprintf("ViT %dx%d/%d dim %d depth %d", o.Config.ImageSize, o.Config.ImageSize, o.Config.PatchSize, o.Config.Dim, o.Config.Depth)
	r.Kernel, r.Precision = Kernel(o.Precision), o.Precision.String()
	return r, nil
}

// LMPEFTTrain is PEFTTrain for a decoder: lm-train's full step,
// lm-lora-train's LoRA step and lm-glora-train's supernet step (o.Method
// is not read) in one process, for rounds rounds of o.Steps steps each.
func LMPEFTTrain(o LMOptions, rounds int) (PEFTResult, error) {
	var steps [3]func(int) error
	for j, method := range []string{"full", "lora", "glora"} {
		o.Method = method
		step, _, err := lmStep(o)
		if err != nil {
			return PEFTResult{}, err
		}
		steps[j] = step
	}
	r, err := alternate(steps, o.Warmup, o.Steps, rounds, float64(o.Batch*o.SeqLen), "tok/s")
	if err != nil {
		return PEFTResult{}, err
	}
	c := o.Config
	r.Bench, r.Batch, r.SeqLen = "lm-peft-train", o.Batch, o.SeqLen
	r.Model = fmt.Sprintf("decoder dim %d, %d layers, vocabulary %d", c.Dim, c.Layers, c.VocabSize)
	r.Kernel, r.Precision = Kernel(o.Precision), o.Precision.String()
	return r, nil
}

// alternate times the full, LoRA and supernet steps (in that order in
// steps) in one process: warmup untimed steps of each, then rounds
// rounds, each running per steps of each method in turn, starting with
// another method each round, every step timed on its own. A method's
// rate is per (images or tokens a step) over its median step, so a shared
// machine's load, which comes and goes over seconds, falls on the three
// alike and a disturbed step does not count; the ratios are the PEFT
// steps' speed-ups over full fine-tuning. The timed steps' matrix
// products are counted (tensor.TraceGEMM, a lock and a clock reading a
// call, alike for the three) for each method's GFLOP a step and the
// speed-ups their arithmetic allows.
func alternate(steps [3]func(int) error, warmup, per, rounds int, work float64, unit string) (PEFTResult, error) {
	if per < 1 || rounds < 1 || warmup < 0 {
		return PEFTResult{}, fmt.Errorf("bench: %d steps a round, %d rounds and %d warm-up steps time nothing", per, rounds, warmup)
	}
	for _, step := range steps {
		for i := 0; i < warmup; i++ {
			if err := step(i); err != nil {
				return PEFTResult{}, err
			}
		}
	}
	var times [3][]float64
	var flops [3]float64
	if !tensor.TracingGEMM() { // a trace already on (GLORA_GEMM_SHAPES) keeps its record
		tensor.TraceGEMM(true)
		defer func() { // and leaves none
			tensor.TraceGEMM(true)
			tensor.TraceGEMM(false)
		}()
	}
	for r := 0; r < rounds; r++ {
		for k := range steps {
			j := (r + k) % len(steps)
			f0 := tensor.GEMMFlops()
			for s := 0; s < per; s++ {
				t0 := time.Now()
				if err := steps[j](warmup + r*per + s); err != nil {
					return PEFTResult{}, err
				}
				times[j] = append(times[j], time.Since(t0).Seconds())
			}
			flops[j] += tensor.GEMMFlops() - f0
		}
	}
	var rate, gflop [3]float64
	spread := 0.0
	for j, t := range times {
		slices.Sort(t)
		med := t[len(t)/2]
		if len(t)%2 == 0 {
			med = (t[len(t)/2-1] + t[len(t)/2]) / 2
		}
		rate[j] = work / med
		spread = max(spread, (t[len(t)-1]-t[0])/med)
		gflop[j] = flops[j] / float64(per*rounds) / 1e9
	}
	return PEFTResult{Threads: runtime.GOMAXPROCS(0), Steps: per * rounds, Unit: unit,
		Full: rate[0], LoRA: rate[1], GLoRA: rate[2], LoRAvs: rate[1] / rate[0], GLoRAvs: rate[2] / rate[0], Spread: spread,
		FullGFLOP: gflop[0], LoRAGFLOP: gflop[1], GLoRAGFLOP: gflop[2], LoRABound: gflop[0] / gflop[1], GLoRABound: gflop[0] / gflop[2],
		PeakRSSBytes: PeakRSS()}, nil
}
