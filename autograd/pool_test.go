package autograd

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// get takes the smallest free buffer of capacity n to n + n/4, hands out
// exactly n floats of it, and takes back only what it handed out.
func TestPoolBestFit(t *testing.T) {
	p := newPool()
	var first [][]float32
	for _, c := range []int{100, 300, 64} { // new buffers, 464 floats at the peak
		first = append(first, p.get(c))
	}
	for _, b := range first {
		p.release(b)
	}
	capOf := func(b []float32) int { return len(p.used[&b[0]].buf) }
	b := p.get(60) // 64 and 100 are larger; 64 fits
	if len(b) != 60 || cap(b) != 60 || capOf(b) != 64 {
		t.Fatalf("get(60): len %d cap %d from a buffer of %d, want 60, 60, 64", len(b), cap(b), capOf(b))
	}
	if b := p.get(200); capOf(b) != 200 { // 300 > 200 + 200/4: a new buffer
		t.Fatalf("get(200) took a buffer of %d, want a new one of 200", capOf(b))
	}
	if b := p.get(79); capOf(b) != 79 { // 100 > 79 + 79/4
		t.Fatalf("get(79) took a buffer of %d, want a new one of 79", capOf(b))
	}
	if b = p.get(80); capOf(b) != 100 {
		t.Fatalf("get(80) took a buffer of %d, want 100", capOf(b))
	}
	if len(p.sizes) != 1 || p.sizes[0] != 300 {
		t.Fatalf("free capacities %v, want [300]", p.sizes)
	}
	before := p.bytes()
	p.release(b[:30]) // a shorter slice of the same buffer: not what get handed out
	p.release(make([]float32, 80))
	if len(p.sizes) != 1 || p.bytes() != before {
		t.Fatalf("release took back a slice it did not hand out: free %v, bytes %d → %d", p.sizes, before, p.bytes())
	}
	p.release(b)
	if len(p.sizes) != 2 || p.sizes[0] != 100 || p.bytes() != before {
		t.Fatalf("after release: free %v, bytes %d → %d; want [100 300] and the same bytes", p.sizes, before, p.bytes())
	}
	if got := p.bytes(); got != (64+79+100+200+300)*4 {
		t.Fatalf("the pool holds %d bytes, want %d", got, (64+79+100+200+300)*4)
	}
	p.reset() // 743 floats held, over 1.5 × the peak of 464 (696), but all used in the step: kept
	if p.inUse() != 0 || p.bytes() != 743*4 {
		t.Fatalf("after reset: %d bytes in use, %d held; want 0, %d", p.inUse(), p.bytes(), 743*4)
	}
	for range idleSteps { // steps that take nothing: then the buffers are idle, and the largest goes
		p.reset()
	}
	if p.bytes() != 443*4 || !slices.Equal(p.sizes, []int{64, 79, 100, 200}) {
		t.Fatalf("after %d idle steps: %d bytes held, free capacities %v; want %d, [64 79 100 200]", idleSteps, p.bytes(), p.sizes, 443*4)
	}
}

// A step that holds few buffers at once but of many sizes in turn (a
// forward pass without gradients) keeps every one of them, however far
// the pool is over 1.5 times its peak: the next step takes the same.
func TestPoolKeepsWhatEveryStepUses(t *testing.T) {
	p := newPool()
	var first []*float32
	for step := range 10 {
		for i, n := range []int{100, 200, 300, 400} { // one at a time: a peak of 400, 1000 in all
			b := p.get(n)
			if step == 0 {
				first = append(first, &b[0])
			} else if &b[0] != first[i] {
				t.Fatalf("step %d: get(%d) got another buffer than in step 0", step, n)
			}
			p.release(b)
		}
		p.reset()
	}
	if p.bytes() != 1000*4 {
		t.Fatalf("the pool holds %d bytes, want %d", p.bytes(), 1000*4)
	}
}

// step runs a small training step on tp, its sizes scaled by n: a chain of
// ops and their backward pass.
func poolStep(t *testing.T, tp *Tape, rng *rand.Rand, n int) {
	t.Helper()
	tp.Reset()
	x := randVar(rng, true, n, 3)
	w := randVar(rng, true, 5, 3)
	h := tp.Linear(x, w, nil) // (n, 5)
	h = tp.Mul(h, h)
	h = tp.Scale(h, 0.5)
	if err := tp.Backward(tp.SumAll(h)); err != nil {
		t.Fatal(err)
	}
}

// With the same shapes every step the pool stops growing after the first.
// With shapes that change every step it stays under three times one step
// of the largest shapes (a pool of exact sizes kept buffers for every
// shape it had seen: 66 times here), and once the shapes shrink for
// recentSteps steps the large buffers go.
func TestPoolBoundedUnderChangingShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	tp := NewTape()
	poolStep(t, tp, rng, 100)
	first := tp.PoolBytes()
	for range 5 {
		poolStep(t, tp, rng, 100)
	}
	if got := tp.PoolBytes(); got != first {
		t.Fatalf("the same step, repeated: the pool grew from %d to %d bytes", first, got)
	}
	one := NewTape()
	poolStep(t, one, rng, 200)
	largest := one.PoolBytes()
	tp = NewTape()
	var most int64
	for range 200 {
		poolStep(t, tp, rng, 20+rng.IntN(181)) // 20 … 200 rows
		most = max(most, tp.PoolBytes())
	}
	if most > 3*largest {
		t.Fatalf("200 steps of 20 to 200 rows: the pool held up to %d bytes, over three times a 200-row step's %d", most, largest)
	}
	t.Logf("200 steps of 20 to 200 rows: the pool held up to %d bytes; a 200-row step alone, %d", most, largest)
	for range recentSteps + 1 {
		poolStep(t, tp, rng, 10)
	}
	if got, small := tp.PoolBytes(), largest/10; got > small {
		t.Fatalf("%d steps of 10 rows after them: the pool holds %d bytes, want at most %d", recentSteps+1, got, small)
	}
}
