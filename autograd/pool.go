package autograd

import "slices"

// pool is a tape's store of float32 buffers: the ones it has handed out
// since the last Reset (used) and the free ones it hands out next.
//
// A request for n floats gets the free buffer of the smallest capacity c
// with n ≤ c ≤ n + n/4 (best fit), or a new one of exactly n when there is
// none; a buffer is never split and comes back whole. At each Reset, when
// the pool holds more than 1.5 times the most any of the last recentSteps
// steps held at once, it drops free buffers that went unused for the last
// idleSteps steps, those unused longest first, until it does not (the
// collector takes them back).
//
// With the same shapes every step (a ViT at a fixed batch) best fit finds
// the exact sizes the step before left and the pool holds one step's peak;
// a supernet step, whose structures need different mixes of sizes, keeps
// what the recent steps needed, each size at its most. With shapes that
// change from step to step (a batch of documents padded to its longest,
// an epoch's short last batch) a step takes the buffers of earlier steps
// a little larger than it needs, and what the last steps left unused goes
// once the pool is past the bound: a pool that kept every size it had seen
// grew a classifier run on short documents from 0.37 GB at 40 steps to
// 1.24 GB at 400 (0.33 GB now). A forward pass without gradients holds few
// buffers at once but many sizes in turn, far past 1.5 times its peak; as
// every step uses them all, none is dropped.
//
// The bound of a quarter keeps a request from taking the buffer of another
// of the step's shapes (a ViT's differ by a third or more), which a later
// request would then allocate again: with twice the size as the bound,
// ViT-Tiny's training step held 48 MiB more.
type pool struct {
	free  map[int][]freeBuf   // free buffers by capacity, the last one freed last
	sizes []int               // the capacities with a free buffer, ascending
	used  map[*float32]handed // buffers handed out since the last Reset, by first element
	step  int                 // Resets so far
	total int                 // floats in every buffer the pool holds
	held  int                 // floats in the buffers handed out now
	peak  int                 // the most held at once in this step
	peaks [recentSteps]int    // the peaks of the last steps, step mod recentSteps
}

// recentSteps is how many steps' peaks bound what the pool keeps, and
// idleSteps how many steps a free buffer must have gone unused before it
// can be dropped: a buffer every step uses is never dropped, however far
// the pool is over the bound (a forward pass without gradients holds few
// buffers at once but of many sizes in turn).
const (
	recentSteps = 8
	idleSteps   = 2
)

// handed is a buffer handed out: all of it, and the length asked for.
type handed struct {
	buf []float32
	n   int
}

// freeBuf is a free buffer and the step it was last handed out in.
type freeBuf struct {
	buf  []float32
	last int
}

func newPool() pool {
	return pool{free: map[int][]freeBuf{}, used: map[*float32]handed{}}
}

// get hands out n floats (contents undefined): a free buffer of capacity
// n to n + n/4, the smallest there is, or a new one. The slice it returns
// has capacity n, so nothing appends into the rest of a larger buffer.
func (p *pool) get(n int) []float32 {
	if n == 0 {
		return []float32{}
	}
	var buf []float32
	if i, _ := slices.BinarySearch(p.sizes, n); i < len(p.sizes) && p.sizes[i] <= n+n/4 {
		c := p.sizes[i]
		fl := p.free[c]
		buf = fl[len(fl)-1].buf
		fl[len(fl)-1] = freeBuf{}
		if fl = fl[:len(fl)-1]; len(fl) == 0 {
			p.sizes = slices.Delete(p.sizes, i, i+1)
			delete(p.free, c)
		} else {
			p.free[c] = fl
		}
	} else {
		buf = make([]float32, n)
		p.total += n
	}
	p.used[&buf[0]] = handed{buf, n}
	p.held += len(buf)
	p.peak = max(p.peak, p.held)
	return buf[:n:n]
}

// put makes a whole buffer free, handed out in this step.
func (p *pool) put(buf []float32) {
	c := len(buf)
	if len(p.free[c]) == 0 {
		i, _ := slices.BinarySearch(p.sizes, c)
		p.sizes = slices.Insert(p.sizes, i, c)
	}
	p.free[c] = append(p.free[c], freeBuf{buf, p.step})
	p.held -= c
}

// release takes back one buffer handed out since the last Reset: buf must
// be the slice get returned (its first element and length); anything else
// (a view, a sub-slice, a buffer from elsewhere) is ignored.
func (p *pool) release(buf []float32) {
	if len(buf) == 0 {
		return
	}
	if h, ok := p.used[&buf[0]]; ok && h.n == len(buf) {
		delete(p.used, &buf[0])
		p.put(h.buf)
	}
}

// reset takes back every buffer handed out, starts the next step, and,
// while the pool holds more than 1.5 times the largest peak of the last
// recentSteps steps, drops free buffers that no request has taken for
// idleSteps steps, those unused longest first (and of those the largest).
func (p *pool) reset() {
	for k, h := range p.used {
		p.put(h.buf)
		delete(p.used, k)
	}
	p.peaks[p.step%recentSteps] = p.peak
	p.peak = 0
	p.step++
	budget := slices.Max(p.peaks[:]) * 3 / 2
	if p.total <= budget {
		return
	}
	var stale []freeBuf
	for _, fl := range p.free {
		for _, f := range fl {
			if p.step-f.last > idleSteps {
				stale = append(stale, f)
			}
		}
	}
	slices.SortFunc(stale, func(a, b freeBuf) int {
		if a.last != b.last {
			return a.last - b.last
		}
		return len(b.buf) - len(a.buf)
	})
	drop := map[*float32]bool{}
	for _, f := range stale {
		if p.total <= budget {
			break
		}
		drop[&f.buf[0]] = true
		p.total -= len(f.buf)
	}
	p.sizes = slices.DeleteFunc(p.sizes, func(c int) bool {
		fl := slices.DeleteFunc(p.free[c], func(f freeBuf) bool { return drop[&f.buf[0]] })
		if len(fl) == 0 {
			delete(p.free, c)
			return true
		}
		p.free[c] = fl
		return false
	})
}

// inUse is the memory of the buffers handed out and not taken back.
func (p *pool) inUse() int64 { return int64(p.held) * 4 }

// bytes is the memory the pool holds, handed out and free.
func (p *pool) bytes() int64 { return int64(p.total) * 4 }
