package train

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	ag "github.com/glora/glora/autograd"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/optim"
	"github.com/glora/glora/tensor"
)

// SyntheticResult is what SyntheticDemo measured (glora demo --synthetic's
// --json line).
type SyntheticResult struct {
	Demo       string  `json:"demo"`
	Steps      int     `json:"steps"`
	FirstLoss  float64 `json:"first_loss"`
	LastLoss   float64 `json:"last_loss"`
	HeldOutAcc float64 `json:"held_out_accuracy"`
	HeldOutN   int     `json:"held_out_images"`
	Seconds    float64 `json:"seconds"`
	Parameters int     `json:"parameters"`
}

// SyntheticDemo trains a tiny ViT (vit-micro, 4 classes) for steps steps
// of batch images to tell which quadrant of a noisy 16×16 image holds a
// bright square, printing the loss falling to log, and scores it on 256
// held-out images: a check of the engine that needs no data at all.
func SyntheticDemo(steps, batch int, seed uint64, log io.Writer) (SyntheticResult, error) {
	cfg, _ := vit.Preset("vit-micro")
	cfg.NumClasses = 4
	rng := rand.New(rand.NewPCG(seed, 0))
	m, err := vit.New(cfg, rng)
	if err != nil {
		return SyntheticResult{}, err
	}
	sched := optim.Cosine{Peak: 3e-3, Min: 1e-4, WarmupStart: 1e-4, WarmupSteps: steps / 10, TotalSteps: steps}
	tr := NewTrainer(m, optim.NewAdamW(optim.DecayGroups(m.Params(), 0.05, nil), sched.Peak, 0.9, 0.999, 1e-8))
	tr.Seed, tr.LR = seed, sched.LR
	fmt.Fprintf(log, "demo: ViT %d×%d patch %d, dim %d, depth %d, %d parameters; 4 classes (which quadrant is bright)\n",
		cfg.ImageSize, cfg.ImageSize, cfg.PatchSize, cfg.Dim, cfg.Depth, m.Store.Count(false))
	t0 := time.Now()
	var first, last float64
	for step := 1; step <= steps; step++ {
		img, labels := quadrantBatch(rng, batch, cfg.ImageSize)
		r, err := tr.Step(step-1, img, labels)
		if err != nil {
			return SyntheticResult{}, err
		}
		if step == 1 {
			first = r.Loss
		}
		last = r.Loss
		if step == 1 || step%25 == 0 || step == steps {
			fmt.Fprintf(log, "step %4d  loss %.4f  lr %.2e\n", step, r.Loss, r.LR)
		}
	}
	// held-out accuracy
	img, labels := quadrantBatch(rand.New(rand.NewPCG(seed+1000, 0)), 256, cfg.ImageSize)
	tp := ag.NewTape()
	tp.NoGrad = true
	logits := m.Forward(tp, img, nil)
	if err := tp.Err(); err != nil {
		return SyntheticResult{}, err
	}
	correct := CountCorrect(logits.Value, labels)
	secs := time.Since(t0).Seconds()
	fmt.Fprintf(log, "loss %.4f → %.4f in %d steps (%.1fs); held-out accuracy %d/%d = %.1f%%\n",
		first, last, steps, secs, correct, len(labels), 100*float64(correct)/float64(len(labels)))
	return SyntheticResult{Demo: "synthetic", Steps: steps, FirstLoss: first, LastLoss: last, HeldOutAcc: float64(correct) / float64(len(labels)),
		HeldOutN: len(labels), Seconds: secs, Parameters: m.Store.Count(false)}, nil
}

// quadrantBatch makes n noisy size×size images; label q ∈ 0..3 is the
// quadrant holding a bright 4×4 square.
func quadrantBatch(rng *rand.Rand, n, size int) (*ag.Var, []int) {
	t := tensor.New(n, 1, size, size)
	labels := make([]int, n)
	half := size / 2
	for i := 0; i < n; i++ {
		q := rng.IntN(4)
		labels[i] = q
		img := t.Data[i*size*size : (i+1)*size*size]
		for j := range img {
			img[j] = float32(rng.NormFloat64() * 0.3)
		}
		y0 := (q/2)*half + rng.IntN(half-3)
		x0 := (q%2)*half + rng.IntN(half-3)
		for y := y0; y < y0+4; y++ {
			for x := x0; x < x0+4; x++ {
				img[y*size+x] += 2
			}
		}
	}
	return ag.NewVar(t, false), labels
}
