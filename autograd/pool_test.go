package autograd

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// get takes the smallest free piece of n to n + n/4 floats whole, else
// cuts n floats from the smallest larger one, else allocates; it hands out
// exactly n floats and takes back only what it handed out. Slabs that no
// step has used for idleSteps steps go once the pool is over 1.5 times the
// recent peaks, the longest unused and largest first.
func TestPoolBestFit(t *testing.T) {
	p := newPool()
	var first [][]float32
	for _, c := range []int{100, 300, 64} { // new slabs, 464 floats at the peak
		first = append(first, p.get(c))
	}
	for _, b := range first {
		p.release(b)
	}
	capOf := func(b []float32) int { return p.used[&b[0]].n }
	b := p.get(60) // 64 and 100 are larger; 64 fits whole
	if len(b) != 60 || cap(b) != 60 || capOf(b) != 64 {
		t.Fatalf("get(60): len %d cap %d from a piece of %d, want 60, 60, 64", len(b), cap(b), capOf(b))
	}
	if b = p.get(80); capOf(b) != 100 || &b[0] != &first[0][0] {
		t.Fatalf("get(80) took a piece of %d, want the slab of 100", capOf(b))
	}
	c := p.get(200) // 300 > 200 + 200/4: cut from it
	if capOf(c) != 200 || &c[0] != &first[1][0] || !slices.Equal(p.sizes, []int{100}) || p.bytes() != 464*4 {
		t.Fatalf("get(200): a piece of %d, free lengths %v, %d bytes; want 200 cut from the slab of 300, [100], %d",
			capOf(c), p.sizes, p.bytes(), 464*4)
	}
	before := p.bytes()
	p.release(b[:30]) // a shorter slice of the same piece: not what get handed out
	p.release(make([]float32, 80))
	if len(p.sizes) != 1 || p.bytes() != before || p.inUse() != (64+100+200)*4 {
		t.Fatalf("release took back a slice it did not hand out: free %v, bytes %d → %d, in use %d", p.sizes, before, p.bytes(), p.inUse())
	}
	p.reset() // every slab whole and free again
	if p.inUse() != 0 || p.bytes() != 464*4 || !slices.Equal(p.sizes, []int{64, 100, 300}) {
		t.Fatalf("after reset: %d bytes in use, %d held, free lengths %v; want 0, %d, [64 100 300]", p.inUse(), p.bytes(), p.sizes, 464*4)
	}
	p.release(p.get(400)) // a new slab: 864 floats, over 1.5 × the peak of 464
	p.reset()
	if p.bytes() != 864*4 {
		t.Fatalf("after a step over the bound: %d bytes held, want %d (nothing idle yet)", p.bytes(), 864*4)
	}
	p.reset() // the first three slabs idle for idleSteps steps: the largest goes
	if p.bytes() != 564*4 || !slices.Equal(p.sizes, []int{64, 100, 400}) || len(p.slabs) != 3 {
		t.Fatalf("after %d idle steps: %d bytes held, free lengths %v, %d slabs; want %d, [64 100 400], 3",
			idleSteps, p.bytes(), p.sizes, len(p.slabs), 564*4)
	}
}

