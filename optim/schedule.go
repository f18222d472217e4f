package optim

import "math"

// Cosine is a learning-rate schedule: linear warm-up, then cosine decay.
// With W = WarmupSteps and N = TotalSteps, at step s (0-based, one per
// optimiser update):
//
//	s < W:      lr = WarmupStart + (Peak − WarmupStart)·s/W
//	W ≤ s < N:  lr = Min + ½(Peak − Min)·(1 + cos(π·(s − W)/(N − W)))
//	s ≥ N:      lr = Min
//
// This is timm's CosineLRScheduler with warmup_prefix=True, t_initial = N−W,
// warmup_t = W, warmup_lr_init = WarmupStart, lr_min = Min, one cycle, stepped
// per update. The curve is continuous: it reaches Peak at s = W.
type Cosine struct {
	Peak, Min, WarmupStart  float64
	WarmupSteps, TotalSteps int
}

// LR is the learning rate for step (see Cosine). Negative steps are treated
// as 0.
func (c Cosine) LR(step int) float64 {
	step = max(step, 0)
	w, n := c.WarmupSteps, c.TotalSteps
	if step < w {
		return c.WarmupStart + (c.Peak-c.WarmupStart)*float64(step)/float64(w)
	}
	if step >= n {
		return c.Min
	}
	p := float64(step-w) / float64(n-w)
	return c.Min + 0.5*(c.Peak-c.Min)*(1+math.Cos(math.Pi*p))
}
