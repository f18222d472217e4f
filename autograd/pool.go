package autograd

import "slices"

// pool is a tape's store of float32 buffers (slabs), cut into pieces: the
// pieces it has handed out since the last Reset (used) and the free ones
// it hands out next.
//
// A request for n floats gets, in this order:
//   - the free piece of the smallest length c with n ≤ c ≤ n + n/4, whole
//     (best fit);
//   - else the first n floats of the smallest free piece longer than that,
//     if it is at most cutMax·n long; the rest stays a free piece;
//   - else a new slab of exactly n.
//
// A piece that comes back merges with its free neighbours in the slab, so
// at each Reset every slab is one free piece again. Then, when the pool
// holds more than 1.5 times the most any of the last recentSteps steps
// held at once, it drops slabs that went unused for the last idleSteps
// steps, those unused longest first, until it does not (the collector
// takes them back).
//
// With the same shapes every step (a ViT at a fixed batch) best fit finds
// the exact pieces the step before left and the pool holds one step's
// peak. A step whose mix of shapes changes while it runs (a GLoRA
// supernet's backward pass needs more qkv-sized buffers than its forward
// pass, when MLP-sized ones are free) or from step to step (the
// supernet's structures; a batch of documents padded to its longest, an
// epoch's short last batch) cuts what it needs from larger free pieces
// instead of allocating. On ViT-Tiny's supernet steps a pool that never
// cut held 671 MiB against peaks of up to 619 (9% more); this one holds
// 638 (3%). A
// pool that kept every size it had seen grew a classifier run on short
// documents from 0.37 GB at 40 steps to 1.24 GB at 400 (0.24 GB now). A
// forward pass without gradients holds few buffers at once but many sizes
// in turn, far past 1.5 times its peak; as every step uses them all, none
// is dropped.
//
// The quarter keeps a request from taking whole a piece of another of the
// step's shapes (a ViT's differ by a third or more), which a later request
// would then allocate again: with twice the size as the bound and no
// cutting, ViT-Tiny's training step held 48 MiB more. cutMax keeps small
// requests from holding a large slab in use after the steps that needed
// it.
type pool struct {
	free  map[int][]*piece    // free pieces by length, the last one freed last
	sizes []int               // the lengths with a free piece, ascending
	used  map[*float32]*piece // pieces handed out since the last Reset, by first element
	slabs []*slab             // every buffer the pool holds
	step  int                 // Resets so far
	total int                 // floats in every slab
	held  int                 // floats in the pieces handed out now
	peak  int                 // the most held at once in this step
	peaks [recentSteps]int    // the peaks of the last steps, step mod recentSteps
}

// recentSteps is how many steps' peaks bound what the pool keeps, and
// idleSteps how many steps a slab must have gone unused before it can be
// dropped: a slab every step uses is never dropped, however far the pool
// is over the bound (a forward pass without gradients holds few buffers
// at once but of many sizes in turn).
const (
	recentSteps = 8
	idleSteps   = 2
)

// cutMax is how many times a request's length a free piece it is cut
// from may be at most: larger ones are left whole, so small requests do
// not keep a large slab in use after the steps that needed it.
const cutMax = 4

// slab is one buffer the pool allocated, cut into pieces in address order.
type slab struct {
	buf   []float32
	first *piece // the piece at offset 0
	last  int    // the step a piece of it was last handed out in
}

// piece is floats [off, off+n) of a slab, free or handed out (asked: the
// length handed out, n or less); prev and next are its neighbours.
type piece struct {
	s          *slab
	off, n     int
	asked      int
	free       bool
	prev, next *piece
}

func (pc *piece) data() []float32 { return pc.s.buf[pc.off : pc.off+pc.n] }

func newPool() pool {
	return pool{free: map[int][]*piece{}, used: map[*float32]*piece{}}
}

// get hands out n floats (contents undefined): a whole free piece of n to
// n + n/4 floats, the smallest there is; else the first n floats of the
// smallest larger free piece of at most cutMax·n, whose rest stays free;
// else a new slab of n.
// The slice it returns has capacity n, so nothing appends past it.
func (p *pool) get(n int) []float32 {
	if n == 0 {
		return []float32{}
	}
	var pc *piece
	if i, _ := slices.BinarySearch(p.sizes, n); i < len(p.sizes) && p.sizes[i] <= cutMax*n {
		pc = p.take(p.sizes[i])
		if pc.n > n+n/4 { // cut: the rest is a free piece of its own
			rest := &piece{s: pc.s, off: pc.off + n, n: pc.n - n, free: true, prev: pc, next: pc.next}
			if pc.next != nil {
				pc.next.prev = rest
			}
			pc.next, pc.n = rest, n
			p.addFree(rest)
		}
	} else {
		s := &slab{buf: make([]float32, n)}
		pc = &piece{s: s, n: n}
		s.first = pc
		p.slabs = append(p.slabs, s)
		p.total += n
	}
	pc.free, pc.asked, pc.s.last = false, n, p.step
	buf := pc.data()
	p.used[&buf[0]] = pc
	p.held += pc.n
	p.peak = max(p.peak, p.held)
	return buf[:n:n]
}