// Pieces cut from one slab lie side by side and merge with their free
// neighbours when they come back, so the slab serves a request of its
// whole size again once all of it is free.
func TestPoolCutsAndMerges(t *testing.T) {
	p := newPool()
	whole := p.get(1000)
	p.release(whole)
	a := p.get(300) // [0, 300)
	b := p.get(500) // [300, 800): 700 left is over 500 + 500/4
	c := p.get(200) // [800, 1000): fits whole
	if &a[0] != &whole[0] || &b[0] != &whole[300] || &c[0] != &whole[800] || p.bytes() != 1000*4 || len(p.sizes) != 0 {
		t.Fatalf("pieces not cut side by side from the one slab: %d bytes held, free lengths %v", p.bytes(), p.sizes)
	}
	p.release(b)
	if !slices.Equal(p.sizes, []int{500}) {
		t.Fatalf("free lengths %v, want [500]", p.sizes)
	}
	p.release(a) // merges with b's
	if !slices.Equal(p.sizes, []int{800}) {
		t.Fatalf("free lengths %v, want [800]", p.sizes)
	}
	if d := p.get(700); &d[0] != &whole[0] { // 800 fits 700 whole
		t.Fatal("get(700) did not take the merged piece")
	} else {
		p.release(d)
	}
	p.release(c) // merges with the rest
	if !slices.Equal(p.sizes, []int{1000}) || p.inUse() != 0 {
		t.Fatalf("free lengths %v, %d bytes in use; want [1000], 0", p.sizes, p.inUse())
	}
	if d := p.get(1000); &d[0] != &whole[0] || p.bytes() != 1000*4 {
		t.Fatal("the slab, whole again, was not handed out whole")
	} else {
		p.release(d)
	}
	// a piece over cutMax times a request's length is left whole
	if d := p.get(1000/cutMax - 1); &d[0] == &whole[0] || p.bytes() != (1000+1000/cutMax-1)*4 {
		t.Fatalf("get(%d) was cut from a free piece of 1000", 1000/cutMax-1)
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

// Under random requests, returns and resets the pool never hands out
// overlapping floats: every piece handed out keeps the values written to
// it while others come and go. Its slabs are tiled exactly by their
// pieces, the free index lists exactly the free pieces, the floats held
// are those of the pieces handed out, and no two free neighbours are left
// unmerged.
func TestPoolRandomUseKeepsPiecesApart(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	p := newPool()
	type out struct {
		buf []float32
		tag float32
	}
	var live []out
	check := func(step int) {
		for _, o := range live {
			for _, v := range o.buf {
				if v != o.tag {
					t.Fatalf("op %d: a piece handed out was overwritten (%v, want %v)", step, v, o.tag)
				}
			}
		}
		held, total, free := 0, 0, 0
		for _, s := range p.slabs {
			total += len(s.buf)
			off := 0
			var prev *piece
			for pc := s.first; pc != nil; pc = pc.next {
				if pc.s != s || pc.off != off || pc.prev != prev || pc.n <= 0 {
					t.Fatalf("op %d: a slab of %d is not tiled by its pieces at offset %d", step, len(s.buf), off)
				}
				if pc.free {
					free++
					if prev != nil && prev.free {
						t.Fatalf("op %d: two free neighbours left apart", step)
					}
					if !slices.Contains(p.free[pc.n], pc) {
						t.Fatalf("op %d: a free piece of %d is missing from the index", step, pc.n)
					}
				} else {
					held += pc.n
				}
				off += pc.n
				prev = pc
			}
			if off != len(s.buf) {
				t.Fatalf("op %d: pieces cover %d of a slab of %d", step, off, len(s.buf))
			}
		}
		listed := 0
		for c, fl := range p.free {
			listed += len(fl)
			if _, ok := slices.BinarySearch(p.sizes, c); !ok || len(fl) == 0 {
				t.Fatalf("op %d: free lengths %v do not match the index", step, p.sizes)
			}
		}
		if held != p.held || total != p.total || listed != free || len(p.sizes) != len(p.free) || !slices.IsSorted(p.sizes) {
			t.Fatalf("op %d: held %d (pool says %d), total %d (%d), free pieces %d (listed %d)", step, held, p.held, total, p.total, free, listed)
		}
	}
	tag := float32(0)
	for step := range 20000 {
		switch r := rng.IntN(100); {
		case r < 55 || len(live) == 0:
			n := 1 + rng.IntN(1<<rng.IntN(12))
			tag++
			b := p.get(n)
			for i := range b {
				b[i] = tag
			}
			live = append(live, out{b, tag})
		case r < 97:
			i := rng.IntN(len(live))
			p.release(live[i].buf)
			live = slices.Delete(live, i, i+1)
		default:
			p.reset()
			live = live[:0]
		}
		if step%50 == 0 {
			check(step)
		}
	}
	check(20000)
}