// take removes the last freed piece of length c from the free index.
func (p *pool) take(c int) *piece {
	fl := p.free[c]
	pc := fl[len(fl)-1]
	p.dropFree(pc)
	return pc
}

// addFree puts a free piece in the free index.
func (p *pool) addFree(pc *piece) {
	c := pc.n
	if len(p.free[c]) == 0 {
		i, _ := slices.BinarySearch(p.sizes, c)
		p.sizes = slices.Insert(p.sizes, i, c)
	}
	p.free[c] = append(p.free[c], pc)
}

// dropFree takes a piece out of the free index (searched from the end:
// take's is the last, and a neighbour that merges was mostly freed last).
func (p *pool) dropFree(pc *piece) {
	c := pc.n
	fl := p.free[c]
	i := len(fl) - 1
	for fl[i] != pc {
		i--
	}
	if fl = slices.Delete(fl, i, i+1); len(fl) > 0 {
		p.free[c] = fl
		return
	}
	p.forget(c)
}

// forget removes length c, whose last free piece is gone, from the index.
func (p *pool) forget(c int) {
	delete(p.free, c)
	j, _ := slices.BinarySearch(p.sizes, c)
	p.sizes = slices.Delete(p.sizes, j, j+1)
}

// put makes a handed-out piece free, merged with its free neighbours.
func (p *pool) put(pc *piece) {
	p.held -= pc.n
	pc.free = true
	if pr := pc.prev; pr != nil && pr.free {
		p.dropFree(pr)
		pr.absorb(pc)
		pc = pr
	}
	if nx := pc.next; nx != nil && nx.free {
		p.dropFree(nx)
		pc.absorb(nx)
	}
	p.addFree(pc)
}

// absorb extends pc over next, the piece after it, which leaves the slab.
func (pc *piece) absorb(next *piece) {
	pc.n += next.n
	pc.next = next.next
	if next.next != nil {
		next.next.prev = pc
	}
}

// release takes back one piece handed out since the last Reset: buf must
// be the slice get returned (its first element and length); anything else
// (a view, a sub-slice, a buffer from elsewhere) is ignored.
func (p *pool) release(buf []float32) {
	if len(buf) == 0 {
		return
	}
	if pc, ok := p.used[&buf[0]]; ok && pc.asked == len(buf) {
		delete(p.used, &buf[0])
		p.put(pc)
	}
}

// reset takes back every piece handed out (each slab is one free piece
// again), starts the next step, and, while the pool holds more than 1.5
// times the largest peak of the last recentSteps steps, drops slabs that
// no request has used for idleSteps steps, those unused longest first (and
// of those the largest).
func (p *pool) reset() {
	for k, pc := range p.used {
		p.put(pc)
		delete(p.used, k)
	}
	p.peaks[p.step%recentSteps] = p.peak
	p.peak = 0
	p.step++
	budget := slices.Max(p.peaks[:]) * 3 / 2
	if p.total <= budget {
		return
	}
	var stale []*slab
	for _, s := range p.slabs {
		if p.step-s.last > idleSteps {
			stale = append(stale, s)
		}
	}
	slices.SortFunc(stale, func(a, b *slab) int {
		if a.last != b.last {
			return a.last - b.last
		}
		return len(b.buf) - len(a.buf)
	})
	drop := map[*slab]bool{}
	for _, s := range stale {
		if p.total <= budget {
			break
		}
		drop[s] = true
		p.dropFree(s.first)
		p.total -= len(s.buf)
	}
	p.slabs = slices.DeleteFunc(p.slabs, func(s *slab) bool { return drop[s] })
}

// inUse is the memory of the pieces handed out and not taken back.
func (p *pool) inUse() int64 { return int64(p.held) * 4 }

// bytes is the memory the pool holds, handed out and free.
func (p *pool) bytes() int64 { return int64(p.total) * 4 }
